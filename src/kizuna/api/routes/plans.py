"""``/plans``: success plans and their parts (roles, rows, initiatives, KPIs,
check-ins, milestones, meeting series, checklist) — create, read, update, delete.

A plan's body is ``kizuna plan show --json``. Roles, per-account scope and the
audit log are those of every record route (see :mod:`kizuna.plans.edit`).

No ``from __future__ import annotations``: FastAPI reads the handlers'
annotations at runtime, and the part routes are built in a loop.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel

from kizuna.api.deps import CallerDep, PlatformDep
from kizuna.api.encoding import ResultResponse
from kizuna.api.params import ID_PATTERN, AsOf
from kizuna.plans import edit, schemas
from kizuna.plans.report import plan_data
from kizuna.plans.templates import load_templates

router = APIRouter(prefix="/plans", tags=["Plans"], default_response_class=ResultResponse)

PlanId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="The plan's id.")
]
PartId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="The part's id.")
]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown plan, or outside the caller's book"},
    403: {"description": "The caller may not change this account"},
}


@router.get("/templates", summary="The plan templates (packaged and the team's own)")
def templates(platform: PlatformDep, caller: CallerDep) -> Any:
    found = load_templates(platform.settings).values()
    return ResultResponse(
        [
            {
                "name": t.name,
                "label": t.label.model_dump(),
                "segments": t.segments,
                "months": t.months,
            }
            for t in found
        ]
    )


@router.get("", summary="Plans with status, owner, next meeting and KPIs off track")
def list_plans(
    platform: PlatformDep,
    caller: CallerDep,
    as_of: AsOf = None,
    plan_status: Annotated[
        Literal["on_track", "at_risk", "off_track", "achieved"] | None,
        Query(alias="status", description="Only active plans of this status."),
    ] = None,
    include_closed: Annotated[bool, Query(alias="all", description="Also closed plans.")] = False,
    account_id: Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)] = None,
) -> Any:
    day = as_of or platform.today()
    rows = edit.readable_plans(
        platform,
        caller,
        day,
        status=plan_status,
        include_closed=include_closed,
        account_id=account_id,
    )
    return ResultResponse({"as_of": day, "count": len(rows), "plans": rows})


def _body(platform: Any, caller: Any, plan_id: str, as_of: Any = None) -> dict[str, Any]:
    view = edit.read_plan(platform, caller, plan_id, as_of or platform.today())
    return plan_data(view)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an account's plan from a template",
    responses=_NOT_FOUND,
)
def create(platform: PlatformDep, caller: CallerDep, body: schemas.PlanCreate) -> Any:
    plan_id = edit.new_plan(platform, caller, body)
    return ResultResponse(_body(platform, caller, plan_id), status_code=201)


@router.get("/{plan_id}", summary="A plan as of a date: every section", responses=_NOT_FOUND)
def read(platform: PlatformDep, caller: CallerDep, plan_id: PlanId, as_of: AsOf = None) -> Any:
    return ResultResponse(_body(platform, caller, plan_id, as_of))


@router.patch(
    "/{plan_id}",
    summary="Change a plan (title, language, state, dates, owner)",
    responses=_NOT_FOUND,
)
def update(
    platform: PlatformDep,
    caller: CallerDep,
    plan_id: PlanId,
    body: schemas.PlanPatch,  # type: ignore[valid-type]
) -> Any:
    edit.update_plan(platform, caller, plan_id, body)
    return ResultResponse(_body(platform, caller, plan_id))


@router.delete(
    "/{plan_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a plan and its parts",
    responses=_NOT_FOUND,
)
def delete(platform: PlatformDep, caller: CallerDep, plan_id: PlanId) -> None:
    edit.delete_plan(platform, caller, plan_id)


@router.patch(
    "/{plan_id}/contacts/{contact_id}",
    summary="Change a contact's success role from the plan (edits the contact)",
    responses=_NOT_FOUND,
)
def contact_role(
    platform: PlatformDep,
    caller: CallerDep,
    plan_id: PlanId,
    contact_id: PartId,
    body: schemas.ContactRoleIn,
) -> Any:
    edit.set_contact_role(platform, caller, plan_id, contact_id, body.success_role)
    return ResultResponse(_body(platform, caller, plan_id)["customer_roles"])


def _row(row: Any) -> dict[str, Any]:
    return {c.name: getattr(row, c.key) for c in row.__table__.columns}


def _add_part_routes(name: str, model_in: type[BaseModel], model_patch: type[BaseModel]) -> None:
    def add(platform: PlatformDep, caller: CallerDep, plan_id: PlanId, body: model_in) -> Any:  # type: ignore[valid-type]
        row = edit.add_part(platform, caller, plan_id, name, body)
        return ResultResponse(_row(row), status_code=201)

    def change(
        platform: PlatformDep,
        caller: CallerDep,
        plan_id: PlanId,
        part_id: PartId,
        body: model_patch,  # type: ignore[valid-type]
    ) -> Any:
        return ResultResponse(
            _row(edit.update_part(platform, caller, plan_id, name, part_id, body))
        )

    def remove(platform: PlatformDep, caller: CallerDep, plan_id: PlanId, part_id: PartId) -> None:
        edit.delete_part(platform, caller, plan_id, name, part_id)

    router.add_api_route(
        f"/{{plan_id}}/{name}",
        add,
        methods=["POST"],
        status_code=201,
        summary=f"Add to a plan's {name}",
        responses=_NOT_FOUND,
        operation_id=f"add_plan_{name}",
    )
    router.add_api_route(
        f"/{{plan_id}}/{name}/{{part_id}}",
        change,
        methods=["PATCH"],
        summary=f"Change one of a plan's {name}",
        responses=_NOT_FOUND,
        operation_id=f"update_plan_{name}",
    )
    router.add_api_route(
        f"/{{plan_id}}/{name}/{{part_id}}",
        remove,
        methods=["DELETE"],
        status_code=204,
        response_class=Response,
        summary=f"Remove one of a plan's {name}",
        responses=_NOT_FOUND,
        operation_id=f"delete_plan_{name}",
    )


for _part in edit.PARTS.values():
    _add_part_routes(_part.name, _part.model_in, _part.model_patch)
