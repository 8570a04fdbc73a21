"""Lifecycle stages: evaluation, transitions and their reproducible history.

Every day an account that has become a customer is in exactly one stage: the
first stage of the definition whose entry rule holds on that day, using only
data known that day. A *transition* is recorded whenever the stage differs
from the day before, with the date and the reason (the conditions that held).

``compute_lifecycle(as_of=D)`` evaluates every day from the day after the
previous run (or, for an account with no history yet, from its contract start)
through D, then *replaces* the stored transitions of that range. Because each
day's stage is a function of data known that day, computing a range in one go,
day by day, or again later for past dates gives the same transitions.
Manual milestone completions are user data and are never touched here.

The evaluation is columnar (:mod:`kizuna.lifecycle.grid` over one
:func:`~kizuna.lifecycle.book.load_book`); only transitions and automatic
completions are written, in bulk.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from kizuna.errors import InvalidInput, NotFound, Problem
from kizuna.lake.layout import LakeLayout
from kizuna.lake.reader import committed_parts
from kizuna.lifecycle import state as run_state
from kizuna.lifecycle.book import attach_usage, collector_paused, load_book, tracking_start
from kizuna.lifecycle.definitions import LifecycleDefinition
from kizuna.lifecycle.grid import (
    CATCH_ALL_REASON,
    AccountResult,
    Known,
    Transition,
    evaluate_book,
    first_day_read,
)
from kizuna.lifecycle.milestones import MilestoneStatus, milestone_statuses
from kizuna.platform import Platform
from kizuna.store.lifecycle_models import (
    CompletionSource,
    LifecycleRun,
    MilestoneCompletion,
    StageTransition,
)
from kizuna.store.models import Account, ContractLine

__all__ = [
    "CATCH_ALL_REASON",
    "AccountLifecycle",
    "ComputeResult",
    "Evaluation",
    "Transition",
    "complete_milestone",
    "compute_and_keep",
    "compute_lifecycle",
    "evaluate_accounts",
    "lifecycles_of",
    "show_account",
    "show_accounts",
    "stored_transitions",
]

#: Kept for callers that named the evaluated account type.
Evaluated = AccountResult


@dataclass(frozen=True)
class ComputeResult:
    as_of: date
    from_date: date | None
    accounts: int
    transitions_written: int
    automatic_completions: int
    stages: dict[str, int] = field(default_factory=dict)
    #: accounts advanced from the previous run (evaluated on the days since it only)
    advanced: int = 0


@dataclass(frozen=True)
class Evaluation:
    """The evaluation a :func:`compute_and_keep` stored: each account's schedule, completions
    and new transitions through ``as_of``, so later steps build their views from it instead of
    evaluating the book again."""

    as_of: date
    accounts: dict[str, AccountResult]
    #: The day onboarding tracking began (None: every account is tracked).
    tracking_started: date | None


@dataclass(frozen=True)
class AccountLifecycle:
    """What ``kizuna lifecycle show`` reports for one account."""

    account_id: str
    name: str
    segment: str | None
    as_of: date
    contract_start: date | None
    stage: str | None
    stage_name: str | None
    since: date | None
    days_in_stage: int | None
    reason: str | None
    history: list[Transition]
    #: False: a customer before onboarding tracking began (treated as onboarded)
    onboarding_tracked: bool | None
    milestones: list[MilestoneStatus]
    time_to_value_days: int | None
    onboarding_planned: date | None
    onboarding_finished: date | None


def evaluate_accounts(
    platform: Platform,
    definition: LifecycleDefinition,
    as_of: date,
    account_ids: list[str] | None = None,
) -> dict[str, AccountResult]:
    """Load accounts known on ``as_of`` and evaluate their milestones and stages up to it.

    Accounts whose first contract line has not started by ``as_of`` are left out.
    Each result's ``ctx`` (its :class:`~kizuna.lifecycle.milestones.Schedule`) and
    ``completions`` give :func:`~kizuna.lifecycle.milestones.milestone_statuses`.
    """
    return evaluate_book(load_book(platform, definition, as_of, account_ids), definition)


def compute_lifecycle(
    platform: Platform,
    definition: LifecycleDefinition,
    as_of: date,
    *,
    from_date: date | None = None,
) -> ComputeResult:
    """Evaluate stages and milestones through ``as_of`` and store the results
    (:func:`compute_and_keep` without the evaluation)."""
    return compute_and_keep(platform, definition, as_of, from_date=from_date)[0]


def compute_and_keep(
    platform: Platform,
    definition: LifecycleDefinition,
    as_of: date,
    *,
    from_date: date | None = None,
) -> tuple[ComputeResult, Evaluation]:
    """Evaluate stages and milestones through ``as_of``, store the results and return them
    with the evaluation they came from.

    ``from_date`` (default: the day after the latest earlier run) is the first
    day re-evaluated; accounts with no stored transition before it are evaluated
    from their contract start. Stored transitions in the evaluated range are
    replaced; automatic completions dated on or before ``as_of`` are replaced.
    """
    if from_date is not None and from_date > as_of:
        raise InvalidInput(
            "the range is empty",
            [Problem(f"--from {from_date} is after --as-of {as_of}", field="from_date")],
        )
    with collector_paused():
        return _compute_and_keep(platform, definition, as_of, from_date)


def _compute_and_keep(
    platform: Platform, definition: LifecycleDefinition, as_of: date, from_date: date | None
) -> tuple[ComputeResult, Evaluation]:
    store = platform.store
    previous: dict[str, tuple[date, str | None]] = {}
    known: dict[str, Known] = {}
    with store.session() as session:
        if from_date is None:
            last = session.scalar(
                sa.select(sa.func.max(LifecycleRun.as_of)).where(LifecycleRun.as_of < as_of)
            )
            from_date = last + timedelta(days=1) if last is not None else None
        covered = None
        if from_date is not None:
            # the latest run through the day before the range or later: its automatic
            # completions before the range are all of them (a milestone not among them
            # had not completed)
            covered = session.scalar(
                sa.select(sa.func.max(LifecycleRun.as_of)).where(
                    LifecycleRun.as_of >= from_date - timedelta(days=1)
                )
            )
            covered = None if covered is None else covered + timedelta(days=1)
            latest = (
                sa.select(
                    StageTransition.account_id,
                    sa.func.max(StageTransition.transition_date).label("d"),
                )
                .where(StageTransition.transition_date < from_date)
                .group_by(StageTransition.account_id)
                .subquery()
            )
            q = sa.select(StageTransition.account_id, StageTransition.to_stage).join(
                latest,
                sa.and_(
                    StageTransition.account_id == latest.c.account_id,
                    StageTransition.transition_date == latest.c.d,
                ),
            )
            previous = {a: (from_date, stage) for a, stage in session.execute(q)}
            # milestones settled before the range: accounts whose every rule has a stored
            # first day have only their stages evaluated, from the range on
            for a, m, day, condition in session.execute(
                sa.select(
                    MilestoneCompletion.account_id,
                    MilestoneCompletion.milestone_id,
                    MilestoneCompletion.completed_on,
                    MilestoneCompletion.condition,
                ).where(
                    MilestoneCompletion.source == CompletionSource.AUTOMATIC,
                    MilestoneCompletion.completed_on < from_date,
                )
            ):
                known.setdefault(a, {})[m] = (day, condition)

    book = load_book(platform, definition, as_of, with_usage=False)
    home = platform.settings.home
    parts = committed_parts(LakeLayout(platform.settings.lake_dir))
    # Advance from the previous run only while what it computed from is unchanged
    # (kizuna.lifecycle.state); else every account from its contract start.
    trusted = from_date is not None and covered is not None and covered >= from_date
    if trusted:
        assert from_date is not None
        since, open_rows, advanced = first_day_read(book, definition, previous, known, pending=True)
        starts = book.contract_starts()
        attach_usage(platform, definition, book, since, {int(i): int(starts[i]) for i in open_rows})
        before = from_date - timedelta(days=1)
        lake = run_state.lake_digest(parts, before, platform.settings.tz)
        digest = run_state.fingerprint(book, definition, lake, before)
        trusted = run_state.advances_from(home, before, digest)
    if not trusted:
        advanced = 0
        attach_usage(platform, definition, book, None)
    results = evaluate_book(book, definition, previous, known if trusted else None, pending=trusted)
    now = platform.clock.now()
    final_stages: Counter[str] = Counter()
    finals: dict[str, str | None] = {}
    rows: list[dict[str, Any]] = []
    for account_id, res in results.items():
        prev = previous.get(account_id)
        final = res.transitions[-1].to_stage if res.transitions else (prev[1] if prev else None)
        finals[account_id] = final
        if final is not None:
            final_stages[final] += 1
        rows.extend(
            {
                "account_id": account_id,
                "transition_date": t.date,
                "from_stage": t.from_stage,
                "to_stage": t.to_stage,
                "reason": t.reason,
                "computed_at": now,
            }
            for t in res.transitions
        )
    with store.session() as session:
        # Replace the range for every account at once; accounts without a started
        # contract (no result) lose their stale transitions in the range too.
        replace = sa.delete(StageTransition).where(StageTransition.transition_date <= as_of)
        if from_date is not None:
            replace = replace.where(StageTransition.transition_date >= from_date)
        session.execute(replace)
        if rows:  # the table's insert (one executemany), not the ORM's bulk path
            session.execute(sa.insert(_table(StageTransition)), rows)
        _chain_next(session, as_of, finals)
        auto_written = _sync_automatic(session, results, as_of, now)
        session.execute(sa.delete(LifecycleRun).where(LifecycleRun.as_of == as_of))
        session.add(
            LifecycleRun(
                as_of=as_of,
                from_date=from_date
                or min((r.schedule.anchor for r in results.values()), default=as_of),
                accounts=len(results),
                transitions=len(rows),
                computed_at=now,
            )
        )
    lake = run_state.lake_digest(parts, as_of, platform.settings.tz)
    run_state.record(home, as_of, run_state.fingerprint(book, definition, lake, as_of))
    order = [s.id for s in definition.stages]
    result = ComputeResult(
        as_of=as_of,
        from_date=from_date,
        accounts=len(results),
        transitions_written=len(rows),
        automatic_completions=auto_written,
        stages={s: final_stages[s] for s in order if final_stages[s]},
        advanced=advanced,
    )
    return result, Evaluation(as_of, results, book.tracking_started)


def _chain_next(session: sa.orm.Session, as_of: date, finals: dict[str, str | None]) -> None:
    """Keep each account's stored transition after the recomputed range consistent with it."""
    later = session.scalars(
        sa.select(StageTransition)
        .where(StageTransition.transition_date > as_of)
        .order_by(StageTransition.account_id, StageTransition.transition_date)
    ).all()
    seen: set[str] = set()
    for nxt in later:
        if nxt.account_id in seen or nxt.account_id not in finals:
            continue
        seen.add(nxt.account_id)
        final = finals[nxt.account_id]
        if nxt.to_stage == final:
            session.delete(nxt)
        elif nxt.from_stage != final:
            nxt.from_stage = final


