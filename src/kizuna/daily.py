"""The daily run: metrics → health → lifecycle → portfolio figures, as of a date.

``kizuna daily`` (and :func:`run_daily`) computes, for one date or a range of
dates, everything the book needs that day through the capabilities' own
service functions:

1. ``metrics``: :func:`kizuna.metrics.compute_metrics` (all dates in one pass);
2. ``health``: :func:`kizuna.health.compute_health_range`;
3. ``lifecycle``: :func:`kizuna.lifecycle.compute_lifecycle` through the last date;
4. ``portfolio``: the book-wide figures the UI reads (:func:`build_portfolio`),
   saved as a snapshot per date.

Every step replaces what an earlier run wrote for the same date (metric values
and health snapshots per date, lifecycle transitions from the first date, the
portfolio snapshot atomically), so running a date again is safe and a range
backfills. A step that fails raises :class:`DailyStepFailed`, naming the step.

Portfolio snapshot layout (under ``<KIZUNA_HOME>/daily``)::

    as_of=2025-06-30/
      accounts.parquet   one row per account: ARR, next renewal, health score,
                         band and 30-day change, lifecycle stage, overdue
                         onboarding milestones, attention reasons
      lifecycle.json     each account's lifecycle as its page shows it (stage
                         history, milestones, time to value), with a stamp of
                         the stored rows it came from
      portfolio.json     the same facts plus what pages sum per filter set:
                         each account's opening ARR and movement in the
                         month / quarter / year to date and the last twelve
                         months (and month by month), renewal lines, the
                         unfiltered cohort table and the onboarding report

The JSON is written and validated back through pydantic (never unpickled), so a
tampered or truncated file is an error, not code execution.
Figures are per account (no roll-up to parent accounts), so the sums over any
set of accounts equal what :mod:`kizuna.retention` computes for that set.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import TypeAdapter, ValidationError

from kizuna.clock import FixedClock
from kizuna.errors import KizunaError, NotFound
from kizuna.lifecycle import AccountLifecycle, LifecycleDefinition, OnboardingReport
from kizuna.platform import Platform
from kizuna.retention import DEFAULT_GRACE_DAYS, Ledger, arr_at, arr_movements, renewals
from kizuna.retention.cohorts import CohortRow, cohort_retention
from kizuna.retention.movements import AccountMovement, PeriodMovements, account_movements
from kizuna.retention.periods import Period, split_periods
from kizuna.retention.renewals import RenewalLine, RenewalTotals, summarise
from kizuna.settings import Settings

PORTFOLIO_FILE = "portfolio.json"
LIFECYCLE_FILE = "lifecycle.json"

__all__ = [
    "STEPS",
    "AccountFigures",
    "ArrBook",
    "DailyRun",
    "DailyStepFailed",
    "LifecycleBook",
    "LifecycleDetail",
    "PortfolioSnapshot",
    "StepResult",
    "accounts_matching",
    "arr_book_of",
    "build_lifecycle_book",
    "build_portfolio",
    "daily_dates",
    "latest_portfolio",
    "lifecycle_detail_of",
    "lifecycle_stamps",
    "portfolio_dates",
    "read_lifecycle_book",
    "read_portfolio",
    "run_daily",
]

STEPS = ("metrics", "health", "lifecycle", "portfolio")
#: A health drop of this many points over 30 days is an attention reason.
ATTENTION_DROP = 10.0
#: Months of ARR history kept per account.
ARR_HISTORY_MONTHS = 24
#: How far ahead contract lines are looked at for the next renewal.
RENEWAL_HORIZON_DAYS = 5 * 366
#: Period-to-date windows summed per filter set, and the last twelve months.
WINDOWS = ("month", "quarter", "year", "last12")

_DIR = re.compile(r"^as_of=(\d{4}-\d{2}-\d{2})$")


class DailyStepFailed(KizunaError):
    """A step of the daily run failed; ``step`` names it, the cause is chained."""

    def __init__(self, step: str, as_of: date, cause: Exception) -> None:
        super().__init__(f"daily run step '{step}' failed for {as_of.isoformat()}: {cause}")
        self.step = step
        self.as_of = as_of


# -- the book-wide figures -------------------------------------------------------------


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


# -- each account's lifecycle, as its page shows it ------------------------------------

OnboardingState = Literal["finished_on_time", "finished_late", "in_progress", "overdue"]


@dataclass(frozen=True, slots=True)
class StageStep:
    at: date
    stage_name: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class MilestoneRow:
    id: str
    name: str
    owner: str
    due: date
    status: str  # done | done_late | overdue | open
    done_on: date | None
    done_by: str | None


@dataclass
class LifecycleDetail:
    """One account's lifecycle as its page shows it (stage history newest first)."""

    stage: str | None
    stage_name: str | None
    since: date | None
    days_in_stage: int | None
    history: list[StageStep]
    milestones: list[MilestoneRow]
    contract_start: date | None
    time_to_value_days: int | None
    onboarding_planned: date | None
    onboarding_finished: date | None
    onboarding_state: OnboardingState | None


