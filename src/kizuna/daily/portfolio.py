"""The portfolio snapshot: the book-wide figures of one date, as the UI reads them.

Each account's ARR, next renewal, health, lifecycle stage and attention reasons
(:class:`AccountFigures`), its ARR history (:func:`arr_book_of`) and what pages sum
per filter set (:class:`Window`, :meth:`PortfolioSnapshot.monthly`), computed by
:func:`build_portfolio` from the capabilities' own service functions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from kizuna.errors import KizunaError, NotFound
from kizuna.lifecycle import OnboardingReport
from kizuna.platform import Platform
from kizuna.retention import DEFAULT_GRACE_DAYS, Ledger, arr_at, arr_movements, renewals
from kizuna.retention.cohorts import CohortRow, cohort_retention
from kizuna.retention.movements import AccountMovement, PeriodMovements, account_movements
from kizuna.retention.periods import Period, split_periods
from kizuna.retention.renewals import RenewalLine, RenewalTotals, summarise

__all__ = [
    "ARR_HISTORY_MONTHS",
    "ATTENTION_DROP",
    "RENEWAL_HORIZON_DAYS",
    "WINDOWS",
    "AccountFigures",
    "ArrBook",
    "PortfolioSnapshot",
    "Window",
    "accounts_matching",
    "arr_book_of",
    "attention_reasons",
    "build_portfolio",
    "window_start",
]

#: A health drop of this many points over 30 days is an attention reason.
ATTENTION_DROP = 10.0
#: Months of ARR history kept per account.
ARR_HISTORY_MONTHS = 24
#: How far ahead contract lines are looked at for the next renewal.
RENEWAL_HORIZON_DAYS = 5 * 366
#: Period-to-date windows summed per filter set, and the last twelve months.
WINDOWS = ("month", "quarter", "year", "last12")


@dataclass(frozen=True, slots=True)
class AccountFigures:
    """What lists, headers and the attention list show of one account (None: not computed)."""

    arr: Decimal | None = None
    health_score: float | None = None
    health_band: str | None = None
    health_change_30d: float | None = None
    stage: str | None = None
    renewal_date: date | None = None
    overdue_milestones: int | None = None
    attention: tuple[str, ...] = ()


@dataclass
class ArrBook:
    """Each account's ARR today, at every month end of the history, and its next renewal."""

    arr: dict[str, Decimal]
    months: list[date]
    history: dict[str, list[Decimal]]
    renewal: dict[str, date]


def _month_start(day: date, months_back: int) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def arr_book_of(ledger: Ledger, today: date) -> ArrBook:
    """ARR per account now, at each month end of the last :data:`ARR_HISTORY_MONTHS`, next renewal.

    * ARR today: :func:`kizuna.retention.arr_at`;
    * month ends: the opening ARR (``arr_at`` the day before) and every
      account's monthly movement (:func:`kizuna.retention.arr_movements`);
    * next renewal: the earliest ``renewal_date`` of the account's lines still
      open for renewal (:func:`kizuna.retention.renewals` and its grace period).
    """
    start = _month_start(today, ARR_HISTORY_MONTHS - 1)
    now = arr_at(ledger, today)
    opening = arr_at(ledger, start - timedelta(days=1))
    moves = arr_movements(ledger, start, today, with_accounts=True)
    months = [p.period_end for p in moves.periods]
    index = {m: i for i, m in enumerate(months)}
    changes: dict[str, dict[int, Decimal]] = defaultdict(dict)
    for m in moves.accounts or []:
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
    due = renewals(
        ledger,
        today - timedelta(days=DEFAULT_GRACE_DAYS + 1),
        today + timedelta(days=RENEWAL_HORIZON_DAYS),
        as_of=today,
    )
    renewal: dict[str, date] = {}
    for line in due.lines:
        if line.status == "open":
            known = renewal.get(line.account_id)
            renewal[line.account_id] = min(known or line.renewal_date, line.renewal_date)
    return ArrBook(
        arr={a.account_id: a.arr for a in now.accounts},
        months=months,
        history=history,
        renewal=renewal,
    )


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


def _with_ledger(platform: Platform, work: Callable[[Ledger], Any]) -> Any:
    with Ledger.load(platform.store, platform.settings, rollup=False) as ledger:
        return work(ledger)


def _health(platform: Platform) -> dict[str, tuple[float | None, str | None, float | None]]:
    from kizuna.health.report import list_health
    from kizuna.health.snapshots import snapshot_dates

    dates = [d for d in snapshot_dates(platform.settings) if d <= platform.today()]
    if not dates:
        return {}
    try:
        listing = list_health(platform.settings, as_of=dates[-1])
    except NotFound:
        return {}
    return {
        r["account_id"]: (r["score"], r["band"], r.get("change_30d")) for r in listing["accounts"]
    }


def _stages(platform: Platform) -> dict[str, str]:
    from kizuna.lifecycle import definition_for, stored_transitions

    transitions = stored_transitions(platform, until=platform.today())
    definition = definition_for(platform.settings.home)
    out = {}
    for account_id, history in transitions.items():
        stage = definition.stage(history[-1].to_stage)
        out[account_id] = stage.name if stage else history[-1].to_stage
    return out


def _onboarding(platform: Platform) -> Any:
    from kizuna.lifecycle import definition_for, onboarding_report

    today = platform.today()
    return onboarding_report(
        platform, definition_for(platform.settings.home), date(1900, 1, 1), today, today
    )


def attention_reasons(
    band: str | None, change_30d: float | None, overdue: int | None
) -> tuple[str, ...]:
    """Why an account needs attention: ``red`` band, 30-day health ``drop``, ``overdue``."""
    reasons = []
    if band == "red":
        reasons.append("red")
    if change_30d is not None and change_30d <= -ATTENTION_DROP:
        reasons.append("drop")
    if overdue:
        reasons.append("overdue")
    return tuple(reasons)


def build_portfolio(platform: Platform) -> PortfolioSnapshot:
    """Compute the book-wide figures as of ``platform.today()`` from the services' results.

    Reads the stored health snapshots and lifecycle transitions (the daily
    run's earlier steps), the contract ledger (per account, no roll-up) and the
    event lake (onboarding). Nothing is written.
    """
    today = platform.today()
    notes: list[str] = []

    def work(ledger: Ledger) -> tuple[ArrBook, dict[str, Window], list[Period], Any, Any, Any]:
        book = arr_book_of(ledger, today)
        windows = {}
        for name in WINDOWS:
            start = window_start(today, name)
            opening = arr_at(ledger, start - timedelta(days=1))
            moves = account_movements(ledger, [Period(start, today)])
            windows[name] = Window(
                start=start,
                end=today,
                opening={a.account_id: a.arr for a in opening.accounts},
                moves={m.account_id: m for m in moves},
                lines=renewals(ledger, start, today, as_of=today).lines,
            )
        months = split_periods(window_start(today, "last12"), today, "month")
        monthly = account_movements(ledger, months)
        cohorts = cohort_retention(ledger, as_of=today).rows
        return book, windows, months, windows["last12"].opening, monthly, cohorts

    book, windows, months, monthly_opening, monthly, cohorts = _with_ledger(platform, work)
    health = _health(platform)
    if not health:
        notes.append("no health snapshot on or before this date")
    stages = _stages(platform)
    try:
        onboarding = _onboarding(platform)
    except KizunaError as exc:
        onboarding = None
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
    import sqlalchemy as sa

    from kizuna.store.models import Account

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
