"""The metric values store: wide files per date, long rows for readers, old files still read."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kizuna.lake.layout import atomic_write_parquet
from kizuna.metrics.store import (
    VALUES_SCHEMA,
    read_values,
    stored_dates,
    values_path,
    write_grid,
    write_values,
)

D1, D2 = date(2025, 6, 23), date(2025, 6, 30)


def _wide(rows: list[tuple[date, str, float | None, float | None]]) -> pa.Table:
    return pa.table(
        {
            "as_of": pa.array([r[0] for r in rows], pa.date32()),
            "account_id": [r[1] for r in rows],
            "logins": pa.array([r[2] for r in rows], pa.float64()),
            "seats": pa.array([r[3] for r in rows], pa.float64()),
        }
    )


def test_wide_files_read_back_as_sorted_long_rows(tmp_path: Path) -> None:
    # rows in no particular order; beta has no row on D1
    write_values(
        tmp_path,
        _wide(
            [
                (D2, "beta", 1.0, None),
                (D1, "acme", 5.0, 10.0),
                (D2, "acme", 7.0, 10.0),
            ]
        ),
        ["logins", "seats"],
    )
    assert stored_dates(tmp_path) == [D1, D2]
    stored = pq.read_table(values_path(tmp_path, D2))
    assert stored.column_names == ["account_id", "logins", "seats"]
    assert stored.column("account_id").to_pylist() == ["acme", "beta"]
    assert pq.read_table(values_path(tmp_path, D1)).column("account_id").to_pylist() == ["acme"]

    rows = read_values(tmp_path).to_pylist()
    assert [(r["as_of"], r["account_id"], r["metric"], r["value"]) for r in rows] == [
        (D1, "acme", "logins", 5.0),
        (D1, "acme", "seats", 10.0),
        (D2, "acme", "logins", 7.0),
        (D2, "acme", "seats", 10.0),
        (D2, "beta", "logins", 1.0),
        (D2, "beta", "seats", None),  # null stays null, never NaN or 0
    ]
    assert read_values(tmp_path).schema == VALUES_SCHEMA


def test_reads_filter_by_date_account_and_metric(tmp_path: Path) -> None:
    write_values(
        tmp_path,
        _wide([(D1, "acme", 5.0, 10.0), (D2, "acme", 7.0, 10.0), (D2, "beta", 1.0, 2.0)]),
        ["logins", "seats"],
    )
    one = read_values(tmp_path, as_of=D2, account_id="beta", metrics=["seats"]).to_pylist()
    assert [(r["account_id"], r["metric"], r["value"]) for r in one] == [("beta", "seats", 2.0)]
    assert read_values(tmp_path, as_of=[D1], metrics=["logins"]).column("value").to_pylist() == [
        5.0
    ]
    assert read_values(tmp_path, account_id=["nobody"]).num_rows == 0
    assert read_values(tmp_path, metrics=["no_such_metric"]).num_rows == 0
    assert read_values(tmp_path, as_of=date(2020, 1, 1)).num_rows == 0


def test_rewriting_a_date_replaces_it(tmp_path: Path) -> None:
    write_values(tmp_path, _wide([(D2, "acme", 7.0, 10.0)]), ["logins", "seats"])
    write_values(tmp_path, _wide([(D2, "beta", 3.0, 1.0)]), ["logins", "seats"])
    rows = read_values(tmp_path, as_of=D2).to_pylist()
    assert {r["account_id"] for r in rows} == {"beta"}


def test_two_rows_for_one_account_and_date_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="more than one row"):
        write_values(
            tmp_path, _wide([(D2, "acme", 7.0, 1.0), (D2, "acme", 8.0, 1.0)]), ["logins", "seats"]
        )
    assert stored_dates(tmp_path) == []


def test_grid_writer_takes_chunked_integer_columns(tmp_path: Path) -> None:
    day = (D2 - date(1970, 1, 1)).days
    write_grid(
        tmp_path,
        days=pa.array([day, day, day]).to_numpy(),
        rows=pa.array([2, 0, 1]).to_numpy(),
        account_ids=pa.array(["a", "b", "c"]),
        columns={"n": pa.chunked_array([[30, None], [20]], pa.int64())},
    )
    stored = pq.read_table(values_path(tmp_path, D2))
    assert stored.column("account_id").to_pylist() == ["a", "b", "c"]
    values = stored.column("n").to_pylist()
    assert values[0] is None and values[1:] == [20.0, 30.0]
    assert not any(isinstance(v, float) and math.isnan(v) for v in values)


def test_files_in_the_earlier_long_layout_are_still_read(tmp_path: Path) -> None:
    long = pa.table(
        {
            "account_id": ["acme", "acme", "beta"],
            "as_of": pa.array([D1] * 3, pa.date32()),
            "metric": ["seats", "logins", "logins"],
            "value": pa.array([10.0, None, 2.0], pa.float64()),
        }
    )
    atomic_write_parquet(long, values_path(tmp_path, D1), sort=False)
    write_values(tmp_path, _wide([(D2, "acme", 7.0, 10.0)]), ["logins", "seats"])
    rows = read_values(tmp_path).to_pylist()
    assert [(r["as_of"], r["account_id"], r["metric"], r["value"]) for r in rows] == [
        (D1, "acme", "logins", None),
        (D1, "acme", "seats", 10.0),
        (D1, "beta", "logins", 2.0),
        (D2, "acme", "logins", 7.0),
        (D2, "acme", "seats", 10.0),
    ]
    only = read_values(tmp_path, as_of=D1, account_id="beta", metrics=["logins"]).to_pylist()
    assert [(r["account_id"], r["value"]) for r in only] == [("beta", 2.0)]
