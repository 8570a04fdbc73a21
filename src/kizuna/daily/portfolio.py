"""The portfolio snapshot: the book-wide figures of one date, as the UI reads them.

Each account's ARR, next renewal, health, lifecycle stage and attention reasons
(:class:`AccountFigures`), its ARR history (:func:`arr_book_of`) and what pages sum
per filter set (:class:`Window`, :meth:`PortfolioSnapshot.monthly`), computed by
:func:`build_portfolio` from the capabilities' own service functions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kizuna.errors import KizunaError, NotFound
from kizuna.health.report import list_health
from kizuna.health.snapshots import snapshot_dates
from kizuna.lifecycle import OnboardingReport, current_stages, definition_for, onboarding_report
from kizuna.platform import Platform
from kizuna.portfolio.attention import attention_reasons
from kizuna.retention import DEFAULT_GRACE_DAYS, Ledger, arr_at, renewals
from kizuna.retention.cohorts import CohortRow, cohort_points, cohort_retention
from kizuna.retention.movements import (
    AccountMovement,
    PeriodMovements,
    account_movements,
    points_for,
)
from kizuna.retention.periods import Period, split_periods
from kizuna.retention.renewals import RenewalLine, RenewalReport, RenewalTotals, summarise
from kizuna.store.models import Account

__all__ = [
    "ARR_HISTORY_MONTHS",
    "RENEWAL_HORIZON_DAYS",
    "WINDOWS",
    "AccountFigures",
    "ArrBook",
    "PortfolioSnapshot",
    "Window",
    "accounts_matching",
    "arr_book_of",
    "build_portfolio",
    "window_start",
]

#: Months of ARR history kept per account (one more than the cohort heat map's 24 months,
#: so every cell's month end is in it).
ARR_HISTORY_MONTHS = 25
#: How far ahead contract lines are looked at for the next renewal.
RENEWAL_HORIZON_DAYS = 5 * 366
#: The first contract start the book-wide onboarding report covers (all of them).
EPOCH = date(1900, 1, 1)
#: Period-to-date windows summed per filter set, and the last twelve months.
WINDOWS = ("month", "quarter", "year", "last12")


@dataclass(frozen=True, slots=True)
class AccountFigures:
    """What lists, headers and the attention list show of one account (None: not computed).

    ``stage`` is the lifecycle stage id (its label comes from the definition).
    """

    arr: Decimal | None = None
    health_score: float | None = None
    health_band: str | None = None
    health_change_30d: float | None = None
    stage: str | None = None
    renewal_date: date | None = None
    overdue_milestones: int | None = None
    #: Reasons of :func:`kizuna.portfolio.attention_reasons` ("red", "drop", "overdue").
    attention: tuple[str, ...] = ()
    #: Month of the first day with ARR ("2025-03"): the account's retention cohort.
    cohort: str | None = None


@dataclass
class ArrBook:
    """Each account's ARR today, at every month end of the history, its next renewal and its
    retention cohort (the month of its first day with ARR, as "2025-03")."""

    arr: dict[str, Decimal]
    months: list[date]
    history: dict[str, list[Decimal]]
    renewal: dict[str, date]
    cohort: dict[str, str] = field(default_factory=dict)


def _month_start(day: date, months_back: int) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def _renewals_once(ledger: Ledger, today: date, earliest: date) -> RenewalReport:
    """Every line up for renewal from ``earliest`` (and the grace period) to the horizon,
    as of ``today``: one query whose lines the next renewal and each window filter."""
    start = min(earliest, today - timedelta(days=DEFAULT_GRACE_DAYS + 1))
    return renewals(ledger, start, today + timedelta(days=RENEWAL_HORIZON_DAYS), as_of=today)


def arr_book_of(ledger: Ledger, today: date, due: RenewalReport | None = None) -> ArrBook:
    """ARR per account now, at each month end of the last :data:`ARR_HISTORY_MONTHS`, next renewal.

    * month ends: the opening ARR (:func:`kizuna.retention.arr_at` the day before) and
      every account's monthly movement (:func:`kizuna.retention.movements.account_movements`);
    * ARR today: the last month end's (the history ends today), where it is above 0;
    * next renewal: the earliest ``renewal_date`` of the account's lines still
      open for renewal (:func:`kizuna.retention.renewals` and its grace period);
    * cohort: the month of the account's first day with ARR
      (:meth:`kizuna.retention.Ledger.first_arr_dates`), as retention's cohorts count it.

    ``due`` (lines up for renewal over a wider range, as of ``today``) saves the query.
    """
    start = _month_start(today, ARR_HISTORY_MONTHS - 1)
    opening = arr_at(ledger, start - timedelta(days=1))
    periods = split_periods(start, today, "month")
    months = [p.end for p in periods]
    index = {m: i for i, m in enumerate(months)}
    changes: dict[str, dict[int, Decimal]] = defaultdict(dict)
    for m in account_movements(ledger, periods):
        changes[m.account_id][index[m.period_end]] = m.end_arr
    history: dict[str, list[Decimal]] = {}
    first = {a.account_id: a.arr for a in opening.accounts}
    for account_id in set(first) | set(changes):
        value = first.get(account_id, Decimal("0.00"))
        series = []
        for i in range(len(months)):
            value = changes[account_id].get(i, value)
            series.append(value)
        history[account_id] = series
    if due is None:
        due = _renewals_once(ledger, today, today)
    renewal: dict[str, date] = {}
    for line in due.lines:
        if line.status == "open" and line.end_date >= today - timedelta(
            days=DEFAULT_GRACE_DAYS + 1
        ):
            known = renewal.get(line.account_id)
            renewal[line.account_id] = min(known or line.renewal_date, line.renewal_date)
    cohort = {
        row["entity_id"]: row["first_date"].strftime("%Y-%m")
        for row in ledger.engine.to_pyarrow(ledger.first_arr_dates()).to_pylist()
        if row["first_date"] <= today
    }
    return ArrBook(
        # today is the history's last month end: ARR > 0 there is the ARR today
        arr={a: series[-1] for a, series in history.items() if series[-1] > 0},
        months=months,
        history=history,
        renewal=renewal,
        cohort=cohort,
    )


def _opening(ledger: Ledger, book: ArrBook, day: date) -> dict[str, Decimal]:
    """ARR > 0 per account on ``day``: read from the ARR history when ``day`` is one of its
    month ends (every window opens the day after one), else :func:`arr_at`."""
    if day in book.months:
        i = book.months.index(day)
        found = [(series[i], a) for a, series in book.history.items() if series[i] > 0]
        return {a: arr for arr, a in sorted(found, key=lambda x: (-x[0], x[1]))}
    return {a.account_id: a.arr for a in arr_at(ledger, day).accounts}


def window_start(today: date, window: str) -> date:
    """First day of the month, quarter or year to date, or of the last twelve months."""
    if window == "month":
        return today.replace(day=1)
    if window == "year":
        return today.replace(month=1, day=1)
    if window == "last12":
        return date(today.year - 1, today.month, 1)
    return today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1)


@dataclass
class Window:
    """One window ``[start, end]``: opening ARR and movement per account, renewal lines."""

    start: date
    end: date
    opening: dict[str, Decimal]
    moves: dict[str, AccountMovement]
    lines: list[RenewalLine]

    def movements(self, accounts: Collection[str] | None) -> PeriodMovements:
        """The window's movements over ``accounts`` (None: all), summed as retention does."""
        return _sum_moves(self.start, self.end, self.opening, self.moves.values(), accounts)

    def renewal_totals(self, accounts: Collection[str] | None) -> RenewalTotals:
        """Renewal totals of the window's lines of ``accounts`` (None: all)."""
        return summarise(
            line for line in self.lines if accounts is None or line.account_id in accounts
        )


