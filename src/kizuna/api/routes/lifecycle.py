"""``/lifecycle``: an account's stage, its history and onboarding milestones; mark one done.

The account view is ``kizuna lifecycle show --json``; ``POST .../milestones/{id}``
is ``kizuna lifecycle complete`` with the caller as the one who completed it. It
is a write: the caller must be allowed to change the account (admin, manager,
or the CSM who owns it), and it is recorded in the audit log.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from kizuna.api.deps import CallerDep, PlatformDep
from kizuna.api.encoding import ResultResponse
from kizuna.api.params import ID_PATTERN, TEXT_PATTERN, AccountId, AsOf
from kizuna.auth.audit import record_audit
from kizuna.customers.service import authorise_account
from kizuna.lifecycle import complete_milestone, definition_for, show_account, stored_transitions

router = APIRouter(prefix="/lifecycle", tags=["Lifecycle"], default_response_class=ResultResponse)

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown account, or outside the caller's book"}
}
MilestoneId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="e.g. kickoff_held")
]


class MilestoneDone(BaseModel):
    """A manual completion of an onboarding milestone."""

    model_config = ConfigDict(extra="forbid")

    completed_on: date | None = Field(None, description="The day it was done; default today.")
    note: str | None = Field(None, max_length=2000, pattern=TEXT_PATTERN)


@router.get(
    "/accounts/{account_id}",
    summary="An account's stage, since when, its history and its onboarding milestones",
    responses=_NOT_FOUND,
)
def account(
    platform: PlatformDep, caller: CallerDep, account_id: AccountId, as_of: AsOf = None
) -> Any:
    authorise_account(platform, caller, account_id, "lifecycle")
    definition = definition_for(platform.settings.home)
    return ResultResponse(show_account(platform, definition, account_id, as_of or platform.today()))


@router.get(
    "/accounts/{account_id}/history",
    summary="The account's stage transitions, oldest first",
    responses=_NOT_FOUND,
)
def history(
    platform: PlatformDep, caller: CallerDep, account_id: AccountId, as_of: AsOf = None
) -> Any:
    authorise_account(platform, caller, account_id, "lifecycle")
    transitions = stored_transitions(platform, account_id, until=as_of).get(account_id, [])
    return ResultResponse({"account_id": account_id, "transitions": transitions})


@router.get(
    "/accounts/{account_id}/milestones",
    summary="The account's onboarding milestones: due, done, status",
    responses=_NOT_FOUND,
)
def milestones(
    platform: PlatformDep, caller: CallerDep, account_id: AccountId, as_of: AsOf = None
) -> Any:
    authorise_account(platform, caller, account_id, "lifecycle")
    definition = definition_for(platform.settings.home)
    view = show_account(platform, definition, account_id, as_of or platform.today())
    return ResultResponse(
        {
            "account_id": account_id,
            "as_of": view.as_of,
            "contract_start": view.contract_start,
            "time_to_value_days": view.time_to_value_days,
            "onboarding_planned": view.onboarding_planned,
            "onboarding_finished": view.onboarding_finished,
            "milestones": view.milestones,
        }
    )


@router.post(
    "/accounts/{account_id}/milestones/{milestone_id}",
    summary="Mark an onboarding milestone done (kept across recomputes)",
    responses={
        403: {"description": "The caller may not change this account"},
        404: {"description": "Unknown account, or outside the caller's book"},
    },
)
def complete(
    platform: PlatformDep,
    caller: CallerDep,
    account_id: AccountId,
    milestone_id: MilestoneId,
    body: MilestoneDone | None = None,
) -> Any:
    done = body or MilestoneDone()
    authorise_account(platform, caller, account_id, "lifecycle", write=True)
    definition = definition_for(platform.settings.home)
    row = complete_milestone(
        platform,
        definition,
        account_id,
        milestone_id,
        completed_on=done.completed_on or platform.today(),
        completed_by=caller.principal.member_id,
        note=done.note,
    )
    record_audit(
        platform,
        caller,
        action="complete",
        resource="milestones",
        resource_id=milestone_id,
        account_id=account_id,
        detail=f"done on {row.completed_on}",
    )
    return ResultResponse(
        {
            "account_id": row.account_id,
            "milestone": row.milestone_id,
            "completed_on": row.completed_on,
            "completed_by": row.completed_by,
            "note": row.note,
        }
    )