def _onboarding_state(life: AccountLifecycle, today: date) -> OnboardingState | None:
    planned, finished = life.onboarding_planned, life.onboarding_finished
    if planned is None:
        return None
    if finished is not None:
        return "finished_on_time" if finished <= planned else "finished_late"
    return "overdue" if today > planned else "in_progress"


def lifecycle_detail_of(
    life: AccountLifecycle, definition: LifecycleDefinition
) -> LifecycleDetail | None:
    """What the account page shows of :func:`kizuna.lifecycle.show_account`'s result
    (None: no stage history and no onboarding milestones)."""
    if not life.history and not life.milestones:
        return None

    def name_of(stage_id: str) -> str:
        stage = definition.stage(stage_id)
        return stage.name if stage else stage_id

    return LifecycleDetail(
        stage=life.stage,
        stage_name=life.stage_name or life.stage,
        since=life.since,
        days_in_stage=life.days_in_stage,
        history=[StageStep(t.date, name_of(t.to_stage), t.reason) for t in reversed(life.history)],
        milestones=[
            MilestoneRow(
                id=m.id,
                name=m.name,
                owner=m.owner,
                due=m.due,
                status=str(m.status),
                done_on=m.done,
                done_by=m.completed_by,
            )
            for m in life.milestones
        ],
        contract_start=life.contract_start,
        time_to_value_days=life.time_to_value_days,
        onboarding_planned=life.onboarding_planned,
        onboarding_finished=life.onboarding_finished,
        onboarding_state=_onboarding_state(life, life.as_of),
    )


def _book_lifecycles(
    platform: Platform, definition: LifecycleDefinition
) -> dict[str, AccountLifecycle]:
    """:func:`kizuna.lifecycle.show_account` of every account, from one book-wide evaluation."""
    from kizuna.lifecycle import show_accounts

    return show_accounts(platform, definition, platform.today())


def lifecycle_stamps(
    platform: Platform, definition: LifecycleDefinition, account_id: str | None = None
) -> dict[str, str]:
    """A digest, per account (or of ``account_id`` only), of what its lifecycle detail is built
    from in the store: segment, first contract start, milestone completions and stage
    transitions up to today, and the lifecycle definition.

    A detail saved by the daily run is shown only while its account's stamp is unchanged;
    a milestone marked done since (or a re-computed lifecycle, a new contract line, an
    edited definition) changes it, and the page computes the detail again.
    """
    import sqlalchemy as sa

    from kizuna.store.lifecycle_models import MilestoneCompletion, StageTransition
    from kizuna.store.models import Account, ContractLine

    def only(query: Any, column: Any) -> Any:
        return query if account_id is None else query.where(column == account_id)

    parts: dict[str, list[Any]] = defaultdict(list)
    with platform.store.session() as session:
        for a, segment in session.execute(only(sa.select(Account.id, Account.segment), Account.id)):
            parts[a].append(("account", segment))
        starts = sa.select(ContractLine.account_id, sa.func.min(ContractLine.start_date))
        starts = only(starts, ContractLine.account_id).group_by(ContractLine.account_id)
        for a, start in session.execute(starts):
            parts[a].append(("start", start))
        completions = sa.select(
            MilestoneCompletion.account_id,
            MilestoneCompletion.milestone_id,
            MilestoneCompletion.source,
            MilestoneCompletion.completed_on,
            MilestoneCompletion.completed_by,
            MilestoneCompletion.condition,
        )
        for row in session.execute(only(completions, MilestoneCompletion.account_id)):
            parts[row[0]].append(("completion", *(str(v) for v in row[1:])))
        transitions = sa.select(
            StageTransition.account_id,
            StageTransition.transition_date,
            StageTransition.from_stage,
            StageTransition.to_stage,
            StageTransition.reason,
        ).where(StageTransition.transition_date <= platform.today())
        for row in session.execute(only(transitions, StageTransition.account_id)):
            parts[row[0]].append(("transition", *(str(v) for v in row[1:])))
    common = definition.model_dump_json()
    return {
        a: hashlib.blake2b(repr((common, sorted(map(str, p)))).encode(), digest_size=16).hexdigest()
        for a, p in parts.items()
    }


@dataclass
class LifecycleBook:
    """Every account's lifecycle detail on ``as_of`` with the stamp it was computed at."""

    as_of: date
    stamps: dict[str, str]
    details: dict[str, LifecycleDetail | None]


