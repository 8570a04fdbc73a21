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
    """One date's wide table (account_id + a column per metric) as long rows."""
    order = pc.sort_indices(wide.column("account_id")).to_numpy()
    columns = _numpy_columns(wide, metrics)
    return _long(wide.column("account_id").combine_chunks(), order, sorted(metrics), columns, as_of)


def _numpy_columns(wide: pa.Table, metrics: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(values, valid) of each metric column, in metric-name order."""
    out = []
    for name in sorted(metrics):
        column = wide.column(name).combine_chunks().cast(pa.float64())
        out.append(
            (column.to_numpy(zero_copy_only=False), np.asarray(column.is_valid(), dtype=bool))
        )
    return out


def _long(
    account_ids: pa.Array,
    rows: np.ndarray,
    names: list[str],
    columns: list[tuple[np.ndarray, np.ndarray]],
    as_of: date,
) -> pa.Table:
    """Long rows of the wide ``rows`` (positions, in account order) of one date.

    The long table is laid out account by account, metrics in name order, so it
    comes out sorted without sorting it; ``account_id`` and ``metric`` are
    dictionary-encoded (each id stored once) and read back as plain strings.
    """
    n, m = len(rows), len(columns)
    if n and m:
        values = np.empty((n, m), dtype=np.float64)
        valid = np.empty((n, m), dtype=bool)
        for j, (data, ok) in enumerate(columns):
            values[:, j] = data[rows]
            valid[:, j] = ok[rows]
        value_col = pa.array(values.ravel(), mask=~valid.ravel())
    else:
        value_col = pa.array([], pa.float64())
    account_col = pa.DictionaryArray.from_arrays(
        pa.array(np.repeat(np.arange(n, dtype=np.int32), m)),
        account_ids.take(pa.array(rows, pa.int64())),
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


def write_values(
    home: Path, wide: pa.Table, metrics: Sequence[str], *, order: np.ndarray | None = None
) -> list[Path]:
    """Replace each date's file with the values in ``wide`` (``as_of`` as a date column).

    ``order`` is a permutation of ``wide``'s rows sorting them by date, then
    account id (computed here when not given).
    """
    if order is None:
        order = pc.sort_indices(
            wide, sort_keys=[("as_of", "ascending"), ("account_id", "ascending")]
        ).to_numpy()
    days = pc.cast(wide.column("as_of"), pa.int32()).to_numpy()[order]
    cuts = np.flatnonzero(np.diff(days)) + 1
    starts = np.concatenate([[0], cuts]).astype(int) if len(days) else np.array([], int)
    stops = np.concatenate([cuts, [len(days)]]).astype(int) if len(days) else np.array([], int)
    account_ids = wide.column("account_id").combine_chunks()
    names = sorted(metrics)
    columns = _numpy_columns(wide, metrics)
    epoch = date(1970, 1, 1)

    def write(bounds: tuple[int, int]) -> Path:
        lo, hi = bounds
        day = date.fromordinal(epoch.toordinal() + int(days[lo]))
        return atomic_write_parquet(
            _long(account_ids, order[lo:hi], names, columns, day),
            values_path(home, day),
            sort=False,
            store_schema=False,
            compression="snappy",  # a third of zstd's time for 13% more bytes
            use_dictionary=["account_id", "metric"],
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(write, zip(starts.tolist(), stops.tolist(), strict=True)))


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
