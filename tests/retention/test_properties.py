"""Property tests on random ledgers: movements add up, 0 ≤ GRR ≤ 1, NRR − GRR = expansion ÷ start.

Random ledgers are built in memory (DuckDB); a pure-Python ARR-at-a-date
reference checks the opening and closing ARR independently.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kizuna.engine import Engine
from kizuna.retention import Ledger, arr_movements, retention_rates
from kizuna.retention.cohorts import cohort_retention
from kizuna.retention.ledger import FX_SCHEMA, LINE_SCHEMA
from kizuna.retention.movements import account_movements, arr_at, period_movements
from kizuna.retention.periods import Period

BASE = date(2023, 1, 1)
ACCOUNTS = [f"a{i}" for i in range(6)]
PARENTS = {"a3": "a0", "a4": "a0", "a5": "a3"}
RATES = [("EUR", BASE, 1.1), ("EUR", date(2023, 7, 1), 1.25), ("EUR", date(2024, 2, 1), 0.95)]


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    e = Engine.duckdb()
    yield e
    e.close()


line = st.tuples(
    st.sampled_from(ACCOUNTS),
    st.integers(0, 700),  # start offset (days)
    st.integers(0, 500),  # length (days)
    st.integers(0, 500_000),  # arr in cents
    st.sampled_from(["USD", "USD", "EUR"]),
    st.sampled_from(["active", "active", "pending", "cancelled"]),
)
period = st.tuples(st.integers(0, 800), st.integers(0, 400))


def build(engine: Engine, lines: list[tuple], rollup: bool) -> Ledger:
    table = pa.table(
        {
            "line_id": [f"l{i}" for i in range(len(lines))],
            "account_id": [ln[0] for ln in lines],
            "product": ["core"] * len(lines),
            "arr": [Decimal(ln[3]).scaleb(-2) for ln in lines],
            "currency": [ln[4] for ln in lines],
            "start_date": [BASE + timedelta(days=ln[1]) for ln in lines],
            "end_date": [BASE + timedelta(days=ln[1] + ln[2]) for ln in lines],
            "status": [ln[5] for ln in lines],
            "renews_line_id": [None] * len(lines),
        },
        schema=LINE_SCHEMA,
    )
    accounts = [
        {
            "account_id": a,
            "parent_id": PARENTS.get(a),
            "name": a,
            "segment": None,
            "region": None,
            "owner_id": None,
        }
        for a in ACCOUNTS
    ]
    fx = pa.table([list(c) for c in zip(*RATES, strict=True)], schema=FX_SCHEMA)
    return Ledger.from_arrow(engine, table, accounts, fx, rollup=rollup)


def reference_total(lines: list[tuple], day: date) -> Decimal:
    """ARR on ``day`` the slow way: every counted line, converted and rounded per line."""
    total = 0
    for _acc, off, length, cents, cur, status in lines:
        start, end = BASE + timedelta(days=off), BASE + timedelta(days=off + length)
        if status == "cancelled" or not start <= day <= end:
            continue
        if cur == "USD":
            total += cents
        else:
            rate = max((r for r in RATES if r[1] <= day), key=lambda r: r[1])[2]
            total += int(Decimal(cents * rate).quantize(Decimal(1), ROUND_HALF_UP))
    return Decimal(total).scaleb(-2)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(line, max_size=12), p=period, rollup=st.booleans())
def test_movements_sum_to_the_arr_change(
    engine: Engine, lines: list[tuple], p: tuple[int, int], rollup: bool
) -> None:
    start = BASE + timedelta(days=p[0])
    end = start + timedelta(days=p[1])
    with build(engine, lines, rollup) as ledger:
        r = retention_rates(ledger, start, end).rates
        months = arr_movements(ledger, start, end)
    assert r.start_arr == reference_total(lines, start - timedelta(days=1))
    assert r.end_arr == reference_total(lines, end)
    net = r.new + r.reactivation + r.expansion - r.contraction - r.churn
    assert r.end_arr - r.start_arr == net
    for m in [*months.periods, months.totals]:
        assert m.end_arr - m.start_arr == (
            m.new + m.reactivation + m.expansion - m.contraction - m.churn
        )
    assert months.totals.start_arr == r.start_arr
    assert months.totals.end_arr == r.end_arr
    if r.start_arr:
        assert r.grr is not None and r.nrr is not None
        assert 0 <= r.grr <= 1
        assert abs((r.nrr - r.grr) - r.expansion / r.start_arr) < Decimal("1e-20")
        assert r.revenue_churn is not None and 0 <= r.revenue_churn <= 1 - r.grr + Decimal("1e-20")
    else:
        assert (r.grr, r.nrr, r.revenue_churn) == (None, None, None)
    assert 0 <= r.accounts_churned <= r.accounts_start


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(line, max_size=12),
    grid=st.lists(st.integers(-30, 1300), min_size=2, max_size=14, unique=True),
    pick=st.lists(st.booleans(), min_size=14, max_size=14),
    rollup=st.booleans(),
)
def test_arr_derived_from_a_prepared_grid_equals_arr_measured_alone(
    engine: Engine, lines: list[tuple], grid: list[int], pick: list[bool], rollup: bool
) -> None:
    # Every consumer of the ARR at points reads the same figures whether a subset of
    # points is measured on its own or derived from a prepared wider grid.
    days = sorted(BASE + timedelta(days=g) for g in grid)
    subsets = [days, [d for d, keep in zip(days, pick, strict=False) if keep] or days[:1]]
    subsets.append([d for d, keep in zip(days, pick, strict=False) if not keep] or days[-1:])
    month_starts = sorted({date(d.year, d.month, 1) for d in days})
    with build(engine, lines, rollup) as alone, build(engine, lines, rollup) as prepared:
        prepared.prepare_points(days)
        for points in subsets:
            periods = [Period(a + timedelta(days=1), b) for a, b in pairwise(points)]
            for ledger in (alone, prepared):
                assert ledger.arr_by_point(points) is not None
            assert arr_at(prepared, points[0]) == arr_at(alone, points[0])
            if periods:
                assert account_movements(prepared, periods) == account_movements(alone, periods)
                assert period_movements(prepared, periods) == period_movements(alone, periods)
            first = alone.first_arr_date()
            if first is not None and month_starts[-1] >= first:
                as_of = month_starts[-1] - timedelta(days=1)
                assert cohort_retention(prepared, as_of=as_of) == cohort_retention(
                    alone, as_of=as_of
                )
        assert prepared._grid is not None or any(ln[4] == "EUR" for ln in lines)