def build_lifecycle_book(platform: Platform) -> LifecycleBook:
    """Each account's lifecycle detail as of ``platform.today()`` (what the account page shows).

    One evaluation of the whole book (:func:`kizuna.lifecycle.stages.evaluate_accounts`)
    instead of one per account and page view. Nothing is written.
    """
    from kizuna.lifecycle import definition_for

    definition = definition_for(platform.settings.home)
    stamps = lifecycle_stamps(platform, definition)
    lives = _book_lifecycles(platform, definition)
    return LifecycleBook(
        as_of=platform.today(),
        stamps={a: stamps[a] for a in lives if a in stamps},
        details={a: lifecycle_detail_of(life, definition) for a, life in lives.items()},
    )


# -- the snapshot files ----------------------------------------------------------------

ACCOUNTS_SCHEMA = pa.schema(
    [
        pa.field("account_id", pa.string()),
        pa.field("as_of", pa.date32()),
        pa.field("arr", pa.decimal128(18, 2)),
        pa.field("renewal_date", pa.date32()),
        pa.field("health_score", pa.float64()),
        pa.field("health_band", pa.string()),
        pa.field("health_change_30d", pa.float64()),
        pa.field("stage", pa.string()),
        pa.field("overdue_milestones", pa.int32()),
        pa.field("attention", pa.list_(pa.string())),
    ]
)


def daily_dir(settings: Settings) -> Path:
    """Folder of the daily run's portfolio snapshots."""
    return settings.home / "daily"


def _folder(settings: Settings, as_of: date) -> Path:
    return daily_dir(settings) / f"as_of={as_of.isoformat()}"


