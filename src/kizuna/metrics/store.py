"""The metric values store: one Parquet file per as-of date.

Layout: ``<home>/metrics/as_of=YYYY-MM-DD/values.parquet`` with columns
``account_id, as_of (date), metric, value (float64, null allowed)``, sorted by
account and metric. Recomputing a date atomically replaces its file, so a date
never holds two runs' values and readers never see a half-written file.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from kizuna.lake.layout import atomic_write_parquet

VALUES_SCHEMA = pa.schema(
    [
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("as_of", pa.date32(), nullable=False),
        pa.field("metric", pa.string(), nullable=False),
        pa.field("value", pa.float64(), nullable=True),
    ]
)


def metrics_dir(home: Path) -> Path:
    return home / "metrics"


def values_path(home: Path, as_of: date) -> Path:
    return metrics_dir(home) / f"as_of={as_of.isoformat()}" / "values.parquet"


def stored_dates(home: Path) -> list[date]:
    """The as-of dates that have values, oldest first."""
    folder = metrics_dir(home)
    if not folder.exists():
        return []
    days = []
    for sub in folder.glob("as_of=*"):
        if (sub / "values.parquet").exists():
            try:
                days.append(date.fromisoformat(sub.name.removeprefix("as_of=")))
            except ValueError:
                continue
    return sorted(days)


def wide_to_long(wide: pa.Table, as_of: date, metrics: Sequence[str]) -> pa.Table:
    """One date's wide table (account_id + a column per metric) as long rows.

    Rows come out sorted by account and metric without a sort: the accounts are
    sorted once and the long table is laid out account by account, metrics in
    name order. ``account_id`` and ``metric`` are dictionary-encoded (each id
    is stored once); the Parquet file reads back as plain strings.
    """
    names = sorted(metrics)
    order = pc.sort_indices(wide.column("account_id"))
    accounts = wide.column("account_id").take(order).combine_chunks()
    n, m = len(accounts), len(names)
    if n and m:
        values = np.empty((n, m), dtype=np.float64)
        valid = np.empty((n, m), dtype=bool)
        for j, name in enumerate(names):
            column = wide.column(name).take(order).combine_chunks().cast(pa.float64())
            values[:, j] = column.to_numpy(zero_copy_only=False)
            valid[:, j] = np.asarray(column.is_valid())
        value_col = pa.array(values.ravel(), mask=~valid.ravel())
    else:
        value_col = pa.array([], pa.float64())
    account_col = pa.DictionaryArray.from_arrays(
        pa.array(np.repeat(np.arange(n, dtype=np.int32), m)), accounts
    )
    metric_col = pa.DictionaryArray.from_arrays(
        pa.array(np.tile(np.arange(m, dtype=np.int32), n)), pa.array(names, pa.string())
    )
    return pa.Table.from_arrays(
        [account_col, pa.repeat(pa.scalar(as_of, pa.date32()), n * m), metric_col, value_col],
        schema=_LONG_SCHEMA,
    )


_LONG_SCHEMA = pa.schema(
    [
        pa.field("account_id", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("as_of", pa.date32(), nullable=False),
        pa.field("metric", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("value", pa.float64(), nullable=True),
    ]
)


def write_values(home: Path, wide: pa.Table, metrics: Sequence[str]) -> list[Path]:
    """Replace each date's file with the values in ``wide`` (``as_of`` as a date column)."""
    as_of = wide.column("as_of")
    dates = sorted(pc.unique(as_of).to_pylist())
    # rows of one date are contiguous when ``wide`` is sorted by date (compute's order)
    days = pc.cast(as_of, pa.int32()).to_numpy()
    contiguous = len(days) < 2 or bool(np.all(np.diff(days) >= 0))

    def write(day: date) -> Path:
        if contiguous:
            lo = int(np.searchsorted(days, _day_int(day), "left"))
            hi = int(np.searchsorted(days, _day_int(day), "right"))
            part = wide.slice(lo, hi - lo)
        else:
            part = wide.filter(pc.equal(as_of, pa.scalar(day, pa.date32())))
        return atomic_write_parquet(
            wide_to_long(part, day, metrics),
            values_path(home, day),
            sort=False,
            store_schema=False,
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(write, dates))


def _day_int(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def read_values(
    home: Path,
    as_of: date | Sequence[date] | None = None,
    account_id: str | Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> pa.Table:
    """Stored values, filtered by date(s), account(s) and metric names."""
    if as_of is None:
        days = stored_dates(home)
    elif isinstance(as_of, date):
        days = [as_of]
    else:
        days = list(as_of)
    files = [str(values_path(home, d)) for d in days if values_path(home, d).exists()]
    if not files:
        return VALUES_SCHEMA.empty_table()
    dataset = ds.dataset(files, schema=VALUES_SCHEMA, format="parquet")
    condition = None
    if account_id is not None:
        ids = [account_id] if isinstance(account_id, str) else list(account_id)
        condition = ds.field("account_id").isin(ids)
    if metrics is not None:
        by_metric = ds.field("metric").isin(list(metrics))
        condition = by_metric if condition is None else condition & by_metric
    table = dataset.to_table(filter=condition)
    return table.sort_by(
        [("as_of", "ascending"), ("account_id", "ascending"), ("metric", "ascending")]
    )