def _table(model: Any) -> sa.Table:
    """The model's table: statements on it run as plain (executemany) table statements,
    not through the ORM's per-object or bulk paths."""
    table: sa.Table = model.__table__
    return table


def _sync_automatic(
    session: sa.orm.Session, results: dict[str, AccountResult], as_of: date, now: datetime
) -> int:
    """Replace the automatic completions dated on or before ``as_of`` of evaluated accounts.

    Through the table (rows, one executemany per kind of change), not ORM objects: the
    evaluated book has one row per account and milestone.
    """
    table = _table(MilestoneCompletion)
    stored = {
        (a, m): (row_id, completed_on, condition)
        for row_id, a, m, completed_on, condition in session.execute(
            sa.select(
                table.c.id,
                table.c.account_id,
                table.c.milestone_id,
                table.c.completed_on,
                table.c.condition,
            ).where(table.c.source == CompletionSource.AUTOMATIC)
        )
    }
    removed: list[dict[str, Any]] = []
    added: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    for account_id, res in results.items():
        for m in res.schedule.template.milestones:
            c = res.completions.get(m.id)
            auto_on = c.automatic_on if c else None
            row = stored.get((account_id, m.id))
            if auto_on is None:
                if row is not None and row[1] <= as_of:
                    removed.append({"row_id": row[0]})
                continue
            condition = c.condition if c and c.source == "automatic" else None
            if condition is None:
                # a manual completion came first; keep the automatic date for the record
                condition = "condition held after the manual completion"
            if row is None:
                added.append(
                    {
                        "account_id": account_id,
                        "milestone_id": m.id,
                        "source": CompletionSource.AUTOMATIC,
                        "completed_on": auto_on,
                        "completed_by": None,
                        "condition": condition,
                        "note": None,
                        "recorded_at": now,
                    }
                )
            elif row[1] != auto_on or row[2] != condition:
                changed.append({"row_id": row[0], "on": auto_on, "why": condition, "at": now})
    if removed:
        session.execute(sa.delete(table).where(table.c.id == sa.bindparam("row_id")), removed)
    if changed:
        session.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("row_id"))
            .values(
                completed_on=sa.bindparam("on"),
                condition=sa.bindparam("why"),
                recorded_at=sa.bindparam("at"),
            ),
            changed,
        )
    if added:
        session.execute(sa.insert(table), added)
    return len(added) + len(changed)


