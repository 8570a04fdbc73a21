"""``/teams``, ``/me/preferences``, ``/secrets``: pooled teams, languages, stored secrets.

The same services as ``kizuna team ...``, ``kizuna user language`` and ``kizuna secret ...``.
Anyone signed in reads the teams; managers and admins change them. Each user sets their own
language (an admin anyone's). Secrets are admin-only, and no route ever returns a value.
Every change is written to the audit log (a secret's value never is).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from kizuna.actions.teams import (
    create_team,
    delete_team,
    get_team,
    list_teams,
    member_language,
    remove_member,
    rename_team,
    set_member,
    set_member_language,
    teams_of,
)
from kizuna.api.deps import AdminDep, CallerDep, PlatformDep
from kizuna.api.encoding import ResultResponse
from kizuna.api.params import ID_PATTERN, TEXT_PATTERN
from kizuna.auth import vault
from kizuna.auth.audit import record_audit
from kizuna.auth.policy import Caller
from kizuna.errors import PermissionDenied
from kizuna.platform import Platform
from kizuna.store.models import TeamRole

router = APIRouter(tags=["Teams and preferences"], default_response_class=ResultResponse)

TeamId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
MemberId = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
SecretName = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]
_MANAGE: dict[int | str, dict[str, Any]] = {
    403: {"description": "Needs a manager or an admin"},
    404: {"description": "Unknown team or team member"},
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TeamIn(_Body):
    id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_\-]*$")]
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=TEXT_PATTERN)]


class TeamPatch(_Body):
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=TEXT_PATTERN)]


class MembershipIn(_Body):
    role: Literal["lead", "member"] = "member"


class Preferences(_Body):
    language: Literal["en", "ja"]


class SecretIn(_Body):
    value: Annotated[str, Field(min_length=1, max_length=4000)]


def _manager(platform: Platform, caller: Caller, what: str) -> None:
    if caller.principal.role not in (TeamRole.ADMIN, TeamRole.MANAGER):
        record_audit(platform, caller, action=what, resource="teams", allowed=False,
                     detail="needs a manager or an admin")  # fmt: skip
        raise PermissionDenied("changing teams needs a manager or an admin")


def _audit(platform: Platform, caller: Caller, action: str, team_id: str, detail: str) -> None:
    record_audit(
        platform, caller, action=action, resource="teams", resource_id=team_id, detail=detail
    )


@router.get("/teams", summary="Teams, their members and roles, and their active CTAs")
def teams(platform: PlatformDep, caller: CallerDep) -> Any:
    return ResultResponse(list_teams(platform))


@router.get("/teams/{team_id}", summary="One team", responses={404: {"description": "No team"}})
def team(platform: PlatformDep, caller: CallerDep, team_id: TeamId) -> Any:
    return ResultResponse(get_team(platform, team_id))


@router.post("/teams", summary="Create a team", status_code=201, responses=_MANAGE)
def team_create(platform: PlatformDep, caller: CallerDep, body: TeamIn) -> Any:
    _manager(platform, caller, "create")
    done = create_team(platform, body.id, body.name)
    _audit(platform, caller, "create", done.id, done.name)
    return ResultResponse(done, status_code=201)


@router.patch("/teams/{team_id}", summary="Rename a team", responses=_MANAGE)
def team_rename(platform: PlatformDep, caller: CallerDep, team_id: TeamId, body: TeamPatch) -> Any:
    _manager(platform, caller, "update")
    done = rename_team(platform, team_id, body.name)
    _audit(platform, caller, "update", team_id, f"renamed {done.name}")
    return ResultResponse(done)


@router.delete("/teams/{team_id}", summary="Delete a team without active CTAs", responses={
    **_MANAGE, 409: {"description": "The team's pool still has active CTAs"},
})  # fmt: skip
def team_delete(platform: PlatformDep, caller: CallerDep, team_id: TeamId) -> Any:
    _manager(platform, caller, "delete")
    delete_team(platform, team_id)
    _audit(platform, caller, "delete", team_id, "deleted")
    return ResultResponse({"deleted": team_id})


@router.put(
    "/teams/{team_id}/members/{member_id}",
    summary="Put a team member in a team, or change their role there",
    responses=_MANAGE,
)
def membership_set(
    platform: PlatformDep,
    caller: CallerDep,
    team_id: TeamId,
    member_id: MemberId,
    body: MembershipIn | None = None,
) -> Any:
    _manager(platform, caller, "update")
    role = (body or MembershipIn()).role
    done = set_member(platform, team_id, member_id, role)
    _audit(platform, caller, "member_set", team_id, f"{member_id} as {role}")
    return ResultResponse(done)


@router.delete(
    "/teams/{team_id}/members/{member_id}", summary="Take a member out of a team", responses=_MANAGE
)
def membership_remove(
    platform: PlatformDep, caller: CallerDep, team_id: TeamId, member_id: MemberId
) -> Any:
    _manager(platform, caller, "update")
    done = remove_member(platform, team_id, member_id)
    _audit(platform, caller, "member_remove", team_id, member_id)
    return ResultResponse(done)


def _preferences(platform: Platform, member_id: str) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "language": member_language(platform, member_id),
        "teams": [{"id": t, "name": n, "role": r} for t, n, r in teams_of(platform, member_id)],
    }


@router.get("/me/preferences", summary="My language and my teams")
def my_preferences(platform: PlatformDep, caller: CallerDep) -> Any:
    return ResultResponse(_preferences(platform, caller.principal.member_id))


@router.put("/me/preferences", summary="Set my language (digests and the web UI)")
def my_preferences_set(platform: PlatformDep, caller: CallerDep, body: Preferences) -> Any:
    me = caller.principal.member_id
    set_member_language(platform, me, body.language)
    record_audit(platform, caller, action="update", resource="preferences", resource_id=me,
                 detail=f"language {body.language}")  # fmt: skip
    return ResultResponse(_preferences(platform, me))


@router.put(
    "/users/{member_id}/preferences",
    summary="Set a user's language (admin)",
    responses={404: {"description": "No such team member"}},
)
def user_preferences_set(
    platform: PlatformDep, caller: AdminDep, member_id: MemberId, body: Preferences
) -> Any:
    set_member_language(platform, member_id, body.language)
    record_audit(platform, caller, action="update", resource="preferences",
                 resource_id=member_id, detail=f"language {body.language}")  # fmt: skip
    return ResultResponse(_preferences(platform, member_id))


@router.get("/secrets", summary="Stored secrets: names and dates, never values (admin)")
def secrets(platform: PlatformDep, caller: AdminDep) -> Any:
    return ResultResponse(vault.list_secrets(platform))


@router.put("/secrets/{name}", summary="Store a secret, encrypted (admin)", responses={
    422: {"description": "Unknown name or bad value"},
    500: {"description": "No KIZUNA_SECRETS_KEY configured"},
})  # fmt: skip
def secret_set(platform: PlatformDep, caller: AdminDep, name: SecretName, body: SecretIn) -> Any:
    done = vault.set_secret(platform, name, body.value, caller.principal.member_id)
    record_audit(platform, caller, action="update", resource="secrets", resource_id=name,
                 detail="stored encrypted")  # fmt: skip
    return ResultResponse(done)


@router.delete("/secrets/{name}", summary="Forget a stored secret (admin)")
def secret_delete(platform: PlatformDep, caller: AdminDep, name: SecretName) -> Any:
    vault.delete_secret(platform, name)
    record_audit(platform, caller, action="delete", resource="secrets", resource_id=name,
                 detail="deleted")  # fmt: skip
    return ResultResponse({"deleted": name})