def _sum_moves(
    start: date,
    end: date,
    opening: dict[str, Decimal],
    moves: Any,
    accounts: Collection[str] | None,
) -> PeriodMovements:
    zero = Decimal("0.00")
    amounts = dict.fromkeys(("new", "expansion", "contraction", "churn", "reactivation"), zero)
    counts = dict.fromkeys(("new", "reactivation", "churn"), 0)
    for m in moves:
        if accounts is None or m.account_id in accounts:
            amounts[m.movement] += m.amount
            if m.movement in counts:
                counts[m.movement] += 1
    start_arr = sum(
        (v for a, v in opening.items() if accounts is None or a in accounts), start=zero
    )
    logos = sum(1 for a, v in opening.items() if v > 0 and (accounts is None or a in accounts))
    end_arr = start_arr + amounts["new"] + amounts["reactivation"] + amounts["expansion"]
    end_arr -= amounts["contraction"] + amounts["churn"]
    return PeriodMovements(
        period_start=start,
        period_end=end,
        start_arr=start_arr,
        new=amounts["new"],
        expansion=amounts["expansion"],
        contraction=amounts["contraction"],
        churn=amounts["churn"],
        reactivation=amounts["reactivation"],
        end_arr=end_arr,
        accounts_start=logos,
        accounts_end=logos + counts["new"] + counts["reactivation"] - counts["churn"],
        accounts_new=counts["new"],
        accounts_reactivated=counts["reactivation"],
        accounts_churned=counts["churn"],
    )


