"""Training: observations, time-based model choice, a rolling backtest, the final model.

1. **Observations** at every month end ``t`` from the first month of events
   (at least 28 days in) up to the training date: each account with ARR on
   ``t`` whose next renewal is at most ``horizon_days`` away, its features as
   known on ``t`` (:mod:`kizuna.risk.features`) and its labels
   (:mod:`kizuna.risk.book`). Rows whose label is not known on the training
   date (renewal + grace after it) are only scored, never learnt from.
2. **Backtest** (the held-out period): the last ``backtest_periods`` month ends
   with enough renewals at the lead window ``[lead_days, lead_days +
   window_days)``. For each such date ``d`` a model is trained only on rows
   whose label was known on ``d`` and predicts the rows of ``d`` in the lead
   window: what the model would have said then, graded now. The health
   score alone is graded on the same rows.
3. **Model choice** by time-based cross-validation over the month ends
   before the backtest (train on what was known on the fold's date, validate on
   its rows; never a random split): regularised logistic regression or LightGBM,
   by mean AUC.
4. **Calibration**: Platt scaling on the backtest's out-of-time predictions.
5. The **final model** learns from every labelled row; its file records the
   training window, the features and the evaluation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from kizuna.errors import InvalidInput, Problem
from kizuna.platform import Platform
from kizuna.risk.book import ContractBook, label_contraction, month_ends
from kizuna.risk.evaluation import bootstrap, decile_rates, summary
from kizuna.risk.features import FeatureSource
from kizuna.risk.model import CATEGORIES, Calibrator, ChurnModel

CANDIDATES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("logistic", {"C": 0.05}),
    ("logistic", {"C": 0.5}),
    ("lightgbm", {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 15}),
)
META_COLUMNS = (
    "account_id",
    "obs_date",
    "lead",
    "renewal_date",
    "known_on",
    "arr_up",
    "arr_before",
    "arr_after",
    "churned",
    "contracted",
)


@dataclass(frozen=True)
class RiskConfig:
    """What the model predicts and how it is graded (days; threshold as a fraction)."""

    lead_days: int = 90
    window_days: int = 30
    grace_days: int = 30
    contraction_threshold: float = 0.2
    horizon_days: int = 366
    backtest_periods: int = 3
    cv_folds: int = 3
    min_rows: int = 30
    n_boot: int = 1000
    derived_cap: int = 30
    #: Most rows one fit learns from: a fixed random subset beyond it (bounds time at 100k
    #: accounts × many month ends; the backtest and the evaluation always use every row).
    max_train_rows: int = 150_000


@dataclass
class Dataset:
    """Observation rows: meta columns (:data:`META_COLUMNS`) and the feature frame."""

    meta: pd.DataFrame
    features: pd.DataFrame
    seconds: float = 0.0

    def rows(self, mask: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
        return self.meta[mask], self.features[mask]


def observation_dates(first_event: date | None, as_of: date) -> list[date]:
    """Month ends from the first full 28 days of events up to ``as_of``."""
    if first_event is None:
        return []
    return month_ends(first_event + timedelta(days=27), as_of)


def build_dataset(
    platform: Platform,
    dates: list[date],
    config: RiskConfig,
    progress: Callable[[str, int, int], None] = lambda what, done, total: None,
) -> Dataset:
    """Observations with features and labels at ``dates`` (see the module docstring)."""
    started = time.perf_counter()
    book = ContractBook.load(platform)
    source = FeatureSource(platform)
    metas, frames = [], []
    for i, t in enumerate(dates):
        observed = book.as_of(t, config.grace_days)
        observed = observed[observed["days_to_renewal"] <= config.horizon_days]
        frames.append(source.on(t, observed).reset_index(drop=True))
        meta = observed[["account_id", "renewal_date", "known_on", "arr_up", "arr_before"]].copy()
        meta["arr_after"] = observed["arr_after"].to_numpy()
        meta["churned"] = observed["churned"].to_numpy()
        meta["contracted"] = label_contraction(observed, config.contraction_threshold).to_numpy()
        meta["obs_date"] = pd.Timestamp(t)
        meta["lead"] = observed["days_to_renewal"].to_numpy()
        metas.append(meta[list(META_COLUMNS)].reset_index(drop=True))
        progress("features", i + 1, len(dates))
    if not metas:
        return Dataset(pd.DataFrame(columns=list(META_COLUMNS)), pd.DataFrame())
    features = pd.concat(frames, ignore_index=True)
    for cat in CATEGORIES:
        if cat in features.columns:
            features[cat] = features[cat].astype(object)
    return Dataset(
        meta=pd.concat(metas, ignore_index=True),
        features=features,
        seconds=time.perf_counter() - started,
    )


def _both_classes(y: np.ndarray, minimum: int = 5) -> bool:
    return int(y.sum()) >= minimum and int((~y).sum()) >= minimum


@dataclass
class Backtest:
    """Out-of-time predictions of the held-out period, with the health score beside them."""

    dates: list[date]
    account_id: np.ndarray
    obs_date: np.ndarray
    y: np.ndarray
    raw: np.ndarray
    health: np.ndarray
    contracted: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))


def _train_rows(meta: pd.DataFrame, d: pd.Timestamp) -> np.ndarray:
    return ((meta["obs_date"] < d) & (meta["known_on"] <= d)).to_numpy()


def capped(mask: np.ndarray, limit: int, seed: int = 0) -> np.ndarray:
    """``mask`` with at most ``limit`` rows kept, a fixed random subset (same seed, same rows)."""
    rows = np.flatnonzero(mask)
    if len(rows) <= limit:
        return mask
    keep = np.random.default_rng(seed).choice(rows, size=limit, replace=False)
    out = np.zeros(len(mask), dtype=bool)
    out[keep] = True
    return out


def _lead_rows(meta: pd.DataFrame, config: RiskConfig) -> np.ndarray:
    lead = meta["lead"].to_numpy()
    return (lead >= config.lead_days) & (lead < config.lead_days + config.window_days)


def backtest_dates(data: Dataset, as_of: date, config: RiskConfig) -> list[date]:
    """The held-out month ends: the latest with enough known renewals in the lead window
    and enough earlier rows to learn from."""
    meta = data.meta
    known = (meta["known_on"] <= pd.Timestamp(as_of)).to_numpy()
    in_window = known & _lead_rows(meta, config)
    chosen: list[date] = []
    for d in sorted(meta.loc[in_window, "obs_date"].unique(), reverse=True):
        stamp = pd.Timestamp(d)
        rows = in_window & (meta["obs_date"] == stamp).to_numpy()
        train = _train_rows(meta, stamp)
        if rows.sum() < config.min_rows or train.sum() < config.min_rows:
            continue
        if not _both_classes(meta["churned"].to_numpy()[train], 3):
            continue
        chosen.append(stamp.date())
        if len(chosen) == config.backtest_periods:
            break
    return sorted(chosen)


def choose_model(
    data: Dataset, before: date, config: RiskConfig
) -> tuple[tuple[str, dict[str, Any]], list[dict[str, Any]]]:
    """The candidate with the best mean out-of-time AUC on month ends before ``before``."""
    from kizuna.risk.evaluation import auc

    meta = data.meta
    limit = pd.Timestamp(before)
    y_all = meta["churned"].to_numpy()
    known = (meta["known_on"] <= limit).to_numpy()
    folds = []
    for d in sorted(meta.loc[meta["obs_date"] < limit, "obs_date"].unique(), reverse=True):
        stamp = pd.Timestamp(d)
        train = _train_rows(meta, stamp)
        valid = known & (meta["obs_date"] == stamp).to_numpy()
        if (
            train.sum() >= config.min_rows
            and _both_classes(y_all[train])
            and _both_classes(y_all[valid], 3)
        ):
            folds.append((stamp, train, valid))
        if len(folds) == config.cv_folds:
            break
    results: list[dict[str, Any]] = []
    for kind, params in CANDIDATES:
        scores = []
        for _, train, valid in folds:
            train = capped(train, config.max_train_rows)
            model = ChurnModel(kind, params).fit(data.features[train], y_all[train])
            value = auc(y_all[valid], model.raw_proba(data.features[valid]))
            if value is not None:
                scores.append(value)
        results.append(
            {
                "kind": kind,
                "params": params,
                "folds": [f[0].date() for f in folds],
                "auc": float(np.mean(scores)) if scores else None,
            }
        )
    scored = [r for r in results if r["auc"] is not None]
    if not scored:  # too little history to compare: the interpretable baseline
        return CANDIDATES[0], results
    best = max(scored, key=lambda r: r["auc"])
    return (best["kind"], best["params"]), results


def run_backtest(
    data: Dataset, dates: list[date], choice: tuple[str, dict[str, Any]], config: RiskConfig
) -> Backtest:
    """Train on what was known on each held-out date; predict its lead-window rows."""
    meta = data.meta
    y_all = meta["churned"].to_numpy()
    window = _lead_rows(meta, config)
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("account_id", "obs_date", "y", "raw", "health", "contracted")
    }
    for d in dates:
        stamp = pd.Timestamp(d)
        train = capped(_train_rows(meta, stamp), config.max_train_rows)
        test = window & (meta["obs_date"] == stamp).to_numpy()
        model = ChurnModel(*choice).fit(data.features[train], y_all[train])
        parts["raw"].append(model.raw_proba(data.features[test]))
        parts["y"].append(y_all[test])
        parts["health"].append(data.features.loc[test, "health_score"].to_numpy(dtype=float))
        parts["account_id"].append(meta.loc[test, "account_id"].to_numpy())
        parts["obs_date"].append(meta.loc[test, "obs_date"].to_numpy())
        parts["contracted"].append(meta.loc[test, "contracted"].to_numpy())
    joined = {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}
    return Backtest(
        dates=dates,
        account_id=joined["account_id"],
        obs_date=joined["obs_date"],
        y=joined["y"].astype(bool),
        raw=joined["raw"].astype(float),
        health=joined["health"].astype(float),
        contracted=joined["contracted"].astype(bool),
    )


def grade(bt: Backtest, calibrator: Calibrator, n_boot: int) -> dict[str, Any]:
    """The evaluation of a backtest: the model's summary, health alone beside it."""
    p = calibrator(bt.raw)
    out = summary(bt.y, p, n_boot=n_boot)
    has_health = ~np.isnan(bt.health)
    compared = bootstrap(
        bt.y[has_health],
        {"model": p[has_health], "health": -bt.health[has_health]},
        n_boot=n_boot,
    )
    out["health"] = {
        "n": int(has_health.sum()),
        "auc": compared["health"]["auc"],
        "auc_ci": [compared["health"]["ci_low"], compared["health"]["ci_high"]],
        "top_decile_lift": None,
    }
    if has_health.any():
        from kizuna.risk.evaluation import top_decile_lift

        out["health"]["top_decile_lift"] = top_decile_lift(bt.y[has_health], -bt.health[has_health])
    out["model_on_health_rows"] = {
        "auc": compared["model"]["auc"],
        "auc_ci": [compared["model"]["ci_low"], compared["model"]["ci_high"]],
    }
    out["difference"] = compared.get("difference")
    out["dates"] = [d.isoformat() for d in bt.dates]
    return out