def stored_transitions(
    platform: Platform, account_id: str | None = None, until: date | None = None
) -> dict[str, list[Transition]]:
    """Stored transitions per account, oldest first."""
    q = sa.select(
        StageTransition.account_id,
        StageTransition.transition_date,
        StageTransition.from_stage,
        StageTransition.to_stage,
        StageTransition.reason,
    ).order_by(StageTransition.account_id, StageTransition.transition_date)
    if account_id is not None:
        q = q.where(StageTransition.account_id == account_id)
    if until is not None:
        q = q.where(StageTransition.transition_date <= until)
    out: dict[str, list[Transition]] = {}
    days: dict[Any, date] = {}  # a few hundred distinct days: each converted once
    with platform.store.engine.connect() as conn:
        # the driver's rows (the whole table on a daily run): SQLite gives days as text
        sql = str(q.compile(conn, compile_kwargs={"literal_binds": True}))
        for a, day, before, after, reason in conn.exec_driver_sql(sql).fetchall():
            on = days.get(day)
            if on is None:
                on = days[day] = day if isinstance(day, date) else date.fromisoformat(day)
            out.setdefault(a, []).append(Transition(on, before, after, reason))
    return out


def current_stages(platform: Platform, until: date) -> dict[str, str]:
    """Each account's stage id on ``until``: the last stored transition on or before it."""
    return {
        account_id: history[-1].to_stage
        for account_id, history in stored_transitions(platform, until=until).items()
    }


