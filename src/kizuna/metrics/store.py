"""The metric values store: one Parquet file per as-of date.

Layout: ``<home>/metrics/as_of=YYYY-MM-DD/values.parquet``, *wide*: an
``account_id`` column and one float64 column per metric (null allowed, named
after the metric), one row per account, sorted by account id. Readers get
long rows ``account_id, as_of (date), metric, value`` (:func:`read_values`);
a wide file is a fraction of the long one to write and lets a reader load
only the metrics it asks for. Files in the long layout of earlier versions
(columns ``account_id, as_of, metric, value``) are still read.

Recomputing a date atomically replaces its file, so a date never holds two
runs' values and readers never see a half-written file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

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


def _floats(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, valid) of a numeric column; nulls are NaN in the values.

    Chunk by chunk: ``ChunkedArray.to_numpy`` is an order of magnitude slower.
    """
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    data = [pc.cast(chunk, pa.float64()) for chunk in chunks]
    if not data:
        return np.empty(0), np.empty(0, dtype=bool)
    return (
        np.concatenate([c.to_numpy(zero_copy_only=False) for c in data]),
        np.concatenate([np.asarray(c.is_valid(), dtype=bool) for c in data]),
    )


def _numpy_columns(wide: pa.Table, metrics: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(values, valid) of each metric column, in metric-name order."""
    return [_floats(wide.column(name)) for name in sorted(metrics)]


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


def write_values(home: Path, wide: pa.Table, metrics: Sequence[str]) -> list[Path]:
    """Replace each date's file with the values in ``wide``.

    ``wide`` has an ``as_of`` date column, ``account_id`` and a column per
    metric, at most one row per (as_of, account_id).
    """
    ids = wide.column("account_id").combine_chunks().cast(pa.string())
    account_ids = pc.unique(ids).sort()
    rows = pc.index_in(ids, value_set=account_ids).to_numpy()
    days = pc.cast(wide.column("as_of"), pa.int32()).to_numpy()
    return write_grid(home, days, rows, account_ids, {m: wide.column(m) for m in metrics})


def write_grid(
    home: Path,
    days: np.ndarray,
    rows: np.ndarray,
    account_ids: pa.Array,
    columns: Mapping[str, pa.Array | pa.ChunkedArray],
) -> list[Path]:
    """Replace each date's file with the given values, in any row order.

    Row *i* holds the values of account ``account_ids[rows[i]]`` (``account_ids``
    sorted, unique) as of day number ``days[i]``. The values are scattered
    into a dates × accounts grid per metric, so every file comes out sorted
    by account id without sorting or gathering strings.
    """
    days = np.asarray(days)
    unique_days = np.sort(pc.unique(pa.array(days)).to_numpy())
    shape = (len(unique_days), len(account_ids))
    cells = np.searchsorted(unique_days, days).astype(np.int64) * shape[1]
    cells += np.asarray(rows, dtype=np.int64)
    present = np.zeros(shape, dtype=bool)
    present.reshape(-1)[cells] = True
    if np.count_nonzero(present) != len(cells):
        raise ValueError("metric values hold more than one row for an (as_of, account_id)")
    full = len(cells) == present.size

    def scatter(name: str) -> tuple[str, np.ndarray, np.ndarray | None]:
        data, ok = _floats(columns[name])
        values = np.empty(shape) if full else np.full(shape, np.nan)
        values.reshape(-1)[cells] = data
        valid = None
        if not ok.all():
            valid = np.zeros(shape, dtype=bool)
            valid.reshape(-1)[cells] = ok
        return name, values, valid

    epoch = date(1970, 1, 1)

    def write(i: int) -> Path:
        keep = present[i]
        every = bool(keep.all())
        arrays = [account_ids if every else account_ids.filter(pa.array(keep))]
        for _, values, valid in grid:
            data = values[i] if every else values[i][keep]
            ok = None if valid is None else valid[i] if every else valid[i][keep]
            arrays.append(pa.array(data, pa.float64(), mask=None if ok is None else ~ok))
        day = date.fromordinal(epoch.toordinal() + int(unique_days[i]))
        return atomic_write_parquet(
            pa.Table.from_arrays(arrays, names=["account_id", *(g[0] for g in grid)]),
            values_path(home, day),
            sort=False,
            store_schema=False,
            compression="snappy",  # a third of zstd's time for 13% more bytes
            use_dictionary=False,  # ids are unique in a file; values rarely repeat
        )

    with ThreadPoolExecutor(max_workers=2) as pool:  # numpy and Arrow release the GIL
        grid = list(pool.map(scatter, sorted(columns)))
        return list(pool.map(write, range(len(unique_days))))


def read_values(
    home: Path,
    as_of: date | Sequence[date] | None = None,
    account_id: str | Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> pa.Table:
    """Stored values as long rows, filtered by date(s), account(s) and metric names.

    Sorted by date, account id and metric.
    """
    if as_of is None:
        days = stored_dates(home)
    elif isinstance(as_of, date):
        days = [as_of]
    else:
        days = sorted(set(as_of))
    ids = (
        None
        if account_id is None
        else [account_id]
        if isinstance(account_id, str)
        else list(account_id)
    )
    tables = [
        _read_date(values_path(home, d), d, ids, metrics)
        for d in days
        if values_path(home, d).exists()
    ]
    if not tables:
        return VALUES_SCHEMA.empty_table()
    return pa.concat_tables(tables)


def _read_date(
    path: Path, day: date, ids: list[str] | None, metrics: Sequence[str] | None
) -> pa.Table:
    """One date's file as sorted long rows (either layout)."""
    names = pq.read_schema(path).names
    if "metric" in names:  # the long layout of earlier versions
        condition = None
        if ids is not None:
            condition = ds.field("account_id").isin(ids)
        if metrics is not None:
            by_metric = ds.field("metric").isin(list(metrics))
            condition = by_metric if condition is None else condition & by_metric
        dataset = ds.dataset(str(path), schema=VALUES_SCHEMA, format="parquet")
        table = dataset.to_table(filter=condition)
        return table.sort_by([("account_id", "ascending"), ("metric", "ascending")])
    wanted = set(metrics) if metrics is not None else None
    stored = sorted(n for n in names if n != "account_id" and (wanted is None or n in wanted))
    table = pq.read_table(
        path,
        columns=["account_id", *stored],
        filters=None if ids is None else [("account_id", "in", ids)],
    )
    accounts = table.column("account_id").combine_chunks()
    rows = pc.sort_indices(accounts).to_numpy()  # sorted on write; cheap when it is
    long = _long(accounts, rows, stored, _numpy_columns(table, stored), day)
    return long.cast(VALUES_SCHEMA)
