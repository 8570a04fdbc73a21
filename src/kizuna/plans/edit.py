"""Changing plans and their parts on behalf of a caller: roles, scope, audit.

The API and the UI call these. A plan (or part) of an account the caller may
not read is "not found", exactly like one that does not exist; a change the
caller may not make on an account they can read is "permission denied". Every
change is written to the audit log in the same transaction, every denial in
its own. Invalid input is reported field by field (:class:`InvalidInput`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from kizuna.auth.audit import add_audit
from kizuna.auth.policy import Caller
from kizuna.customers.service import authorise_account, readable_account_ids
from kizuna.errors import Conflict, InvalidInput, NotFound, Problem, validation_code
from kizuna.plans import schemas
from kizuna.plans.service import (
    PlanSummary,
    PlanView,
    create_plan,
    list_plans,
    metric_names,
    new_id,
    plan_view,
)
from kizuna.platform import Platform
from kizuna.store.models import Contact, SuccessRole, TeamMember
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

Rule = Callable[[Session, Plan, dict[str, Any], Platform], list[Problem]]


def _member_exists(session: Session, plan: Plan, row: dict[str, Any], _: Platform) -> list[Problem]:
    member = row.get("member_id")
    if member and session.get(TeamMember, member) is None:
        return [
            Problem(f"no team member {member}", field="member_id", code="unknown",
                    params={"table": "team", "value": member})
        ]  # fmt: skip
    return []


def _initiative_of_plan(
    session: Session, plan: Plan, row: dict[str, Any], platform: Platform
) -> list[Problem]:
    problems = []
    initiative = row.get("initiative_id")
    if not row.get("is_kgi"):
        found = session.get(PlanInitiative, initiative) if initiative is not None else None
        if found is None or found.plan_id != plan.id:
            problems.append(
                Problem(f"no initiative {initiative} in this plan", field="initiative_id",
                        code="plan.no_part", params={"part": "initiative", "value": initiative})
            )  # fmt: skip
    metric = row.get("metric")
    if metric is not None and metric not in metric_names(platform):
        problems.append(
            Problem(f"no metric {metric!r} in the active definitions", field="metric",
                    code="metrics.unknown_metric", params={"name": metric})
        )  # fmt: skip
    return problems


def _kpi_takes_checkins(
    session: Session, plan: Plan, row: dict[str, Any], _: Platform
) -> list[Problem]:
    kpi = session.get(PlanKpi, row.get("kpi_id"))
    if kpi is None or kpi.plan_id != plan.id:
        return [
            Problem(f"no KPI {row.get('kpi_id')} in this plan", field="kpi_id",
                    code="plan.no_part", params={"part": "KPI", "value": row.get("kpi_id")})
        ]  # fmt: skip
    if kpi.metric:
        return [
            Problem(f"KPI {kpi.key} is measured by metric {kpi.metric}", field="kpi_id",
                    code="plan.kpi_measured", params={"kpi": kpi.key, "metric": kpi.metric})
        ]  # fmt: skip
    return []


def _unique_key(model: Any) -> Rule:
    def rule(session: Session, plan: Plan, row: dict[str, Any], _: Platform) -> list[Problem]:
        other = session.scalar(
            sa.select(model.id).where(
                model.plan_id == plan.id, model.key == row["key"], model.id != row.get("id")
            )
        )
        taken = Problem(f"key {row['key']!r} is taken in this plan", field="key",
                        code="plan.key_taken", params={"key": row["key"]})  # fmt: skip
        return [taken] if other else []

    return rule


@dataclass(frozen=True)
class Part:
    """One kind of plan part: its table, input models and rules."""

    name: str
    model: Any
    model_in: type[BaseModel]
    model_patch: type[BaseModel]
    rules: tuple[Rule, ...] = ()
    string_id: bool = False
    #: column pointing to the plan (check-ins hang off a KPI instead)
    via_kpi: bool = False


PARTS: dict[str, Part] = {
    p.name: p
    for p in (
        Part("roles", PlanRole, schemas.RoleIn, schemas.RolePatch, (_member_exists,)),
        Part("issues", PlanIssue, schemas.IssueIn, schemas.IssuePatch),
        Part(
            "initiatives",
            PlanInitiative,
            schemas.InitiativeIn,
            schemas.InitiativePatch,
            (_unique_key(PlanInitiative),),
        ),
        Part(
            "kpis",
            PlanKpi,
            schemas.KpiIn,
            schemas.KpiPatch,
            (_unique_key(PlanKpi), _initiative_of_plan),
        ),
        Part(
            "checkins",
            PlanCheckin,
            schemas.CheckinIn,
            schemas.CheckinPatch,
            (_kpi_takes_checkins,),
            via_kpi=True,
        ),
        Part("milestones", PlanMilestone, schemas.MilestoneIn, schemas.MilestonePatch),
        Part("meetings", MeetingSeries, schemas.MeetingIn, schemas.MeetingPatch, string_id=True),
        Part("checklist", PlanChecklistItem, schemas.ChecklistIn, schemas.ChecklistPatch),
    )
}


def _problems(exc: ValidationError) -> list[Problem]:
    out = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e["loc"])
        code, params = validation_code(e)
        out.append(
            Problem(e["msg"].removeprefix("Value error, "), field=loc or None, code=code,
                    params=params)
        )  # fmt: skip
    return out


def _validated(model: type[BaseModel], values: dict[str, Any]) -> BaseModel:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise InvalidInput("invalid input", _problems(exc)) from None


def _plan_for(platform: Platform, caller: Caller, plan_id: str, *, write: bool) -> Plan:
    with platform.store.session() as session:
        plan = session.get(Plan, plan_id)
        if plan is None:
            raise NotFound(f"no plan {plan_id}")
    try:
        authorise_account(platform, caller, plan.account_id, "plans", write=write)
    except NotFound:
        raise NotFound(f"no plan {plan_id}") from None
    return plan


def _write(
    platform: Platform,
    caller: Caller,
    plan: Plan,
    action: str,
    resource_id: str,
    work: Callable[[Session], Any],
) -> Any:
    try:
        with platform.store.session() as session:
            result = work(session)
            add_audit(
                session,
                platform,
                caller,
                action=action,
                resource="plans",
                resource_id=resource_id,
                account_id=plan.account_id,
            )
            session.flush()
            return result
    except sa.exc.IntegrityError as exc:
        raise Conflict(f"the {action} conflicts with stored data: {exc.orig}") from None


# -- plans ---------------------------------------------------------------------


def readable_plans(
    platform: Platform,
    caller: Caller,
    as_of: date,
    *,
    status: str | None = None,
    include_closed: bool = False,
    account_id: str | None = None,
    owner_id: str | None = None,
    segment: str | None = None,
) -> list[PlanSummary]:
    """The plans of the accounts the caller may read."""
    readable = readable_account_ids(platform, caller)
    if account_id is not None:
        readable = {account_id} if readable is None or account_id in readable else set()
    return list_plans(
        platform,
        as_of,
        status=status,
        include_closed=include_closed,
        account_ids=readable,
        owner_id=owner_id,
        segment=segment,
    )


def read_plan(platform: Platform, caller: Caller, plan_id: str, as_of: date) -> PlanView:
    plan = _plan_for(platform, caller, plan_id, write=False)
    return plan_view(platform, plan, as_of)


def new_plan(platform: Platform, caller: Caller, body: schemas.PlanCreate) -> str:
    """Create a plan from a template for an account the caller may change."""
    try:
        authorise_account(platform, caller, body.account_id, "plans", write=True)
    except NotFound as exc:
        bad = Problem(exc.message, field="account_id", code=exc.code, params=exc.params)
        raise InvalidInput(exc.message, [bad]) from None
    plan_id = create_plan(
        platform,
        body.account_id,
        body.template,
        start=body.start_date,
        language=body.language,
    )
    with platform.store.session() as session:
        add_audit(
            session,
            platform,
            caller,
            action="create",
            resource="plans",
            resource_id=plan_id,
            account_id=body.account_id,
        )
    return plan_id


def update_plan(platform: Platform, caller: Caller, plan_id: str, patch: BaseModel) -> None:
    plan = _plan_for(platform, caller, plan_id, write=True)
    values = patch.model_dump(exclude_unset=True)

    def work(session: Session) -> None:
        row = session.get(Plan, plan_id)
        assert row is not None
        merged = {
            "title": row.title,
            "language": row.language,
            "state": row.state.value,
            "owner_id": row.owner_id,
            "start_date": row.start_date,
            "end_date": row.end_date,
            **values,
        }
        checked = _validated(schemas.PlanIn, merged)
        problems = _member_exists(session, plan, {"member_id": checked.owner_id}, platform)  # type: ignore[attr-defined]
        problems = [
            Problem(p.message, field="owner_id", code=p.code, params=p.params) for p in problems
        ]
        new_state = PlanState(checked.state)  # type: ignore[attr-defined]
        if new_state is PlanState.ACTIVE and row.state is not PlanState.ACTIVE:
            other = session.scalar(
                sa.select(Plan.id).where(
                    Plan.account_id == row.account_id,
                    Plan.state == PlanState.ACTIVE,
                    Plan.id != row.id,
                )
            )
            if other:
                problems.append(
                    Problem(
                        f"the account already has an active plan {other}",
                        field="state",
                        code="plan.active_taken",
                        params={"plan": other},
                    )
                )
        if problems:
            raise InvalidInput(f"cannot update plan {plan_id}", problems)
        for name, value in checked.model_dump().items():
            setattr(row, name, PlanState(value) if name == "state" else value)
        if new_state in (PlanState.CLOSED, PlanState.ACHIEVED) and row.closed_on is None:
            row.closed_on = platform.today()
        elif new_state in (PlanState.ACTIVE, PlanState.PROPOSED):
            row.closed_on = None

    _write(platform, caller, plan, "update", plan_id, work)


def delete_plan(platform: Platform, caller: Caller, plan_id: str) -> None:
    plan = _plan_for(platform, caller, plan_id, write=True)

    def work(session: Session) -> None:
        row = session.get(Plan, plan_id)
        session.delete(row)

    _write(platform, caller, plan, "delete", plan_id, work)


def set_contact_role(
    platform: Platform, caller: Caller, plan_id: str, contact_id: str, role: str
) -> None:
    """Change a contact's success role from the plan (it edits the contact itself)."""
    plan = _plan_for(platform, caller, plan_id, write=True)

    def work(session: Session) -> None:
        contact = session.get(Contact, contact_id)
        if contact is None or contact.account_id != plan.account_id:
            raise NotFound(f"no contact {contact_id} in this plan's account")
        contact.success_role = SuccessRole(role)

    _write(platform, caller, plan, "update", f"{plan_id}/contacts/{contact_id}", work)