def show_account(
    platform: Platform, definition: LifecycleDefinition, account_id: str, as_of: date
) -> AccountLifecycle:
    """One account's stage (from the stored history), time in stage and milestones on ``as_of``."""
    with platform.store.session() as session:
        if session.get(Account, account_id) is None:
            raise NotFound(f"no account with id {account_id!r}")
    return show_accounts(platform, definition, as_of, [account_id])[account_id]


def show_accounts(
    platform: Platform,
    definition: LifecycleDefinition,
    as_of: date,
    account_ids: list[str] | None = None,
) -> dict[str, AccountLifecycle]:
    """:func:`show_account` for ``account_ids`` (None: every account), from one evaluation."""
    one = account_ids[0] if account_ids is not None and len(account_ids) == 1 else None
    return lifecycles_of(
        platform,
        definition,
        as_of,
        evaluate_accounts(platform, definition, as_of, account_ids),
        stored_transitions(platform, one, until=as_of),
        account_ids,
    )


def lifecycles_of(
    platform: Platform,
    definition: LifecycleDefinition,
    as_of: date,
    evaluated: dict[str, AccountResult],
    histories: dict[str, list[Transition]],
    account_ids: list[str] | None = None,
) -> dict[str, AccountLifecycle]:
    """:func:`show_accounts` from an evaluation already made (e.g. :class:`Evaluation`'s
    accounts) and the stored stage histories through ``as_of``."""
    query = sa.select(Account.id, Account.name, Account.segment)
    if account_ids is not None:
        query = query.where(Account.id.in_(account_ids))
    with platform.store.engine.connect() as conn:
        accounts = {a: (n, seg) for a, n, seg in conn.execute(query)}
    out = {}
    stages: dict[str, Any] = {}
    for stage in definition.stages:
        stages.setdefault(stage.id, stage)
    for account_id, (name, segment) in accounts.items():
        history = histories.get(account_id, [])
        current = history[-1] if history else None
        ev = evaluated.get(account_id)
        milestones: list[MilestoneStatus] = []
        ttv = planned = finished = None
        if ev is not None and ev.schedule.tracked:
            milestones = milestone_statuses(ev.schedule, ev.completions, as_of)
            fv = next(m for m in milestones if m.first_value)
            ttv = (fv.done - ev.schedule.anchor).days if fv.done else None
            planned = ev.schedule.anchor + timedelta(days=ev.schedule.template.planned_days)
            done = [m.done for m in milestones]
            finished = max(d for d in done if d) if all(done) else None
        stage_def = stages.get(current.to_stage) if current else None
        out[account_id] = AccountLifecycle(
            account_id=account_id,
            name=name,
            segment=segment,
            as_of=as_of,
            contract_start=ev.schedule.anchor if ev else None,
            stage=current.to_stage if current else None,
            stage_name=stage_def.name if stage_def else None,
            since=current.date if current else None,
            days_in_stage=(as_of - current.date).days if current else None,
            reason=current.reason if current else None,
            history=history,
            onboarding_tracked=ev.schedule.tracked if ev else None,
            milestones=milestones,
            time_to_value_days=ttv,
            onboarding_planned=planned,
            onboarding_finished=finished,
        )
    return out


