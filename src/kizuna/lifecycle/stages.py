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
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from kizuna.errors import InvalidInput, NotFound, Problem
from kizuna.lifecycle.conditions import AccountContext
from kizuna.lifecycle.definitions import LifecycleDefinition
from kizuna.lifecycle.milestones import (
    Completion,
    MilestoneStatus,
    evaluate_milestones,
    milestone_statuses,
)
from kizuna.lifecycle.sources import AccountData, load_accounts
from kizuna.platform import Platform
from kizuna.store.lifecycle_models import (
    CompletionSource,
    LifecycleRun,
    MilestoneCompletion,
    StageTransition,
)
from kizuna.store.models import Account

CATCH_ALL_REASON = "no earlier stage's entry rule held"


@dataclass(frozen=True)
class Transition:
    """An account entered ``to_stage`` on ``date``."""

    date: date
    from_stage: str | None
    to_stage: str
    reason: str


@dataclass
class Evaluated:
    """One account evaluated up to a date: its context and milestone completions."""

    data: AccountData
    ctx: AccountContext
    completions: dict[str, Completion]


@dataclass(frozen=True)
class ComputeResult:
    as_of: date
    from_date: date | None
    accounts: int
    transitions_written: int
    automatic_completions: int
    stages: dict[str, int] = field(default_factory=dict)


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
    milestones: list[MilestoneStatus]
    time_to_value_days: int | None
    onboarding_planned: date | None
    onboarding_finished: date | None


def evaluate_accounts(
    platform: Platform,
    definition: LifecycleDefinition,
    as_of: date,
    account_ids: list[str] | None = None,
) -> dict[str, Evaluated]:
    """Load accounts known on ``as_of`` and evaluate their milestones up to it.

    Accounts whose first contract line has not started by ``as_of`` are left out.
    """
    conditions = definition.all_conditions()
    events = {n for c in conditions if c.events for n in c.events.names}
    metrics = {c.metric for c in conditions if c.metric}
    accounts = load_accounts(
        platform,
        as_of,
        account_ids=account_ids,
        event_names=events,
        metric_names=metrics,
        with_health=any(c.health for c in conditions),
    )
    out: dict[str, Evaluated] = {}
    for account_id, data in accounts.items():
        anchor = data.contract_start
        if anchor is None:
            continue
        ctx = AccountContext(data, definition.template_for(data.segment), anchor, as_of)
        out[account_id] = Evaluated(data, ctx, evaluate_milestones(ctx))
    return out


def stage_on(definition: LifecycleDefinition, ctx: AccountContext, day: date) -> tuple[str, str]:
    """The account's one stage on ``day`` and why (the first stage whose rule holds)."""
    for stage in definition.stages:
        if stage.entry is None:
            return stage.id, CATCH_ALL_REASON
        ok, why = ctx.rule(stage.entry, day)
        if ok:
            return stage.id, why
    raise AssertionError("validated definitions end with a catch-all stage")


def stage_transitions(
    definition: LifecycleDefinition,
    ctx: AccountContext,
    start: date,
    end: date,
    previous: str | None,
) -> list[Transition]:
    """Transitions over [start, end], given the stage held the day before ``start``."""
    out = []
    day = start
    current = previous
    while day <= end:
        stage, why = stage_on(definition, ctx, day)
        if stage != current:
            out.append(Transition(day, current, stage, why))
            current = stage
        day += timedelta(days=1)
    return out