# -- parts ---------------------------------------------------------------------


def _owned(session: Session, part: Part, plan: Plan, part_id: str) -> Any:
    key: Any = part_id
    if not part.string_id:
        try:
            key = int(part_id)
        except ValueError:
            raise NotFound(f"no {part.name} {part_id} in plan {plan.id}") from None
    row = session.get(part.model, key)
    if row is not None:
        kpi = session.get(PlanKpi, row.kpi_id) if part.via_kpi else None
        owner = (kpi.plan_id if kpi else None) if part.via_kpi else row.plan_id
        if owner == plan.id:
            return row
    raise NotFound(f"no {part.name} {part_id} in plan {plan.id}")


def _row_values(part: Part, row: Any) -> dict[str, Any]:
    fields = part.model_in.model_fields
    return {name: getattr(row, name) for name in fields if hasattr(row, name)}


def add_part(
    platform: Platform, caller: Caller, plan_id: str, part_name: str, body: BaseModel
) -> Any:
    """Add a part to a plan; returns the stored row."""
    part = PARTS[part_name]
    plan = _plan_for(platform, caller, plan_id, write=True)
    values = body.model_dump()

    def work(session: Session) -> Any:
        problems = [q for rule in part.rules for q in rule(session, plan, values, platform)]
        if problems:
            raise InvalidInput(f"cannot add to plan {plan_id}", problems)
        data = dict(values)
        if part.string_id:
            data["id"] = data.get("id") or new_id("ms")
            if session.get(part.model, data["id"]) is not None:
                raise Conflict(f"meeting series {data['id']} already exists")
        if not part.via_kpi:
            data["plan_id"] = plan_id
        row = part.model(**data)
        session.add(row)
        session.flush()
        return row

    return _write(platform, caller, plan, "create", f"{plan_id}/{part_name}", work)


