"""``/users`` and ``/tokens``: team members' logins and personal API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from kizuna.api.deps import AdminDep, CallerDep, PlatformDep
from kizuna.api.params import ID_PATTERN
from kizuna.auth import tokens, users
from kizuna.auth.audit import record_audit
from kizuna.errors import NotFound
from kizuna.store.models import TeamRole

router = APIRouter(tags=["Users"])

_NoNul = r"^[^\x00]+$"
_Id = ID_PATTERN


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=64, pattern=_Id)]
    name: Annotated[str, Field(min_length=1, max_length=200, pattern=_NoNul)]
    email: Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^\x00@]+@[^\x00]+$")]
    role: TeamRole
    password: Annotated[str, Field(min_length=10, max_length=1024, pattern=_NoNul)] | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    email: str | None
    role: TeamRole
    active: bool
    has_password: bool


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200, pattern=_NoNul)] = "api"


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    member_id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewTokenOut(BaseModel):
    token: str = Field(description="The secret: shown this once, store it now.")
    info: TokenOut


TokenId = Annotated[str, Path(min_length=1, max_length=32, pattern=_Id)]


@router.get("/users", response_model=list[UserOut], summary="List users (admin)")
def list_users(platform: PlatformDep, caller: AdminDep) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in users.list_users(platform)]


@router.post("/users", response_model=UserOut, status_code=201, summary="Add a user (admin)")
def add_user(body: UserIn, platform: PlatformDep, caller: AdminDep) -> UserOut:
    user = users.add_user(
        platform,
        member_id=body.id,
        name=body.name,
        email=body.email,
        role=body.role,
        password=body.password,
    )
    record_audit(platform, caller, action="create", resource="users", resource_id=user.id)
    return UserOut.model_validate(user)


class UserPatch(BaseModel):
    """What an admin may change of a user; each change that matters ends their sessions."""

    model_config = ConfigDict(extra="forbid")

    active: bool | None = Field(
        default=None, description="false deactivates: sessions end, API tokens stop working."
    )
    password: Annotated[str, Field(min_length=10, max_length=1024, pattern=_NoNul)] | None = Field(
        default=None, description="A new password: the user's open sessions end."
    )


MemberId = Annotated[str, Path(min_length=1, max_length=64, pattern=_Id)]


@router.patch(
    "/users/{member_id}",
    response_model=UserOut,
    summary="Deactivate, activate or set the password of a user (admin)",
)
def update_user(
    member_id: MemberId, body: UserPatch, platform: PlatformDep, caller: AdminDep
) -> UserOut:
    if body.password is not None:
        users.set_password(platform, member_id, body.password)
    if body.active is not None:
        users.set_active(platform, member_id, body.active)
    changed = ", ".join(
        k for k, v in body.model_dump().items() if v is not None and k != "password"
    )
    detail = "; ".join(x for x in (changed, "password" if body.password else "") if x)
    record_audit(
        platform, caller, action="update", resource="users", resource_id=member_id, detail=detail
    )
    found = [u for u in users.list_users(platform) if u.id == member_id]
    if not found:
        raise NotFound(f"no team member {member_id}")
    return UserOut.model_validate(found[0])


@router.get("/tokens", response_model=list[TokenOut], summary="My API tokens")
def my_tokens(platform: PlatformDep, caller: CallerDep) -> list[TokenOut]:
    mine = tokens.list_tokens(platform, caller.principal.member_id)
    return [TokenOut.model_validate(t) for t in mine]


@router.post(
    "/tokens", response_model=NewTokenOut, status_code=201, summary="Create a personal API token"
)
def create_token(body: TokenIn, platform: PlatformDep, caller: CallerDep) -> NewTokenOut:
    new = tokens.create_token(platform, caller.principal.member_id, body.name)
    record_audit(platform, caller, action="create", resource="tokens", resource_id=new.info.id)
    return NewTokenOut(token=new.token, info=TokenOut.model_validate(new.info))


@router.delete(
    "/tokens/{token_id}", status_code=204, response_class=Response, summary="Revoke my token"
)
def revoke_token(
    request: Request, token_id: TokenId, platform: PlatformDep, caller: CallerDep
) -> Response:
    owner = None if caller.principal.is_admin else caller.principal.member_id
    tokens.revoke_token(platform, token_id, member_id=owner)
    request.app.state.token_cache.forget_token(token_id)
    record_audit(platform, caller, action="revoke", resource="tokens", resource_id=token_id)
    return Response(status_code=204)
