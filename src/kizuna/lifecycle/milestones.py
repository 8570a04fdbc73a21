"""Onboarding milestones: when each was done, and which are overdue.

A milestone is done on the earlier of its manual completion (who and when,
stored by ``kizuna lifecycle complete``) and the first day its automatic
condition held. Once done it stays done: onboarding is a history, not a gauge.
A milestone is due ``due_days`` after the contract start; on a day after its
due date and not done it is overdue.

Milestones apply to *tracked* accounts only: those whose contract started on or
after the day onboarding tracking began (``onboarding.tracking_started``, else
the lake's first event day). An account that was already live before then is
treated as onboarded: every milestone counts as done on its contract start, it
has no milestone statuses and no time to value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

from kizuna.lifecycle.definitions import MilestoneDefinition, OnboardingTemplate

if TYPE_CHECKING:
    from kizuna.lifecycle.conditions import AccountContext

MilestoneState = Literal["done", "done_late", "overdue", "open"]


@dataclass(frozen=True)
class Completion:
    """How and when a milestone was done."""

    done_on: date
    source: Literal["manual", "automatic"]
    completed_by: str | None = None
    condition: str | None = None
    #: the first day the automatic condition held, also when a manual completion came first
    automatic_on: date | None = None


@dataclass(frozen=True)
class MilestoneStatus:
    """A milestone of one account as of a date."""

    id: str
    name: str
    owner: str
    due: date
    done: date | None
    status: MilestoneState
    overdue: bool
    days_late: int | None
    source: str | None
    completed_by: str | None
    condition: str | None
    first_value: bool
    activation: bool


@dataclass(frozen=True)
class Schedule:
    """An account's onboarding plan: its template, contract start and whether it is tracked."""

    template: OnboardingTemplate
    anchor: date
    tracked: bool = True


class HasSchedule(Protocol):
    @property
    def template(self) -> OnboardingTemplate: ...
    @property
    def anchor(self) -> date: ...
    @property
    def tracked(self) -> bool: ...


def evaluate_milestones(ctx: AccountContext) -> dict[str, Completion]:
    """Completions of the account's template milestones up to ``ctx.until``.

    Fills ``ctx.done`` as it goes (a milestone's condition may refer to another
    milestone). Automatic conditions are checked day by day from the contract
    start; the first day one holds is the completion date.
    """
    template = ctx.template
    if not ctx.tracked:
        return {}
    manual = ctx.data.manual
    automatic: dict[str, tuple[date, str]] = {}
    pending = [m for m in template.milestones if m.complete_when is not None]
    ctx.done = {m.id: manual[m.id].completed_on for m in template.milestones if m.id in manual}
    day = ctx.anchor
    while pending and day <= ctx.until:
        still: list[MilestoneDefinition] = []
        for m in pending:
            assert m.complete_when is not None
            ok, why = ctx.rule(m.complete_when, day)
            if ok:
                automatic[m.id] = (day, why)
                if m.id not in ctx.done or day < ctx.done[m.id]:
                    ctx.done[m.id] = day
            else:
                still.append(m)
        pending = still
        day += timedelta(days=1)

    completions: dict[str, Completion] = {}
    for m in template.milestones:
        auto = automatic.get(m.id)
        man = manual.get(m.id)
        if man is not None and (auto is None or man.completed_on <= auto[0]):
            completions[m.id] = Completion(
                man.completed_on,
                "manual",
                completed_by=man.completed_by,
                automatic_on=auto[0] if auto else None,
            )
        elif auto is not None:
            completions[m.id] = Completion(
                auto[0], "automatic", condition=auto[1], automatic_on=auto[0]
            )
    return completions


def milestone_statuses(
    ctx: HasSchedule, completions: dict[str, Completion], as_of: date
) -> list[MilestoneStatus]:
    """Each template milestone's due date, completion and overdue flag on ``as_of``.

    Empty for an account that is not tracked (live before tracking began).
    """
    out: list[MilestoneStatus] = []
    if not ctx.tracked:
        return out
    for m in ctx.template.milestones:
        due = ctx.anchor + timedelta(days=m.due_days)
        c = completions.get(m.id)
        if c is not None and c.done_on > as_of:
            c = None
        days_late: int | None
        if c is not None:
            state: MilestoneState = "done" if c.done_on <= due else "done_late"
            days_late = max(0, (c.done_on - due).days)
        else:
            state = "overdue" if as_of > due else "open"
            days_late = (as_of - due).days if as_of > due else None
        out.append(
            MilestoneStatus(
                id=m.id,
                name=m.name,
                owner=m.owner,
                due=due,
                done=c.done_on if c else None,
                status=state,
                overdue=state == "overdue",
                days_late=days_late,
                source=c.source if c else None,
                completed_by=c.completed_by if c else None,
                condition=c.condition if c else None,
                first_value=m.first_value,
                activation=m.activation,
            )
        )
    return out