def update_part(
    platform: Platform, caller: Caller, plan_id: str, part_name: str, part_id: str, patch: BaseModel
) -> Any:
    part = PARTS[part_name]
    plan = _plan_for(platform, caller, plan_id, write=True)
    values = patch.model_dump(exclude_unset=True)

    def work(session: Session) -> Any:
        row = _owned(session, part, plan, part_id)
        merged = {**_row_values(part, row), **values}
        model_in = part.model_in
        if part.name == "kpis" and row.is_kgi:
            model_in = schemas.KgiIn
            merged["initiative_id"] = None
        checked = _validated(
            model_in, {k: v for k, v in merged.items() if k in model_in.model_fields}
        )
        data = checked.model_dump()
        data["id"] = row.id
        if part.name == "kpis":
            data["is_kgi"] = row.is_kgi
        problems = [q for rule in part.rules for q in rule(session, plan, data, platform)]
        if problems:
            raise InvalidInput(f"cannot update {part_name} {part_id}", problems)
        for name in values:
            setattr(row, name, data[name])
        session.flush()
        return row

    return _write(platform, caller, plan, "update", f"{plan_id}/{part_name}/{part_id}", work)


def delete_part(
    platform: Platform, caller: Caller, plan_id: str, part_name: str, part_id: str
) -> None:
    part = PARTS[part_name]
    plan = _plan_for(platform, caller, plan_id, write=True)

    def work(session: Session) -> None:
        row = _owned(session, part, plan, part_id)
        if part.name == "kpis" and row.is_kgi:
            raise Conflict("a plan keeps its KGI: change it instead of deleting it")
        session.delete(row)

    _write(platform, caller, plan, "delete", f"{plan_id}/{part_name}/{part_id}", work)
