"""A plan as a YAML file: ``plan export`` and ``plan import``.

Export then import gives an identical plan (the same export). An import is
validated as a whole first — the file's shape (pydantic) and then its
references (account, team members, metrics, meeting series) — and every
problem is reported with its path; nothing changes unless all is well.
Importing a plan whose id exists replaces that plan's parts; meeting series
keep their ids so the meetings recorded against them stay linked.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kizuna.errors import InvalidInput, Problem
from kizuna.plans.service import metric_names
from kizuna.plans.templates import read_yaml, validation_problems
from kizuna.platform import Platform
from kizuna.store.models import Account, TeamMember
from kizuna.store.plans_models import (
    MeetingSeries,
    Plan,
    PlanCheckin,
    PlanChecklistItem,
    PlanInitiative,
    PlanIssue,
    PlanKpi,
    PlanMilestone,
    PlanRole,
    PlanState,
)

FORMAT = 1
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-.]*$")]
Line = Annotated[str, Field(min_length=1, max_length=300)]
Body = Annotated[str, Field(max_length=10_000)]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CheckinX(_M):
    value: float = Field(allow_inf_nan=False)
    date: date
    by: Line
    note: Body | None = None


class KpiX(_M):
    key: Key
    name: Line
    unit: str | None = Field(None, max_length=32)
    direction: Literal["higher", "lower"] = "higher"
    baseline: float = Field(allow_inf_nan=False)
    baseline_date: date
    target: float = Field(allow_inf_nan=False)
    target_date: date
    evaluation_method: Body | None = None
    metric: str | None = Field(None, max_length=128)
    checkins: list[CheckinX] = Field(default_factory=list)


class InitiativeX(_M):
    key: Key
    name: Line
    purpose: Body | None = None
    approach: Body | None = None
    extent: Body | None = None
    impact: int = Field(ge=1, le=5)
    difficulty: int = Field(ge=1, le=5)
    tie_break: int | None = None
    order_override: int | None = Field(None, ge=1)
    kpis: list[KpiX] = Field(default_factory=list)


class RoleX(_M):
    role: Key
    member_id: Id | None = None
    name: Line | None = None


class ChecklistX(_M):
    label: Body
    failure_pattern: Body | None = None
    done: bool = False
    done_on: date | None = None
    note: Body | None = None


class IssueX(_M):
    business_issue: Body
    problem: Body | None = None
    solution: Body | None = None
    benefit: Body | None = None


class MilestoneX(_M):
    name: Line
    due_date: date
    state: Literal["open", "done", "cancelled"] = "open"
    done_on: date | None = None


class MeetingX(_M):
    id: Id
    name: Line
    cadence: Literal["weekly", "biweekly", "monthly"]
    audience: Literal["evaluator", "final_evaluator", "promoter", "end_user"] | None = None
    first_date: date
    last_date: date | None = None


class PlanX(_M):
    """The YAML file of one plan."""

    kizuna_plan: Literal[1] = 1
    id: Id
    account_id: Id
    template: Key
    title: Line
    language: Literal["en", "ja"] = "en"
    state: Literal["proposed", "active", "achieved", "closed"] = "active"
    start_date: date
    end_date: date
    owner_id: Id | None = None
    closed_on: date | None = None
    previous_plan_id: Id | None = None
    vendor_roles: list[RoleX] = Field(default_factory=list)
    checklist: list[ChecklistX] = Field(default_factory=list)
    issues: list[IssueX] = Field(default_factory=list)
    kgi: KpiX
    initiatives: list[InitiativeX] = Field(default_factory=list)
    milestones: list[MilestoneX] = Field(default_factory=list)
    meetings: list[MeetingX] = Field(default_factory=list)


# -- export --------------------------------------------------------------------


def _kpi_x(k: PlanKpi, checkins: list[PlanCheckin]) -> dict[str, Any]:
    return {
        "key": k.key,
        "name": k.name,
        "unit": k.unit,
        "direction": k.direction.value,
        "baseline": k.baseline,
        "baseline_date": k.baseline_date,
        "target": k.target,
        "target_date": k.target_date,
        "evaluation_method": k.evaluation_method,
        "metric": k.metric,
        "checkins": [
            {"value": c.value, "date": c.checkin_date, "by": c.checked_by, "note": c.note}
            for c in checkins
        ],
    }


def export_plan(platform: Platform, plan_id: str) -> dict[str, Any]:
    """The plan as plain data (the YAML file's content)."""
    with platform.store.session() as session:
        plan = session.get(Plan, plan_id)
        if plan is None:
            raise InvalidInput(f"no plan {plan_id}")

        def rows(model: Any, *order: Any) -> list[Any]:
            return list(
                session.scalars(sa.select(model).where(model.plan_id == plan_id).order_by(*order))
            )

        kpis = rows(PlanKpi, PlanKpi.id)
        checkins: dict[int, list[PlanCheckin]] = {}
        if kpis:
            for c in session.scalars(
                sa.select(PlanCheckin)
                .where(PlanCheckin.kpi_id.in_([k.id for k in kpis]))
                .order_by(PlanCheckin.checkin_date, PlanCheckin.id)
            ):
                checkins.setdefault(c.kpi_id, []).append(c)
        kgi = next(k for k in kpis if k.is_kgi)
        data: dict[str, Any] = {
            "kizuna_plan": FORMAT,
            "id": plan.id,
            "account_id": plan.account_id,
            "template": plan.template,
            "title": plan.title,
            "language": plan.language,
            "state": plan.state.value,
            "start_date": plan.start_date,
            "end_date": plan.end_date,
            "owner_id": plan.owner_id,
            "closed_on": plan.closed_on,
            "previous_plan_id": plan.previous_plan_id,
            "vendor_roles": [
                {"role": r.role, "member_id": r.member_id, "name": r.name}
                for r in rows(PlanRole, PlanRole.id)
            ],
            "checklist": [
                {
                    "label": c.label,
                    "failure_pattern": c.failure_pattern,
                    "done": c.done,
                    "done_on": c.done_on,
                    "note": c.note,
                }
                for c in rows(PlanChecklistItem, PlanChecklistItem.position, PlanChecklistItem.id)
            ],
            "issues": [
                {
                    "business_issue": i.business_issue,
                    "problem": i.problem,
                    "solution": i.solution,
                    "benefit": i.benefit,
                }
                for i in rows(PlanIssue, PlanIssue.position, PlanIssue.id)
            ],
            "kgi": _kpi_x(kgi, checkins.get(kgi.id, [])),
            "initiatives": [
                {
                    "key": i.key,
                    "name": i.name,
                    "purpose": i.purpose,
                    "approach": i.approach,
                    "extent": i.extent,
                    "impact": i.impact,
                    "difficulty": i.difficulty,
                    "tie_break": i.tie_break,
                    "order_override": i.order_override,
                    "kpis": [
                        _kpi_x(k, checkins.get(k.id, [])) for k in kpis if k.initiative_id == i.id
                    ],
                }
                for i in rows(PlanInitiative, PlanInitiative.id)
            ],
            "milestones": [
                {
                    "name": m.name,
                    "due_date": m.due_date,
                    "state": m.state.value,
                    "done_on": m.done_on,
                }
                for m in rows(PlanMilestone, PlanMilestone.due_date, PlanMilestone.id)
            ],
            "meetings": [
                {
                    "id": s.id,
                    "name": s.name,
                    "cadence": s.cadence.value,
                    "audience": s.audience,
                    "first_date": s.first_date,
                    "last_date": s.last_date,
                }
                for s in rows(MeetingSeries, MeetingSeries.first_date, MeetingSeries.id)
            ],
        }
    return data


def export_yaml(platform: Platform, plan_id: str) -> str:
    return yaml.safe_dump(
        export_plan(platform, plan_id), allow_unicode=True, sort_keys=False, width=100
    )


# -- import --------------------------------------------------------------------


def _kpi_problems(k: KpiX, path: str, where: str, metrics: set[str]) -> list[Problem]:
    problems = []

    def bad(field: str, message: str) -> None:
        problems.append(
            Problem(message, where=f"{where}, field {path}.{field}", field=f"{path}.{field}")
        )

    if k.target == k.baseline:
        bad("target", "the target must differ from the baseline")
    elif (k.direction == "higher") != (k.target > k.baseline):
        bad(
            "target", f"a '{k.direction} is better' KPI needs a target on that side of its baseline"
        )
    if k.target_date <= k.baseline_date:
        bad("target_date", "the target date must be after the baseline date")
    if k.metric is not None and k.metric not in metrics:
        bad("metric", f"no metric {k.metric!r} in the active definitions")
    if k.metric is not None and k.checkins:
        bad("checkins", "a metric-bound KPI takes no check-ins")
    return problems


def validate_plan_data(platform: Platform, data: Any, where: str) -> PlanX:
    """The file's plan, or :class:`InvalidInput` with every problem and its path."""
    try:
        plan = PlanX.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"invalid plan file {where}", validation_problems(exc, where)) from None
    problems: list[Problem] = []

    def bad(path: str, message: str) -> None:
        problems.append(Problem(message, where=f"{where}, field {path}", field=path))

    metrics = metric_names(platform)
    if plan.end_date <= plan.start_date:
        bad("end_date", "the end date must be after the start date")
    problems += _kpi_problems(plan.kgi, "kgi", where, metrics)
    keys = {plan.kgi.key: "kgi"}
    init_keys: set[str] = set()
    for i, init in enumerate(plan.initiatives):
        if init.key in init_keys:
            bad(f"initiatives.{i}.key", f"initiative key {init.key!r} is used twice")
        init_keys.add(init.key)
        for j, k in enumerate(init.kpis):
            path = f"initiatives.{i}.kpis.{j}"
            if k.key in keys:
                bad(f"{path}.key", f"KPI key {k.key!r} is also used at {keys[k.key]}")
            keys.setdefault(k.key, path)
            problems += _kpi_problems(k, path, where, metrics)
    series_ids = [s.id for s in plan.meetings]
    for n, sid in enumerate(series_ids):
        if sid in series_ids[:n]:
            bad(f"meetings.{n}.id", f"meeting series id {sid!r} is used twice")
    with platform.store.session() as session:
        if session.get(Account, plan.account_id) is None:
            bad("account_id", f"no account {plan.account_id}")
        members = {r.member_id for r in plan.vendor_roles if r.member_id} | (
            {plan.owner_id} if plan.owner_id else set()
        )
        known = set(session.scalars(sa.select(TeamMember.id).where(TeamMember.id.in_(members))))
        if plan.owner_id and plan.owner_id not in known:
            bad("owner_id", f"no team member {plan.owner_id}")
        for n, r in enumerate(plan.vendor_roles):
            if r.member_id and r.member_id not in known:
                bad(f"vendor_roles.{n}.member_id", f"no team member {r.member_id}")
        if series_ids:
            taken = {
                sid: pid
                for sid, pid in session.execute(
                    sa.select(MeetingSeries.id, MeetingSeries.plan_id).where(
                        MeetingSeries.id.in_(series_ids)
                    )
                )
            }
            for n, sid in enumerate(series_ids):
                if sid in taken and taken[sid] != plan.id:
                    bad(f"meetings.{n}.id", f"meeting series {sid} belongs to another plan")
        if plan.state == "active":
            other = session.scalar(
                sa.select(Plan.id).where(
                    Plan.account_id == plan.account_id,
                    Plan.state == PlanState.ACTIVE,
                    Plan.id != plan.id,
                )
            )
            if other:
                bad("state", f"account {plan.account_id} already has an active plan {other}")
        existing = session.get(Plan, plan.id)
        if existing is not None and existing.account_id != plan.account_id:
            bad("id", f"plan {plan.id} belongs to another account")
        if plan.previous_plan_id and session.get(Plan, plan.previous_plan_id) is None:
            bad("previous_plan_id", f"no plan {plan.previous_plan_id}")
    if problems:
        raise InvalidInput(f"invalid plan file {where}", problems)
    return plan