def compute_lifecycle(
    platform: Platform,
    definition: LifecycleDefinition,
    as_of: date,
    *,
    from_date: date | None = None,
) -> ComputeResult:
    """Evaluate stages and milestones through ``as_of`` and store the results.

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
    store = platform.store
    if from_date is None:
        with store.session() as session:
            last = session.scalar(
                sa.select(sa.func.max(LifecycleRun.as_of)).where(LifecycleRun.as_of < as_of)
            )
        from_date = last + timedelta(days=1) if last is not None else None

    evaluated = evaluate_accounts(platform, definition, as_of)
    now = platform.clock.now()
    written = 0
    auto_written = 0
    final_stages: Counter[str] = Counter()
    with store.session() as session:
        previous: dict[str, StageTransition] = {}
        if from_date is not None:
            latest = (
                sa.select(
                    StageTransition.account_id,
                    sa.func.max(StageTransition.transition_date).label("d"),
                )
                .where(StageTransition.transition_date < from_date)
                .group_by(StageTransition.account_id)
                .subquery()
            )
            q = sa.select(StageTransition).join(
                latest,
                sa.and_(
                    StageTransition.account_id == latest.c.account_id,
                    StageTransition.transition_date == latest.c.d,
                ),
            )
            previous = {t.account_id: t for t in session.scalars(q)}

        for account_id, ev in evaluated.items():
            prev = previous.get(account_id)
            start = from_date if (from_date is not None and prev is not None) else ev.ctx.anchor
            start = max(start, ev.ctx.anchor)
            transitions = stage_transitions(
                definition, ev.ctx, start, as_of, prev.to_stage if prev else None
            )
            final = transitions[-1].to_stage if transitions else (prev.to_stage if prev else None)
            if final is not None:
                final_stages[final] += 1
            replace = sa.delete(StageTransition).where(
                StageTransition.account_id == account_id,
                StageTransition.transition_date <= as_of,
            )
            if prev is not None:  # with no earlier history, the whole past is rebuilt
                replace = replace.where(StageTransition.transition_date >= start)
            session.execute(replace)
            session.add_all(
                StageTransition(
                    account_id=account_id,
                    transition_date=t.date,
                    from_stage=t.from_stage,
                    to_stage=t.to_stage,
                    reason=t.reason,
                    computed_at=now,
                )
                for t in transitions
            )
            written += len(transitions)
            _chain_next(session, account_id, as_of, final)
            auto_written += _sync_automatic(session, account_id, ev, as_of, now)

        # Accounts without a started contract have no stage: drop stale ones in range.
        stale = sa.delete(StageTransition).where(
            StageTransition.account_id.not_in(list(evaluated)) if evaluated else sa.true(),
            StageTransition.transition_date <= as_of,
        )
        if from_date is not None:
            stale = stale.where(StageTransition.transition_date >= from_date)
        session.execute(stale)

        session.execute(sa.delete(LifecycleRun).where(LifecycleRun.as_of == as_of))
        session.add(
            LifecycleRun(
                as_of=as_of,
                from_date=from_date
                or min((e.ctx.anchor for e in evaluated.values()), default=as_of),
                accounts=len(evaluated),
                transitions=written,
                computed_at=now,
            )
        )
    order = [s.id for s in definition.stages]
    return ComputeResult(
        as_of=as_of,
        from_date=from_date,
        accounts=len(evaluated),
        transitions_written=written,
        automatic_completions=auto_written,
        stages={s: final_stages[s] for s in order if final_stages[s]},
    )


def _chain_next(session: sa.orm.Session, account_id: str, as_of: date, final: str | None) -> None:
    """Keep the stored transition after the recomputed range consistent with it."""
    nxt = session.scalars(
        sa.select(StageTransition)
        .where(StageTransition.account_id == account_id, StageTransition.transition_date > as_of)
        .order_by(StageTransition.transition_date)
        .limit(1)
    ).first()
    if nxt is None:
        return
    if nxt.to_stage == final:
        session.delete(nxt)
    elif nxt.from_stage != final:
        nxt.from_stage = final


def _sync_automatic(
    session: sa.orm.Session, account_id: str, ev: Evaluated, as_of: date, now: datetime
) -> int:
    """Replace the account's automatic completions dated on or before ``as_of``."""
    stored = {
        row.milestone_id: row
        for row in session.scalars(
            sa.select(MilestoneCompletion).where(
                MilestoneCompletion.account_id == account_id,
                MilestoneCompletion.source == CompletionSource.AUTOMATIC,
            )
        )
    }
    written = 0
    for m in ev.ctx.template.milestones:
        c = ev.completions.get(m.id)
        auto_on = c.automatic_on if c else None
        row = stored.get(m.id)
        if auto_on is None:
            if row is not None and row.completed_on <= as_of:
                session.delete(row)
            continue
        condition = c.condition if c and c.source == "automatic" else None
        if condition is None:
            # a manual completion came first; keep the automatic date for the record
            condition = "condition held after the manual completion"
        if row is None:
            session.add(
                MilestoneCompletion(
                    account_id=account_id,
                    milestone_id=m.id,
                    source=CompletionSource.AUTOMATIC,
                    completed_on=auto_on,
                    condition=condition,
                    recorded_at=now,
                )
            )
            written += 1
        elif row.completed_on != auto_on or row.condition != condition:
            row.completed_on = auto_on
            row.condition = condition
            row.recorded_at = now
            written += 1
    return written


def stored_transitions(
    platform: Platform, account_id: str | None = None, until: date | None = None
) -> dict[str, list[Transition]]:
    """Stored transitions per account, oldest first."""
    q = sa.select(StageTransition).order_by(
        StageTransition.account_id, StageTransition.transition_date
    )
    if account_id is not None:
        q = q.where(StageTransition.account_id == account_id)
    if until is not None:
        q = q.where(StageTransition.transition_date <= until)
    out: dict[str, list[Transition]] = {}
    with platform.store.session() as session:
        for t in session.scalars(q):
            out.setdefault(t.account_id, []).append(
                Transition(t.transition_date, t.from_stage, t.to_stage, t.reason)
            )
    return out


def show_account(
    platform: Platform, definition: LifecycleDefinition, account_id: str, as_of: date
) -> AccountLifecycle:
    """One account's stage (from the stored history), time in stage and milestones on ``as_of``."""
    with platform.store.session() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise NotFound(f"no account with id {account_id!r}")
        name, segment = account.name, account.segment
    history = stored_transitions(platform, account_id, until=as_of).get(account_id, [])
    current = history[-1] if history else None
    ev = evaluate_accounts(platform, definition, as_of, [account_id]).get(account_id)
    milestones: list[MilestoneStatus] = []
    ttv = planned = finished = None
    if ev is not None:
        milestones = milestone_statuses(ev.ctx, ev.completions, as_of)
        fv = next(m for m in milestones if m.first_value)
        ttv = (fv.done - ev.ctx.anchor).days if fv.done else None
        planned = ev.ctx.anchor + timedelta(days=ev.ctx.template.planned_days)
        done = [m.done for m in milestones]
        finished = max(d for d in done if d) if all(done) else None
    stage_def = definition.stage(current.to_stage) if current else None
    return AccountLifecycle(
        account_id=account_id,
        name=name,
        segment=segment,
        as_of=as_of,
        contract_start=ev.ctx.anchor if ev else None,
        stage=current.to_stage if current else None,
        stage_name=stage_def.name if stage_def else None,
        since=current.date if current else None,
        days_in_stage=(as_of - current.date).days if current else None,
        reason=current.reason if current else None,
        history=history,
        milestones=milestones,
        time_to_value_days=ttv,
        onboarding_planned=planned,
        onboarding_finished=finished,
    )


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
