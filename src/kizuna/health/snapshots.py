"""Daily health snapshots: one Parquet file per date, replaced atomically on recompute.

Layout (under ``<KIZUNA_HOME>/health``)::

    as_of=2025-06-30/
      health.parquet      one row per account: score, band, groups, measures,
                          contributions, missing measures, roll-up children

A date's file is written to a temporary name, fsynced and renamed over the old
one, so readers see the old snapshot or the new one, never a mix.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kizuna.settings import Settings

GROUP_TYPE = pa.struct(
    [
        pa.field("name", pa.string()),
        pa.field("weight", pa.float64()),
        pa.field("effective_weight", pa.float64()),
        pa.field("score", pa.float64()),
    ]
)
MEASURE_TYPE = pa.struct(
    [
        pa.field("group", pa.string()),
        pa.field("name", pa.string()),
        pa.field("source", pa.string()),
        pa.field("scheme", pa.string()),
        pa.field("raw_value", pa.float64()),
        pa.field("score", pa.float64()),
        pa.field("weight", pa.float64()),
        pa.field("effective_weight", pa.float64()),
        pa.field("contribution", pa.float64()),
        pa.field("missing", pa.bool_()),
    ]
)
CHILD_TYPE = pa.struct(
    [
        pa.field("account_id", pa.string()),
        pa.field("arr", pa.float64()),
        pa.field("effective_weight", pa.float64()),
        pa.field("score", pa.float64()),
        pa.field("contribution", pa.float64()),
    ]
)

#: The schema of a health snapshot. ``method`` is ``scorecard`` or ``roll-up``.
SNAPSHOT_SCHEMA = pa.schema(
    [
        pa.field("account_id", pa.string()),
        pa.field("as_of", pa.date32()),
        pa.field("name", pa.string()),
        pa.field("segment", pa.string()),
        pa.field("parent_id", pa.string()),
        pa.field("scorecard", pa.string()),
        pa.field("method", pa.string()),
        pa.field("arr", pa.float64()),
        pa.field("score", pa.float64()),
        pa.field("band", pa.string()),
        pa.field("missing", pa.list_(pa.string())),
        pa.field("groups", pa.list_(GROUP_TYPE)),
        pa.field("measures", pa.list_(MEASURE_TYPE)),
        pa.field("children", pa.list_(CHILD_TYPE)),
    ]
)

_DIR = re.compile(r"^as_of=(\d{4}-\d{2}-\d{2})$")


def health_dir(settings: Settings) -> Path:
    return settings.home / "health"


def snapshot_path(settings: Settings, as_of: date) -> Path:
    return health_dir(settings) / f"as_of={as_of.isoformat()}" / "health.parquet"


def write_snapshot(settings: Settings, as_of: date, table: pa.Table) -> Path:
    """Write (or replace) the snapshot of ``as_of`` atomically."""
    path = snapshot_path(settings, as_of)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        pq.write_table(table.cast(SNAPSHOT_SCHEMA), handle, compression="zstd")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def snapshot_dates(settings: Settings) -> list[date]:
    """Dates that have a snapshot, oldest first."""
    root = health_dir(settings)
    if not root.exists():
        return []
    found = []
    for child in root.iterdir():
        match = _DIR.match(child.name)
        if match and (child / "health.parquet").exists():
            found.append(date.fromisoformat(match.group(1)))
    return sorted(found)


def read_snapshot(
    settings: Settings,
    as_of: date,
    *,
    columns: list[str] | None = None,
    account_id: str | None = None,
) -> pa.Table | None:
    """The snapshot of ``as_of`` (optionally one account, some columns); None if absent."""
    path = snapshot_path(settings, as_of)
    if not path.exists():
        return None
    filters = [("account_id", "=", account_id)] if account_id is not None else None
    return pq.read_table(path, columns=columns, filters=filters)


def account_history(
    settings: Settings, account_id: str, start: date | None = None, end: date | None = None
) -> list[dict[str, object]]:
    """An account's score and band on every snapshot date in ``[start, end]``."""
    rows: list[dict[str, object]] = []
    for day in snapshot_dates(settings):
        if (start and day < start) or (end and day > end):
            continue
        table = read_snapshot(
            settings, day, columns=["account_id", "score", "band"], account_id=account_id
        )
        if table is not None and table.num_rows:
            row = table.to_pylist()[0]
            rows.append({"as_of": day, "score": row["score"], "band": row["band"]})
    return rows


def band_filter(table: pa.Table, band: str) -> pa.Table:
    return table.filter(pc.equal(table["band"], band))
