"""Scoring every account as of a date, and the stored daily scores with their history.

Per account with ARR on the date: the calibrated probability of churn at its
next renewal, the ARR up for renewal then, the expected renewal ARR
(``arr_up × (1 − p) × (1 − p_contraction × mean contraction depth)``), the
risk band (:data:`kizuna.risk.vocab.BANDS`) and its top five drivers — the
feature groups that move its prediction most, with the direction (raises or
lowers risk) and how its value compares with the book (low / high / missing).

Layout (like health snapshots, derived data beside the metric values, not in
the store): ``<home>/risk/scores/as_of=YYYY-MM-DD/scores.parquet``, one row per
account, replaced atomically when the date is scored again.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kizuna.lake.layout import atomic_write_parquet
from kizuna.platform import Platform
from kizuna.risk.book import ContractBook
from kizuna.risk.features import FeatureSource
from kizuna.risk.model import CATEGORIES
from kizuna.risk.registry import TrainedModel, check_features, load_model
from kizuna.risk.vocab import BANDS
from kizuna.settings import Settings

TOP_DRIVERS = 5
DRIVER_TYPE = pa.struct(
    [
        pa.field("feature", pa.string()),
        pa.field("contribution", pa.float64()),
        pa.field("value", pa.float64()),
        pa.field("category", pa.string()),
        pa.field("level", pa.string()),
    ]
)
SCORES_SCHEMA = pa.schema(
    [
        pa.field("account_id", pa.string()),
        pa.field("as_of", pa.date32()),
        pa.field("model_version", pa.string()),
        pa.field("probability", pa.float64()),
        pa.field("band", pa.string()),
        pa.field("contraction_probability", pa.float64()),
        pa.field("arr", pa.float64()),
        pa.field("arr_up", pa.float64()),
        pa.field("renewal_date", pa.date32()),
        pa.field("days_to_renewal", pa.int32()),
        pa.field("expected_renewal_arr", pa.float64()),
        pa.field("health_score", pa.float64()),
        pa.field("drivers", pa.list_(DRIVER_TYPE)),
    ]
)
_DIR = re.compile(r"^as_of=(\d{4}-\d{2}-\d{2})$")


def scores_dir(settings: Settings) -> Path:
    return settings.home / "risk" / "scores"


def scores_path(settings: Settings, as_of: date) -> Path:
    return scores_dir(settings) / f"as_of={as_of.isoformat()}" / "scores.parquet"


def score_dates(settings: Settings) -> list[date]:
    """Dates with stored scores, oldest first."""
    root = scores_dir(settings)
    if not root.exists():
        return []
    found = []
    for child in root.iterdir():
        match = _DIR.match(child.name)
        if match and (child / "scores.parquet").exists():
            found.append(date.fromisoformat(match.group(1)))
    return sorted(found)


@dataclass
class ScoreRun:
    """What one ``kizuna risk score`` did."""

    as_of: date
    model_version: str
    accounts: int
    bands: dict[str, int]
    arr_up: float
    expected_renewal_arr: float
    arr_at_risk: float
    seconds: float
    path: str


def band_array(p: np.ndarray) -> np.ndarray:
    out = np.full(len(p), "low", dtype=object)
    for band, floor in reversed(BANDS):
        out[p >= floor] = band
    return out


def _drivers(model: TrainedModel, frame: pd.DataFrame) -> pa.Array:
    """Each row's top drivers as a list<struct> column (vectorised)."""
    churn = model.churn
    contrib, keys = churn.contributions(frame)
    n, g = contrib.shape
    k = min(TOP_DRIVERS, g)
    top = np.argsort(-np.abs(contrib), axis=1, kind="stable")[:, :k]
    rows = np.repeat(np.arange(n), k)
    cols = top.ravel()
    values = np.full((n, g), np.nan)
    level = np.full((n, g), "is", dtype=object)
    category = np.full((n, g), None, dtype=object)
    for j, key in enumerate(keys):
        if key in CATEGORIES:
            category[:, j] = frame[key].astype(object).where(frame[key].notna(), None).to_numpy()
            continue
        raw = frame[key].to_numpy(dtype=float) if key in frame.columns else np.full(n, np.nan)
        values[:, j] = raw
        mean = churn.prep.mean.get(key, 0.0)
        compared = np.sign(raw) * np.log1p(np.abs(raw)) if key in churn.prep.logged else raw
        level[:, j] = np.where(np.isnan(raw), "missing", np.where(compared < mean, "low", "high"))
    struct = pa.StructArray.from_arrays(
        [
            pa.array(np.asarray(keys, dtype=object)[cols], pa.string()),
            pa.array(contrib[rows, cols], pa.float64()),
            pa.array(values[rows, cols], pa.float64(), from_pandas=True),
            pa.array(category[rows, cols], pa.string()),
            pa.array(level[rows, cols], pa.string()),
        ],
        fields=list(DRIVER_TYPE),
    )
    return pa.ListArray.from_arrays(pa.array(np.arange(0, n * k + 1, k), pa.int32()), struct)