def _atomic_write(path: Path, write: Callable[[Any], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_portfolio(
    settings: Settings, snapshot: PortfolioSnapshot, lifecycle: LifecycleBook | None = None
) -> Path:
    """Write (or replace) the snapshot of its date; each file replaced atomically.

    ``lifecycle`` (each account's lifecycle detail) is saved with it; without it,
    a lifecycle file an earlier run saved for the date is removed.
    """
    folder = _folder(settings, snapshot.as_of)
    if lifecycle is not None:
        _atomic_write(
            folder / LIFECYCLE_FILE, lambda h: h.write(_lifecycle_json().dump_json(lifecycle))
        )
    else:
        (folder / LIFECYCLE_FILE).unlink(missing_ok=True)
    rows = [
        {
            "account_id": account_id,
            "as_of": snapshot.as_of,
            **{k: getattr(f, k) for k in AccountFigures.__slots__},
            "attention": list(f.attention),
        }
        for account_id, f in sorted(snapshot.facts.items())
    ]
    table = pa.Table.from_pylist(rows, schema=ACCOUNTS_SCHEMA)
    _atomic_write(
        folder / "accounts.parquet", lambda h: pq.write_table(table, h, compression="zstd")
    )
    # The JSON last: readers take its presence as "this date's snapshot is complete".
    _atomic_write(folder / PORTFOLIO_FILE, lambda h: h.write(_snapshot_json().dump_json(snapshot)))
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return folder


def portfolio_dates(settings: Settings) -> list[date]:
    """Dates with a complete portfolio snapshot, oldest first."""
    root = daily_dir(settings)
    if not root.exists():
        return []
    found = []
    for child in root.iterdir():
        match = _DIR.match(child.name)
        if match and (child / PORTFOLIO_FILE).exists():
            found.append(date.fromisoformat(match.group(1)))
    return sorted(found)


def portfolio_path(settings: Settings, as_of: date) -> Path:
    """The snapshot file pages read for ``as_of``."""
    return _folder(settings, as_of) / PORTFOLIO_FILE


def read_portfolio(settings: Settings, as_of: date) -> PortfolioSnapshot | None:
    """The portfolio snapshot of ``as_of`` (None: the daily run has not saved one)."""
    path = portfolio_path(settings, as_of)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return _snapshot_json().validate_json(data)
    except ValidationError as exc:
        raise KizunaError(
            f"the daily snapshot {path} is unreadable ({exc.error_count()} problems); "
            f"re-run 'kizuna daily --as-of {as_of}'"
        ) from None


@cache
def _snapshot_json() -> TypeAdapter[PortfolioSnapshot]:
    return TypeAdapter(PortfolioSnapshot)


def lifecycle_path(settings: Settings, as_of: date) -> Path:
    """The lifecycle details the account page reads for ``as_of``."""
    return _folder(settings, as_of) / LIFECYCLE_FILE


def read_lifecycle_book(settings: Settings, as_of: date) -> LifecycleBook | None:
    """The lifecycle details the daily run saved for ``as_of`` (None: none saved)."""
    path = lifecycle_path(settings, as_of)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return _lifecycle_json().validate_json(data)
    except ValidationError as exc:
        raise KizunaError(
            f"the daily lifecycle file {path} is unreadable ({exc.error_count()} problems); "
            f"re-run 'kizuna daily --as-of {as_of}'"
        ) from None


@cache
def _lifecycle_json() -> TypeAdapter[LifecycleBook]:
    return TypeAdapter(LifecycleBook)


def latest_portfolio(settings: Settings, on_or_before: date) -> date | None:
    """The newest snapshot date on or before ``on_or_before`` (None: none)."""
    dates = [d for d in portfolio_dates(settings) if d <= on_or_before]
    return dates[-1] if dates else None


# -- the run ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepResult:
    """One step of a daily run: what it did and how long it took (seconds)."""

    step: str
    seconds: float
    detail: str


@dataclass
class DailyRun:
    """The summary of ``kizuna daily``."""

    dates: list[date]
    steps: list[StepResult]
    seconds: float
    snapshots: list[Path]
    notes: list[str] = field(default_factory=list)


def daily_dates(
    as_of: date | None, start: date | None, end: date | None, today: date
) -> list[date]:
    """The dates a run covers: ``as_of``, every day of ``[start, end]``, else ``today``."""
    from kizuna.errors import InvalidInput, Problem

    problems = []
    if as_of is not None and (start or end):
        problems.append(Problem("give --as-of or --from/--to, not both", field="as_of"))
    if (start is None) != (end is None):
        problems.append(Problem("a range needs both --from and --to", field="from"))
    if start and end and end < start:
        problems.append(Problem("--to is before --from", field="to"))
    if problems:
        raise InvalidInput("invalid dates for the daily run", problems)
    if start is not None and end is not None:
        return [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return [as_of or today]


def platform_on(platform: Platform, day: date) -> Platform:
    """The platform with its clock stopped at noon of ``day`` in the business timezone."""
    noon = datetime.combine(day, clock_time(12), tzinfo=platform.settings.tz)
    return Platform(settings=platform.settings, store=platform.store, clock=FixedClock(noon))


def run_daily(
    platform: Platform,
    dates: Sequence[date],
    *,
    progress: Callable[[str, date, str], None] = lambda step, day, state: None,
    steps: dict[str, Callable[[Platform, list[date]], str]] | None = None,
) -> DailyRun:
    """Run the daily steps for ``dates`` (oldest first) and save each date's portfolio snapshot.

    ``progress(step, last_date, "start" | "done")`` is called around every
    step. ``steps`` replaces the step functions (tests inject a failing one);
    the default is :data:`STEPS` in order. Raises :class:`DailyStepFailed`.
    """
    days = sorted(set(dates))
    if not days:
        raise ValueError("no dates")
    chosen = steps if steps is not None else _default_steps()
    began = time.perf_counter()
    results = []
    for name, step in chosen.items():
        progress(name, days[-1], "start")
        t0 = time.perf_counter()
        try:
            detail = step(platform, days)
        except Exception as exc:
            raise DailyStepFailed(name, days[-1], exc) from exc
        results.append(StepResult(name, time.perf_counter() - t0, detail))
        progress(name, days[-1], "done")
    return DailyRun(
        dates=days,
        steps=results,
        seconds=time.perf_counter() - began,
        snapshots=[
            _folder(platform.settings, d)
            for d in days
            if portfolio_path(platform.settings, d).exists()
        ],
    )


def _metrics_step(platform: Platform, days: list[date]) -> str:
    from kizuna.metrics import compute_metrics

    run = compute_metrics(platform, days)
    return f"{len(run.metrics)} metrics × {run.accounts} accounts × {len(days)} date(s)"


def _health_step(platform: Platform, days: list[date]) -> str:
    from kizuna.health import compute_health_range

    scored = 0
    for day in days:
        for run in compute_health_range(platform, day, day):
            scored += run.scored
    return f"{scored} account scores on {len(days)} date(s)"


def _lifecycle_step(platform: Platform, days: list[date]) -> str:
    from kizuna.lifecycle import compute_lifecycle, definition_for

    # From the day after the previous run (lifecycle's own default): a re-run of
    # a date replaces its transitions; a gap since the last run is evaluated too.
    result = compute_lifecycle(platform, definition_for(platform.settings.home), days[-1])
    return f"{result.accounts} accounts, {result.transitions_written} transitions"


def _portfolio_step(platform: Platform, days: list[date]) -> str:
    for day in days:
        on_day = platform_on(platform, day)
        write_portfolio(platform.settings, build_portfolio(on_day), build_lifecycle_book(on_day))
    return f"{len(days)} snapshot(s)"


def _default_steps() -> dict[str, Callable[[Platform, list[date]], str]]:
    return {
        "metrics": _metrics_step,
        "health": _health_step,
        "lifecycle": _lifecycle_step,
        "portfolio": _portfolio_step,
    }
