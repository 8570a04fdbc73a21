"""Cohort retention: logo and revenue retention by months since start.

An entity's *start* is the first day it had ARR > 0; its cohort is the calendar
month (or quarter) of that day. Month ``k`` of an entity is the last day of the
``k``-th month after its start month (``k = 0``: the end of the start month), so
members of a quarter cohort are each measured from their own start month.

For a cohort and ``k``:

- ``accounts``: entities in the cohort; ``accounts_retained``: those with ARR > 0 at month ``k``
- ``logo_retention`` = accounts_retained ÷ accounts
- ``start_arr``: the cohort's ARR at month 0; ``arr``: its ARR at month ``k``
- ``revenue_retention`` = arr ÷ start_arr (expansion can take it above 1)

A cohort gets rows for every ``k`` at which all its members' month ``k`` has
ended on or before ``as_of`` (right-censored after that). Churned entities that
come back count as retained again from their reactivation.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import ibis

from kizuna.retention.ledger import Ledger, cents_to_amount
from kizuna.retention.periods import ONE_DAY, PeriodUnit, month_end, month_ends


@dataclass(frozen=True, slots=True)
class CohortRow:
    """Retention of one cohort (and segment) ``months_since_start`` months after start."""

    cohort: str
    segment: str | None
    months_since_start: int
    accounts: int
    accounts_retained: int
    logo_retention: Decimal | None
    start_arr: Decimal
    arr: Decimal
    revenue_retention: Decimal | None


@dataclass(frozen=True, slots=True)
class CohortReport:
    """``kizuna cohorts``: one row per cohort (× segment) and month since start."""

    by: PeriodUnit
    as_of: date
    currency: str
    rollup: bool
    by_segment: bool
    filters: dict[str, str]
    rows: list[CohortRow] = field(default_factory=list)


def last_closed_month_end(as_of: date) -> date:
    """The latest month end on or before ``as_of``."""
    return as_of if month_end(as_of) == as_of else as_of.replace(day=1) - ONE_DAY


def cohort_points(first: date, as_of: date) -> list[date]:
    """Month ends from the one before ``first``'s month through the last closed month.

    Starting one month early makes the grid the same as that of monthly
    movements from ``first``'s month, so both reuse one computation.
    """
    return month_ends(first.replace(day=1) - ONE_DAY, last_closed_month_end(as_of))


def cohort_retention(
    ledger: Ledger,
    *,
    as_of: date,
    by: PeriodUnit = "month",
    by_segment: bool = False,
) -> CohortReport:
    """Logo and revenue retention per cohort and month since start, as of ``as_of``.

    Parameters
    ----------
    ledger
        The ARR ledger (its filters and rollup apply).
    as_of
        Only months that ended on or before this day are measured.
    by
        Cohorts by start ``month`` or ``quarter``.
    by_segment
        Split every cohort by the entity's segment.

    Returns
    -------
    CohortReport
        Rows ordered by cohort, segment and months since start; retention values
        are exact fractions (1 = 100 %), ``None`` when the base is 0.
    """
    report = CohortReport(
        by=by,
        as_of=as_of,
        currency=ledger.reporting_currency,
        rollup=ledger.rollup,
        by_segment=by_segment,
        filters=ledger.filters.as_dict(),
    )
    earliest = ledger.first_arr_date()
    if earliest is None:  # no ARR at all
        return report
    points = cohort_points(earliest, as_of)
    if len(points) < 2:
        return report
    n = len(points)
    # Every point is a month end, so an entity's first point (the end of its
    # start month) names its cohort; months merge into quarters below. Each
    # member has exactly one row at k = 0 (its first point), which counts it.
    ep = ledger.arr_by_point(points)
    if by_segment:
        ep = ep.join(ledger.entities().select("entity_key", "segment"), "entity_key")
    else:
        ep = ep.mutate(segment=ibis.null("string"))
    rows = ep.filter(ep.first_idx.notnull() & (ep.idx >= ep.first_idx))
    rows = rows.mutate(start_idx=rows.first_idx, k=rows.idx - rows.first_idx)
    now, was = (rows.arr > 0).cast("int64"), (rows.arr_before > 0).cast("int64")
    changes = rows.group_by(["start_idx", "segment", "k"]).agg(
        delta=rows.delta.sum(),
        logos=(now - was).sum(),
        members=(rows.k == 0).cast("int64").sum(),
    )
    change_rows = ledger.engine.to_pyarrow(changes).to_pylist()

    def cohort_of(start_idx: int) -> tuple[int, int]:
        start_month = points[start_idx]
        no = start_month.month if by == "month" else (start_month.month - 1) // 3 + 1
        return start_month.year, no

    size: dict[tuple[Any, ...], int] = defaultdict(int)
    last_start_idx: dict[tuple[Any, ...], int] = {}
    by_cohort: dict[tuple[Any, ...], dict[int, list[int]]] = defaultdict(dict)
    for r in change_rows:
        key = (*cohort_of(r["start_idx"]), r["segment"])
        if r["k"] == 0:
            size[key] += int(r["members"])
            last_start_idx[key] = max(last_start_idx.get(key, 0), int(r["start_idx"]))
        acc = by_cohort[key].setdefault(int(r["k"]), [0, 0])
        acc[0] += int(r["delta"] or 0)
        acc[1] += int(r["logos"] or 0)
    for key in sorted(size, key=lambda k: (k[0], k[1], k[2] or "")):
        label = f"{key[0]:04d}-{key[1]:02d}" if by == "month" else f"{key[0]:04d}-Q{key[1]}"
        arr = logos = 0
        base = None
        for k in range(n - last_start_idx[key]):
            delta, logo_change = by_cohort[key].get(k, (0, 0))
            arr += delta
            logos += logo_change
            if base is None:
                base = arr
            report.rows.append(
                CohortRow(
                    cohort=label,
                    segment=key[2],
                    months_since_start=k,
                    accounts=size[key],
                    accounts_retained=logos,
                    logo_retention=Decimal(logos) / Decimal(size[key]) if size[key] else None,
                    start_arr=cents_to_amount(base),
                    arr=cents_to_amount(arr),
                    revenue_retention=Decimal(arr) / Decimal(base) if base else None,
                )
            )
    return report