def ensure_derived_for(platform: Platform, model: TrainedModel, as_of: date) -> None:
    """Compute the model's derived metrics for ``as_of`` when they are not stored yet."""
    from kizuna.risk.service import compute_derived, derived_set

    definitions = model.meta.get("derived_metrics") or []
    if definitions:
        compute_derived(platform, [as_of], derived_set(definitions))


def score(
    platform: Platform, as_of: date | None = None, model: TrainedModel | None = None
) -> ScoreRun:
    """Score every account with ARR on ``as_of`` and store the scores of that date."""
    started = time.perf_counter()
    as_of = as_of or platform.today()
    model = model or load_model(platform.settings)
    ensure_derived_for(platform, model, as_of)
    table = score_table(platform, as_of, model)
    path = atomic_write_parquet(table, scores_path(platform.settings, as_of), sort=False)
    bands = {b: 0 for b, _ in BANDS}
    for b in table.column("band").to_pylist():
        bands[b] += 1
    arr_up = float(pc.sum(table.column("arr_up")).as_py() or 0.0)
    expected = float(pc.sum(table.column("expected_renewal_arr")).as_py() or 0.0)
    return ScoreRun(
        as_of=as_of,
        model_version=model.version,
        accounts=table.num_rows,
        bands=bands,
        arr_up=round(arr_up, 2),
        expected_renewal_arr=round(expected, 2),
        arr_at_risk=round(arr_up - expected, 2),
        seconds=round(time.perf_counter() - started, 3),
        path=str(path),
    )


def score_table(platform: Platform, as_of: date, model: TrainedModel) -> pa.Table:
    """The scores of every account with ARR on ``as_of`` (schema :data:`SCORES_SCHEMA`)."""
    config = model.meta.get("config", {})
    book = ContractBook.load(platform)
    observed = book.as_of(as_of, int(config.get("grace_days", 30)))
    frame = FeatureSource(platform).on(as_of, observed)
    check_features(model, list(frame.columns))
    p = model.churn.predict(frame)
    depth = float(model.meta.get("contraction_depth", 0.0))
    pc_ = (
        model.contraction.predict(frame) if model.contraction is not None else np.zeros(len(frame))
    )
    arr_up = observed["arr_up"].to_numpy(dtype=float)
    expected = arr_up * (1 - p) * (1 - pc_ * depth)
    n = len(frame)
    return pa.table(
        {
            "account_id": pa.array(observed["account_id"].to_numpy(dtype=object), pa.string()),
            "as_of": pa.array([as_of] * n, pa.date32()),
            "model_version": pa.array([model.version] * n, pa.string()),
            "probability": pa.array(p, pa.float64()),
            "band": pa.array(band_array(p), pa.string()),
            "contraction_probability": pa.array(pc_, pa.float64()),
            "arr": pa.array(observed["arr"].to_numpy(dtype=float), pa.float64()),
            "arr_up": pa.array(arr_up, pa.float64()),
            "renewal_date": pa.array(
                observed["renewal_date"].to_numpy(dtype="datetime64[D]"), pa.date32()
            ),
            "days_to_renewal": pa.array(
                observed["days_to_renewal"].to_numpy(dtype=np.int32), pa.int32()
            ),
            "expected_renewal_arr": pa.array(expected, pa.float64()),
            "health_score": pa.array(
                frame["health_score"].to_numpy(dtype=float), pa.float64(), from_pandas=True
            ),
            "drivers": _drivers(model, frame),
        },
        schema=SCORES_SCHEMA,
    )


def read_scores(settings: Settings, as_of: date, account_id: str | None = None) -> pa.Table | None:
    """The stored scores of ``as_of`` (optionally one account); None if not scored."""
    path = scores_path(settings, as_of)
    if not path.exists():
        return None
    filters = [("account_id", "=", account_id)] if account_id is not None else None
    return pq.read_table(path, filters=filters)


def latest_score_date(settings: Settings, on_or_before: date | None = None) -> date | None:
    days = [d for d in score_dates(settings) if on_or_before is None or d <= on_or_before]
    return days[-1] if days else None


def risk_scores_as_of(platform: Platform, as_of: date | None = None) -> pd.DataFrame:
    """Per-account risk as stored on the latest scored date on or before ``as_of``.

    Columns: ``account_id, as_of, probability, band, contraction_probability,
    arr_up, expected_renewal_arr, renewal_date, days_to_renewal`` (empty frame
    when nothing was scored). For rules and other capabilities.
    """
    day = latest_score_date(platform.settings, as_of or platform.today())
    columns = [
        "account_id",
        "as_of",
        "probability",
        "band",
        "contraction_probability",
        "arr_up",
        "expected_renewal_arr",
        "renewal_date",
        "days_to_renewal",
    ]
    if day is None:
        return pd.DataFrame(columns=columns)
    table = pq.read_table(scores_path(platform.settings, day), columns=columns)
    return table.to_pandas()


def account_history(settings: Settings, account_id: str) -> list[dict[str, Any]]:
    """An account's probability and band on every scored date."""
    out = []
    for day in score_dates(settings):
        table = read_scores(settings, day, account_id)
        if table is not None and table.num_rows:
            row = table.select(["probability", "band"]).to_pylist()[0]
            out.append({"as_of": day, **row})
    return out