def feature_deciles(
    data: Dataset, mask: np.ndarray, features: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Churn rate by decile of each named feature over the rows in ``mask``."""
    y = data.meta["churned"].to_numpy()[mask]
    return {
        name: decile_rates(data.features.loc[mask, name].to_numpy(dtype=float), y)
        for name in features
        if name in data.features.columns and name not in CATEGORIES
    }


def check_trainable(data: Dataset, as_of: date, config: RiskConfig) -> np.ndarray:
    """Rows with a known label; raise :class:`InvalidInput` when too few to learn from."""
    known = (data.meta["known_on"] <= pd.Timestamp(as_of)).to_numpy()
    y = data.meta["churned"].to_numpy()[known]
    problems = []
    if known.sum() < config.min_rows:
        problems.append(
            Problem(
                f"{int(known.sum())} renewals with a known outcome by {as_of}; need at least "
                f"{config.min_rows} (load more contract history or train at a later --as-of)",
                field="as_of",
            )
        )
    elif not _both_classes(y, 3):
        problems.append(
            Problem(
                f"the known renewals hold {int(y.sum())} churned and {int((~y).sum())} kept "
                "accounts; need at least 3 of each",
                field="as_of",
            )
        )
    if problems:
        raise InvalidInput("not enough renewal history to train a churn model", problems)
    return known