@dataclass
class PortfolioSnapshot:
    """The book-wide figures of one date, as the UI reads them."""

    as_of: date
    computed_at: datetime
    facts: dict[str, AccountFigures]
    arr_months: list[date]
    arr_history: dict[str, list[Decimal]]
    windows: dict[str, Window]
    #: The last twelve months, month by month: (period, opening ARR, movements).
    months: list[Period]
    monthly_opening: dict[str, Decimal]
    monthly_moves: list[AccountMovement]
    cohorts: list[CohortRow] | None
    onboarding: OnboardingReport | None
    notes: list[str] = field(default_factory=list)

    def monthly(self, accounts: Collection[str] | None) -> list[PeriodMovements]:
        """Movements of each month of the last twelve over ``accounts`` (None: all)."""
        out = []
        opening = {
            a: v for a, v in self.monthly_opening.items() if accounts is None or a in accounts
        }
        by_month: dict[date, list[AccountMovement]] = defaultdict(list)
        for m in self.monthly_moves:
            by_month[m.period_end].append(m)
        for period in self.months:
            moves = by_month[period.end]
            row = _sum_moves(period.start, period.end, opening, moves, accounts)
            out.append(row)
            for m in moves:
                if accounts is None or m.account_id in accounts:
                    opening[m.account_id] = m.end_arr
        return out


def _health(
    platform: Platform, as_of: date
) -> dict[str, tuple[float | None, str | None, float | None]]:
    """Score, band and 30-day change of the newest health snapshot on or before ``as_of``."""
    dates = [d for d in snapshot_dates(platform.settings) if d <= as_of]
    if not dates:
        return {}
    try:
        listing = list_health(platform.settings, as_of=dates[-1])
    except NotFound:
        return {}
    return {
        r["account_id"]: (r["score"], r["band"], r.get("change_30d")) for r in listing["accounts"]
    }


def _points_measured(
    ledger: Ledger, today: date, starts: Collection[date], months: list[Period]
) -> list[date]:
    """Every day the snapshot measures ARR at: today, the ARR history's month ends (and the
    day before them), the windows' opening days, the last twelve months' ends and the
    cohorts' month ends; measured once (:meth:`Ledger.prepare_points`)."""
    history = split_periods(_month_start(today, ARR_HISTORY_MONTHS - 1), today, "month")
    points = {today, *points_for(history), *points_for(months)}
    points.update(start - timedelta(days=1) for start in starts)
    earliest = ledger.first_arr_date()
    if earliest is not None:
        points.update(cohort_points(earliest, today))
    return sorted(points)


