"""The churn-risk services the CLI, the API, the daily run and the rules call.

* :func:`ensure_history` — metric values (shipped and derived), health
  snapshots at the observation dates that lack them (timed apart from training);
* :func:`train` — observations, model choice, backtest, the final model saved
  with its evaluation (:mod:`kizuna.risk.training`);
* :func:`score` — every account's churn probability at its next renewal,
  expected renewal ARR, band and drivers as of a date, stored per date
  (:mod:`kizuna.risk.scores`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from kizuna.errors import KizunaError
from kizuna.health.snapshots import snapshot_path
from kizuna.lake.layout import LakeLayout
from kizuna.lake.reader import partition_dates
from kizuna.metrics import compute_metrics, load_definitions
from kizuna.metrics.definitions import MetricSet, parse_definitions
from kizuna.metrics.store import values_path
from kizuna.platform import Platform
from kizuna.risk.derived import suggest_metrics
from kizuna.risk.features import derived_home
from kizuna.risk.model import CATEGORIES, ChurnModel
from kizuna.risk.registry import TrainedModel, save_model
from kizuna.risk.training import (
    Dataset,
    RiskConfig,
    backtest_dates,
    build_dataset,
    capped,
    check_trainable,
    choose_model,
    feature_deciles,
    grade,
    observation_dates,
    run_backtest,
)

Progress = Callable[[str, int, int], None]


def _quiet(what: str, done: int, total: int) -> None:
    return None


@dataclass
class History:
    """What :func:`ensure_history` computed, and how long it took (seconds)."""

    dates: list[date]
    metric_dates: int = 0
    derived_dates: int = 0
    health_dates: int = 0
    derived: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    definitions: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def first_event_date(platform: Platform) -> date | None:
    days = partition_dates(LakeLayout(platform.settings.lake_dir))
    return days[0] if days else None


def derived_set(definitions: list[dict[str, Any]]) -> MetricSet:
    return (
        parse_definitions({"metrics": definitions}, "derived metrics")
        if definitions
        else MetricSet(metrics=[])
    )


def _has_columns(path: Any, names: list[str]) -> bool:
    import pyarrow.parquet as pq

    if not path.exists():
        return False
    return set(names) <= set(pq.read_schema(path).names)


def compute_derived(platform: Platform, dates: list[date], metrics: MetricSet) -> int:
    """Derived metric values at the ``dates`` that lack them; returns the dates computed."""
    home = derived_home(platform.settings.home)
    missing = [d for d in dates if not _has_columns(values_path(home, d), metrics.names)]
    if missing and metrics.metrics:
        compute_metrics(platform, missing, metrics, values_home=home)
    return len(missing) if metrics.metrics else 0


def ensure_history(
    platform: Platform, dates: list[date], cap: int = 30, progress: Progress = _quiet
) -> History:
    """Metric values, derived metric values and health snapshots at ``dates`` where missing."""
    from kizuna.health import compute_health

    started = time.perf_counter()
    history = History(dates=dates)
    home = platform.settings.home
    base = load_definitions(None)
    missing = [d for d in dates if not values_path(home, d).exists()]
    if missing:
        progress("metrics", 0, 1)
        compute_metrics(platform, missing, base)
        history.metric_dates = len(missing)
    suggestion = suggest_metrics(platform.settings.lake_dir, base, cap)
    history.derived = [m.name for m in suggestion.metrics.metrics]
    history.left_out = suggestion.left_out
    history.definitions = [
        m.model_dump(exclude_none=True, by_alias=True, mode="json")
        for m in suggestion.metrics.metrics
    ]
    if suggestion.metrics.metrics:
        progress("derived metrics", 0, 1)
        history.derived_dates = compute_derived(platform, dates, suggestion.metrics)
    for i, d in enumerate(dates):
        if not snapshot_path(platform.settings, d).exists():
            try:
                compute_health(platform, d)
                history.health_dates += 1
            except KizunaError as exc:  # a scorecard problem must not block risk
                history.notes.append(f"health on {d}: {exc}")
        progress("health", i + 1, len(dates))
    history.seconds = time.perf_counter() - started
    history.notes.append(
        "derived metrics for "
        + (", ".join(suggestion.derived_for) or "no event types")
        + (
            f"; left out (beyond the cap of {cap}): {', '.join(suggestion.left_out)}"
            if suggestion.left_out
            else ""
        )
    )
    return history


@dataclass
class TrainResult:
    """What ``kizuna risk train`` reports."""

    version: str
    as_of: date
    model: str
    params: dict[str, Any]
    rows: int
    labelled_rows: int
    churn_rate: float
    evaluation: dict[str, Any]
    history_seconds: float
    train_seconds: float
    notes: list[str]


def _importance(model: ChurnModel, frame: pd.DataFrame, limit: int = 20000) -> list[dict[str, Any]]:
    sample = frame.iloc[: min(limit, len(frame))]
    contrib, keys = model.contributions(sample)
    mean_abs = np.abs(contrib).mean(axis=0) if len(sample) else np.zeros(len(keys))
    members = {g[0]: g for g in model.prep.groups}
    order = np.argsort(-mean_abs)
    return [
        {
            "feature": keys[j],
            "members": members.get(keys[j], [keys[j]]),
            "mean_abs_contribution": float(mean_abs[j]),
        }
        for j in order
    ]


def train(
    platform: Platform,
    as_of: date | None = None,
    config: RiskConfig | None = None,
    progress: Progress = _quiet,
    history: History | None = None,
) -> TrainResult:
    """Train, backtest and save a churn model as of ``as_of`` (default: today)."""
    config = config or RiskConfig()
    as_of = as_of or platform.today()
    dates = observation_dates(first_event_date(platform), as_of)
    if history is None:
        history = ensure_history(platform, dates, config.derived_cap, progress)
    started = time.perf_counter()
    data = build_dataset(platform, dates, config, progress)
    known = check_trainable(data, as_of, config)
    notes = list(history.notes)
    held_out = backtest_dates(data, as_of, config)
    y = data.meta["churned"].to_numpy()
    evaluation: dict[str, Any] = {"lead_days": config.lead_days, "window_days": config.window_days}
    from kizuna.risk.model import Calibrator

    calibrator = Calibrator()
    if held_out:
        choice, candidates = choose_model(data, held_out[0], config)
        bt = run_backtest(data, held_out, choice, config)
        calibrator = Calibrator().fit(bt.raw, bt.y)
        evaluation["backtest"] = grade(bt, calibrator, config.n_boot)
    else:
        choice, candidates = choose_model(data, as_of, config)
        notes.append(
            "no held-out period with enough renewals at the lead time: the model is not "
            "backtested and its probabilities are not calibrated"
        )
        evaluation["backtest"] = None
    evaluation["candidates"] = candidates
    learn = capped(known, config.max_train_rows)
    churn = ChurnModel(*choice).fit(data.features[learn], y[learn])
    churn.calibrator = calibrator
    contracted = data.meta["contracted"].to_numpy()
    contraction: ChurnModel | None = None
    depth = 0.0
    if int(contracted[known].sum()) >= 5:
        contraction = ChurnModel("logistic", {"C": 0.5}).fit(
            data.features[learn], contracted[learn]
        )
        contraction.calibrator = Calibrator().fit(
            contraction.raw_proba(data.features[learn]), contracted[learn]
        )
        rows = known & contracted
        before = data.meta["arr_before"].to_numpy()[rows]
        after = data.meta["arr_after"].to_numpy()[rows]
        depth = float(np.mean(1 - after / np.where(before > 0, before, 1)))
    importance = _importance(churn, data.features[learn])
    evaluation["importance"] = importance[:15]
    evaluation["deciles"] = feature_deciles(
        data, known, [i["feature"] for i in importance if i["feature"] not in CATEGORIES][:6]
    )
    evaluation["contraction"] = {
        "threshold": config.contraction_threshold,
        "rate": float(contracted[known].mean()),
        "mean_depth": depth,
    }
    train_seconds = time.perf_counter() - started
    meta = _meta(data, known, as_of, config, choice, evaluation, history, churn)
    meta["contraction_depth"] = depth
    folder = save_model(
        platform.settings, TrainedModel(churn=churn, contraction=contraction, meta=meta), as_of
    )
    return TrainResult(
        version=folder.name,
        as_of=as_of,
        model=choice[0],
        params=choice[1],
        rows=len(data.meta),
        labelled_rows=int(known.sum()),
        churn_rate=float(y[known].mean()),
        evaluation=evaluation,
        history_seconds=round(history.seconds, 2),
        train_seconds=round(train_seconds, 2),
        notes=notes,
    )


def _meta(
    data: Dataset,
    known: np.ndarray,
    as_of: date,
    config: RiskConfig,
    choice: tuple[str, dict[str, Any]],
    evaluation: dict[str, Any],
    history: History,
    churn: ChurnModel,
) -> dict[str, Any]:
    from dataclasses import asdict

    obs = data.meta["obs_date"]
    labelled = data.meta.loc[known, "obs_date"]
    derived = history.definitions
    return {
        "as_of": as_of.isoformat(),
        "training_window": {
            "first_observation": obs.min().date().isoformat(),
            "last_observation": obs.max().date().isoformat(),
            "last_labelled_observation": labelled.max().date().isoformat(),
            "observations": len(data.meta),
            "labelled": int(known.sum()),
        },
        "config": asdict(config),
        "model": choice[0],
        "params": choice[1],
        "features": list(churn.prep.numeric) + list(churn.prep.levels),
        "groups": churn.prep.groups,
        "derived_metrics": derived,
        "evaluation": evaluation,
    }