def complete_milestone(
    platform: Platform,
    definition: LifecycleDefinition,
    account_id: str,
    milestone_id: str,
    *,
    completed_on: date,
    completed_by: str,
    note: str | None = None,
) -> MilestoneCompletion:
    """Record (or correct) a manual completion: who completed it and on which day."""
    problems = []
    if not completed_by.strip():
        problems.append(Problem("say who completed the milestone", field="completed_by"))
    with platform.store.session() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise NotFound(f"no account with id {account_id!r}")
        template = definition.template_for(account.segment)
        if template.milestone(milestone_id) is None:
            known = ", ".join(m.id for m in template.milestones)
            problems.append(
                Problem(
                    f"unknown milestone {milestone_id!r} for segment {account.segment!r}; "
                    f"known: {known}",
                    field="milestone",
                )
            )
        first_start = session.scalar(
            sa.select(sa.func.min(ContractLine.start_date)).where(
                ContractLine.account_id == account_id
            )
        )
        started = tracking_start(platform, definition)
        if first_start is not None and started is not None and first_start < started:
            problems.append(
                Problem(
                    f"onboarding is not tracked for {account_id}: it became a customer on "
                    f"{first_start}, before tracking began on {started}, so it counts as "
                    "onboarded",
                    field="milestone",
                )
            )
        if problems:
            raise InvalidInput("cannot complete the milestone", problems)
        row = session.scalars(
            sa.select(MilestoneCompletion).where(
                MilestoneCompletion.account_id == account_id,
                MilestoneCompletion.milestone_id == milestone_id,
                MilestoneCompletion.source == CompletionSource.MANUAL,
            )
        ).first()
        if row is None:
            row = MilestoneCompletion(
                account_id=account_id, milestone_id=milestone_id, source=CompletionSource.MANUAL
            )
            session.add(row)
        row.completed_on = completed_on
        row.completed_by = completed_by.strip()
        row.note = note
        row.recorded_at = platform.clock.now()
    return row
