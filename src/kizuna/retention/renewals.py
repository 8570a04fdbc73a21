"""Renewals: contract lines up for renewal, whether they renewed, and the open pipeline.

A counted line with ARR > 0 whose ``end_date`` falls in ``[start, end]`` is *up
for renewal*. It is *renewed* by

1. a line whose ``renews_line_id`` points at it (whatever its dates), else
2. a line of the same entity and product, not linked to another line, that
   starts after it started, ends after it ended and starts no later than
   ``grace_days`` after the day following its end (``end + 1 + grace_days``).

Of several candidates the linked one, then the earliest start, then the
smallest id wins. A line not renewed is *open* while a renewal may still start
(``as_of <= end + 1 + grace_days``) and *lost* after that.

Amounts are in the reporting currency: the line at the rate on its end date,
the renewal at the rate on its start date.

- renewal rate (by ARR) = ARR of renewed lines ÷ ARR up for renewal
- decided renewal rate = ARR renewed ÷ (ARR renewed + ARR lost), open lines left out
- logo renewal rate = entities with ≥ 1 renewed line ÷ entities with a line up

Health and churn risk beside each renewal come from an optional
:class:`RenewalSignalSource` (none exists yet; the fields stay ``None``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal, Protocol

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from kizuna.errors import InvalidInput, Problem
from kizuna.retention.ledger import Ledger, cents_to_amount
from kizuna.retention.periods import PeriodUnit, check_range, period_end, period_label

DEFAULT_GRACE_DAYS = 30
RenewalStatus = Literal["renewed", "open", "lost"]


@dataclass(frozen=True, slots=True)
class RenewalSignals:
    """What health and risk scoring know about an account, shown beside its renewals."""

    health_score: float | None = None
    health_band: str | None = None
    churn_risk: float | None = None


class RenewalSignalSource(Protocol):
    """Supplies :class:`RenewalSignals` per account id as of a date (health, risk)."""

    def signals(self, account_ids: Sequence[str], as_of: date) -> Mapping[str, RenewalSignals]: ...


@dataclass(frozen=True, slots=True)
class RenewalLine:
    """One contract line up for renewal and its outcome so far."""

    line_id: str
    account_id: str
    name: str | None
    product: str
    end_date: date
    renewal_date: date
    days_until_renewal: int
    arr: Decimal
    status: RenewalStatus
    renewal_line_id: str | None
    renewal_start_date: date | None
    renewal_arr: Decimal | None
    matched_by: Literal["link", "rule"] | None
    health_score: float | None = None
    health_band: str | None = None
    churn_risk: float | None = None


@dataclass(frozen=True, slots=True)
class RenewalTotals:
    """Renewal figures of a set of lines (a period, or the whole range when ``period`` is None)."""

    period: str | None
    period_start: date | None
    period_end: date | None
    lines_due: int
    arr_due: Decimal
    arr_renewed: Decimal
    arr_lost: Decimal
    arr_open: Decimal
    renewal_arr: Decimal
    renewal_rate: Decimal | None
    decided_renewal_rate: Decimal | None
    logos_due: int
    logos_renewed: int
    logos_lost: int
    logos_open: int
    logo_renewal_rate: Decimal | None


@dataclass(frozen=True, slots=True)
class RenewalReport:
    """``kizuna renewals``: totals, totals per month/quarter, every line and the open pipeline."""

    start: date
    end: date
    as_of: date
    grace_days: int
    currency: str
    rollup: bool
    filters: dict[str, str]
    totals: RenewalTotals
    by_period: list[RenewalTotals] = field(default_factory=list)
    lines: list[RenewalLine] = field(default_factory=list)
    pipeline: list[RenewalLine] = field(default_factory=list)


def summarise(
    lines: Iterable[RenewalLine],
    period: str | None = None,
    period_start: date | None = None,
    period_stop: date | None = None,
) -> RenewalTotals:
    """Totals and rates of ``lines`` (see the module docstring for the rates)."""
    lines = list(lines)
    zero = Decimal("0.00")

    def arr(status: RenewalStatus) -> Decimal:
        return sum((ln.arr for ln in lines if ln.status == status), start=zero)

    due = sum((ln.arr for ln in lines), start=zero)
    renewed, lost = arr("renewed"), arr("lost")
    per_logo: dict[str, set[str]] = defaultdict(set)
    for ln in lines:
        per_logo[ln.account_id].add(ln.status)
    logos_renewed = sum(1 for s in per_logo.values() if "renewed" in s)
    logos_lost = sum(1 for s in per_logo.values() if s == {"lost"})
    return RenewalTotals(
        period=period,
        period_start=period_start,
        period_end=period_stop,
        lines_due=len(lines),
        arr_due=due,
        arr_renewed=renewed,
        arr_lost=lost,
        arr_open=arr("open"),
        renewal_arr=sum((ln.renewal_arr or zero for ln in lines), start=zero),
        renewal_rate=renewed / due if due else None,
        decided_renewal_rate=renewed / (renewed + lost) if renewed + lost else None,
        logos_due=len(per_logo),
        logos_renewed=logos_renewed,
        logos_lost=logos_lost,
        logos_open=len(per_logo) - logos_renewed - logos_lost,
        logo_renewal_rate=Decimal(logos_renewed) / Decimal(len(per_logo)) if per_logo else None,
    )


def renewals(
    ledger: Ledger,
    start: date,
    end: date,
    *,
    as_of: date,
    grace_days: int = DEFAULT_GRACE_DAYS,
    period: PeriodUnit = "month",
    signals: RenewalSignalSource | None = None,
) -> RenewalReport:
    """Lines up for renewal in ``[start, end]``, their outcome as of ``as_of`` and the rates.

    Parameters
    ----------
    ledger
        The ARR ledger (its filters and rollup apply; "same account" is the entity).
    start, end
        Lines whose end date falls in this closed range are up for renewal.
    as_of
        Decides open vs. lost and ``days_until_renewal``.
    grace_days
        Days after the day following a line's end within which a renewal may start.
    period
        Renewals due are also totalled per calendar ``month`` or ``quarter`` of the end date.
    signals
        Optional source of health and churn risk per account.
    """
    check_range(start, end, start_field="from", end_field="to")
    if grace_days < 0:
        raise InvalidInput(
            "invalid grace period",
            [Problem(f"grace days must be ≥ 0, got {grace_days}", where="--grace-days")],
        )
    rows = _matched_lines(ledger, start, end, grace_days)
    lines = []
    for r in rows:
        renewal_date = r["end_date"] + timedelta(days=1)
        status: RenewalStatus
        if r["r_id"] is not None:
            status = "renewed"
        elif as_of <= renewal_date + timedelta(days=grace_days):
            status = "open"
        else:
            status = "lost"
        lines.append(
            RenewalLine(
                line_id=r["line_id"],
                account_id=r["entity_id"],
                name=r["name"],
                product=r["product"],
                end_date=r["end_date"],
                renewal_date=renewal_date,
                days_until_renewal=(renewal_date - as_of).days,
                arr=cents_to_amount(r["arr"]),
                status=status,
                renewal_line_id=r["r_id"],
                renewal_start_date=r["r_start"],
                renewal_arr=cents_to_amount(r["r_arr"]) if r["r_id"] is not None else None,
                matched_by=("link" if r["prio"] == 0 else "rule")
                if r["r_id"] is not None
                else None,
            )
        )
    if signals is not None and lines:
        found = signals.signals(sorted({ln.account_id for ln in lines}), as_of)
        lines = [
            replace(
                ln,
                health_score=s.health_score,
                health_band=s.health_band,
                churn_risk=s.churn_risk,
            )
            if (s := found.get(ln.account_id))
            else ln
            for ln in lines
        ]
    by_key: dict[str, list[RenewalLine]] = defaultdict(list)
    for ln in lines:
        by_key[period_label(ln.end_date, period)].append(ln)
    by_period = []
    cursor = start
    while cursor <= end:
        stop = min(period_end(cursor, period), end)
        label = period_label(cursor, period)
        by_period.append(summarise(by_key.get(label, []), label, cursor, stop))
        cursor = stop + timedelta(days=1)
    return RenewalReport(
        start=start,
        end=end,
        as_of=as_of,
        grace_days=grace_days,
        currency=ledger.reporting_currency,
        rollup=ledger.rollup,
        filters=ledger.filters.as_dict(),
        totals=summarise(lines),
        by_period=by_period,
        lines=lines,
        pipeline=sorted(
            (ln for ln in lines if ln.status == "open"), key=lambda ln: (ln.end_date, ln.line_id)
        ),
    )


def _matched_lines(ledger: Ledger, start: date, end: date, grace_days: int) -> list[dict]:
    """Lines up for renewal in ``[start, end]`` with their best renewal candidate.

    A line's best candidate does not depend on the range asked for, so every line of the
    ledger is matched once per grace period (one query, remembered while the ledger is
    open) and each range filters that table: the portfolio's and the revenue step's
    ranges cost one query, not one each. Raises :class:`InvalidInput` naming every
    currency lacking a rate for a line of the range (or for its renewal).
    """
    matched = ledger.remembered(
        ("renewal lines", grace_days), lambda: _match_every_line(ledger, grace_days)
    )
    ends = matched.column("end_date")
    in_range = pc.and_(pc.greater_equal(ends, start), pc.less_equal(ends, end))
    rows = matched.filter(in_range).to_pylist()
    home = ledger.reporting_currency
    ledger.raise_missing_rates(_first_missing(rows, "currency", "rate", "end_date", home))
    renewed = [r for r in rows if r["r_id"] is not None]
    ledger.raise_missing_rates(_first_missing(renewed, "r_currency", "r_rate", "r_start", home))
    return rows


def _first_missing(
    rows: list[dict], currency: str, rate: str, day: str, home: str
) -> dict[str, date]:
    """Currency → the first ``day`` of a row in another currency than ``home`` without a rate."""
    first: dict[str, date] = {}
    for r in rows:
        if r[currency] is not None and r[currency] != home and r[rate] is None:
            first[r[currency]] = min(first.get(r[currency], r[day]), r[day])
    return first


def _match_every_line(ledger: Ledger, grace_days: int) -> pa.Table:
    """Every counted line with ARR joined to its best renewal candidate (Ibis, one query),
    ordered by end date and line id; with the rates the figures were converted at."""
    ln = ledger.counted_lines()
    due = ln.filter(ln.arr_cents > 0)
    c = ledger.counted_lines().view()
    linked = due.join(c, c.renews_line_id == due.line_id).select(
        line_id=due.line_id,
        r_id=c.line_id,
        r_start=c.start_date,
        r_arr_raw=c.arr_cents,
        r_currency=c.currency,
        prio=ibis.literal(0, "int64"),
    )
    latest_start = due.end_date + ibis.interval(days=grace_days + 1)
    by_rule = due.join(
        c,
        [
            c.entity_id == due.entity_id,
            c.product == due.product,
            c.line_id != due.line_id,
            c.start_date > due.start_date,
            c.end_date > due.end_date,
            c.start_date <= latest_start,
            c.renews_line_id.isnull() | (c.renews_line_id == due.line_id),
        ],
    ).select(
        line_id=due.line_id,
        r_id=c.line_id,
        r_start=c.start_date,
        r_arr_raw=c.arr_cents,
        r_currency=c.currency,
        prio=ibis.literal(1, "int64"),
    )
    cands = linked.union(by_rule, distinct=False)
    ranked = cands.mutate(
        rank=ibis.row_number().over(
            group_by=cands.line_id, order_by=[cands.prio, cands.r_start, cands.r_id]
        )
    )
    best = ranked.filter(ranked.rank == 0).drop("rank")
    due_rates = ledger.rates_at(due.select("currency", on_date=due.end_date))
    r_rates = ledger.rates_at(best.select(currency=best.r_currency, on_date=best.r_start))
    j = due.left_join(
        due_rates, [due.currency == due_rates.currency, due.end_date == due_rates.on_date]
    ).select(*[due[name] for name in due.columns], rate=due_rates.rate)
    j = j.left_join(best, j.line_id == best.line_id).select(
        *[j[name] for name in j.columns],
        best.r_id,
        best.r_start,
        best.r_arr_raw,
        best.r_currency,
        best.prio,
    )
    j = j.left_join(
        r_rates, [j.r_currency == r_rates.currency, j.r_start == r_rates.on_date]
    ).select(*[j[name] for name in j.columns], r_rate=r_rates.rate)
    names = ledger.entities().select("entity_id", "name")
    j = j.join(names, "entity_id")
    out = j.select(
        "line_id",
        "entity_id",
        "name",
        "product",
        "end_date",
        "r_id",
        "r_start",
        "prio",
        "currency",
        "rate",
        "r_currency",
        "r_rate",
        arr=ledger.convert(j.arr_cents, j.currency, j.rate),
        r_arr=ledger.convert(j.r_arr_raw, j.r_currency, j.r_rate),
    ).order_by(["end_date", "line_id"])
    return ledger.engine.to_pyarrow(out)