def build_portfolio(
    platform: Platform,
    as_of: date,
    *,
    stages: dict[str, str] | None = None,
    onboarding: OnboardingReport | None = None,
) -> PortfolioSnapshot:
    """Compute the book-wide figures as of ``as_of`` from the services' results.

    Reads the stored health snapshots and lifecycle transitions (the daily
    run's earlier steps), the contract ledger (per account, no roll-up) and the
    event lake (onboarding). Nothing is written.

    ``stages`` (each account's stage id on ``as_of``) and ``onboarding`` (the book-wide
    onboarding report) are what the lifecycle step saved; without them they are
    computed here (one more evaluation of the book's lifecycle).
    """
    today = as_of
    notes: list[str] = []
    with Ledger.load(platform.store, platform.settings, rollup=False) as ledger:
        starts = {name: window_start(today, name) for name in WINDOWS}
        months = split_periods(window_start(today, "last12"), today, "month")
        ledger.prepare_points(_points_measured(ledger, today, starts.values(), months))
        due = _renewals_once(ledger, today, min(starts.values()))
        book = arr_book_of(ledger, today, due)
        windows = {}
        for name in WINDOWS:
            start = starts[name]
            moves = account_movements(ledger, [Period(start, today)])
            windows[name] = Window(
                start=start,
                end=today,
                opening=_opening(ledger, book, start - timedelta(days=1)),
                moves={m.account_id: m for m in moves},
                lines=[line for line in due.lines if start <= line.end_date <= today],
            )
        monthly = account_movements(ledger, months)
        cohorts = cohort_retention(ledger, as_of=today).rows
    monthly_opening = windows["last12"].opening
    health = _health(platform, today)
    if not health:
        notes.append("no health snapshot on or before this date")
    if stages is None:
        stages = current_stages(platform, until=today)
    if onboarding is None:
        try:
            definition = definition_for(platform.settings.home)
            onboarding = onboarding_report(platform, definition, EPOCH, today, today)
        except KizunaError as exc:
            notes.append(f"onboarding outcomes unavailable: {exc}")
    overdue = (
        {r.account_id: r.overdue_milestones for r in onboarding.accounts} if onboarding else {}
    )
    facts = {}
    for account_id in set(book.arr) | set(book.renewal) | set(health) | set(stages):
        score, band, change = health.get(account_id, (None, None, None))
        late = overdue.get(account_id) if onboarding else None
        facts[account_id] = AccountFigures(
            arr=book.arr.get(account_id),
            health_score=score,
            health_band=band,
            health_change_30d=change,
            stage=stages.get(account_id),
            renewal_date=book.renewal.get(account_id),
            overdue_milestones=late,
            attention=attention_reasons(band, change, late),
            cohort=book.cohort.get(account_id),
        )
    return PortfolioSnapshot(
        as_of=today,
        computed_at=platform.clock.now(),
        facts=facts,
        arr_months=book.months,
        arr_history=book.history,
        windows=windows,
        months=months,
        monthly_opening=monthly_opening,
        monthly_moves=monthly,
        cohorts=cohorts,
        onboarding=onboarding,
        notes=notes,
    )


def accounts_matching(platform: Platform, filters: Any) -> set[str] | None:
    """Ids of the accounts a :class:`~kizuna.retention.LedgerFilters` selects (None: every one).

    The same attributes the ledger filters on (segment, region, owner), read
    from the store now, so a page's sums follow the accounts' current owners.
    """
    if filters.segment is None and filters.region is None and filters.owner is None:
        return None
    query = sa.select(Account.id)
    if filters.segment is not None:
        query = query.where(Account.segment == filters.segment)
    if filters.region is not None:
        query = query.where(Account.region == filters.region)
    if filters.owner is not None:
        query = query.where(Account.owner_id == filters.owner)
    with platform.store.session() as session:
        return set(session.scalars(query))