def _add_kpi(session: Any, plan_id: str, k: KpiX, initiative_id: int | None, is_kgi: bool) -> None:
    row = PlanKpi(
        plan_id=plan_id,
        initiative_id=initiative_id,
        is_kgi=is_kgi,
        key=k.key,
        name=k.name,
        unit=k.unit,
        direction=k.direction,
        baseline=k.baseline,
        baseline_date=k.baseline_date,
        target=k.target,
        target_date=k.target_date,
        evaluation_method=k.evaluation_method,
        metric=k.metric,
    )
    session.add(row)
    session.flush()
    for c in k.checkins:
        session.add(
            PlanCheckin(
                kpi_id=row.id, value=c.value, checkin_date=c.date, checked_by=c.by, note=c.note
            )
        )


def import_plan_data(platform: Platform, data: Any, where: str = "<data>") -> str:
    """Validate and store a plan (replacing the plan of the same id); returns its id."""
    x = validate_plan_data(platform, data, where)
    with platform.store.session() as session:
        plan = session.get(Plan, x.id)
        if plan is None:
            plan = Plan(id=x.id)
            session.add(plan)
        for name in (
            "account_id",
            "template",
            "title",
            "language",
            "start_date",
            "end_date",
            "owner_id",
            "closed_on",
            "previous_plan_id",
        ):
            setattr(plan, name, getattr(x, name))
        plan.state = PlanState(x.state)
        session.flush()
        for model in (
            PlanRole,
            PlanChecklistItem,
            PlanIssue,
            PlanKpi,
            PlanInitiative,
            PlanMilestone,
        ):
            session.execute(sa.delete(model).where(model.plan_id == x.id))
        keep = {s.id for s in x.meetings}
        session.execute(
            sa.delete(MeetingSeries).where(
                MeetingSeries.plan_id == x.id, MeetingSeries.id.not_in(keep)
            )
        )
        for r in x.vendor_roles:
            session.add(PlanRole(plan_id=x.id, role=r.role, member_id=r.member_id, name=r.name))
        for pos, c in enumerate(x.checklist):
            session.add(
                PlanChecklistItem(
                    plan_id=x.id,
                    position=pos,
                    label=c.label,
                    failure_pattern=c.failure_pattern,
                    done=c.done,
                    done_on=c.done_on,
                    note=c.note,
                )
            )
        for pos, i in enumerate(x.issues):
            session.add(
                PlanIssue(
                    plan_id=x.id,
                    position=pos,
                    business_issue=i.business_issue,
                    problem=i.problem,
                    solution=i.solution,
                    benefit=i.benefit,
                )
            )
        _add_kpi(session, x.id, x.kgi, None, True)
        for init in x.initiatives:
            row = PlanInitiative(
                plan_id=x.id,
                key=init.key,
                name=init.name,
                purpose=init.purpose,
                approach=init.approach,
                extent=init.extent,
                impact=init.impact,
                difficulty=init.difficulty,
                tie_break=init.tie_break,
                order_override=init.order_override,
            )
            session.add(row)
            session.flush()
            for k in init.kpis:
                _add_kpi(session, x.id, k, row.id, False)
        for m in x.milestones:
            session.add(
                PlanMilestone(
                    plan_id=x.id, name=m.name, due_date=m.due_date, state=m.state, done_on=m.done_on
                )
            )
        for s in x.meetings:
            series = session.get(MeetingSeries, s.id) or MeetingSeries(id=s.id)
            series.plan_id = x.id
            series.name = s.name
            series.cadence = s.cadence  # type: ignore[assignment]
            series.audience = s.audience
            series.first_date = s.first_date
            series.last_date = s.last_date
            session.add(series)
    return x.id


def import_plan_file(platform: Platform, path: Path) -> str:
    return import_plan_data(platform, read_yaml(path, "plan file"), str(path))
