"""``/auth``: log in with e-mail and password (UI session cookie), log out, who am I."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from kizuna.api.deps import CallerDep, PlatformDep, SignerDep, request_id
from kizuna.api.sessions import COOKIE_NAME, CSRF_HEADER, MAX_AGE_SECONDS
from kizuna.auth.audit import record_audit
from kizuna.auth.sessions import end_session, start_session
from kizuna.auth.throttle import guarded_login
from kizuna.auth.users import authenticate_password
from kizuna.errors import NotAuthenticated, PermissionDenied, TooManyRequests
from kizuna.store.models import TeamRole

router = APIRouter(prefix="/auth", tags=["Auth"])


class LoginIn(BaseModel):
    email: Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^\x00]+$")]
    password: Annotated[str, Field(min_length=1, max_length=1024, pattern=r"^[^\x00]+$")]


class Me(BaseModel):
    id: str
    name: str
    email: str | None
    role: TeamRole
    csm_scope: str


class LoginOut(BaseModel):
    user: Me
    csrf_token: str = Field(description="Send as X-CSRF-Token with changes made by the session.")


@router.post(
    "/login",
    response_model=LoginOut,
    summary="Log in (sets the session cookie)",
    responses={
        401: {"description": "Wrong e-mail or password"},
        429: {"description": "Too many failed logins: wait Retry-After seconds"},
    },
)
def login(
    body: LoginIn, request: Request, response: Response, platform: PlatformDep, signer: SignerDep
) -> LoginOut:
    address = request.client.host if request.client else None
    try:
        with guarded_login(platform, body.email, address):
            principal = authenticate_password(platform, body.email, body.password)
    except (PermissionDenied, TooManyRequests) as exc:
        record_audit(
            platform,
            None,
            action="login",
            resource="session",
            allowed=False,
            detail=f"{exc.message} for {body.email[:320]}",
        )
        if isinstance(exc, TooManyRequests):
            raise
        raise NotAuthenticated(exc.message, "Cookie") from None
    value, session = signer.issue(principal.member_id, start_session(platform, principal.member_id))
    response.set_cookie(
        COOKIE_NAME,
        value,
        max_age=MAX_AGE_SECONDS,
        httponly=True,
        secure=platform.settings.cookie_secure,
        samesite="lax",
        path="/",
    )
    record_audit(
        platform,
        None,
        actor_id=principal.member_id,
        action="login",
        resource="session",
        detail=f"request {request_id(request)}",
    )
    return LoginOut(
        user=Me(
            id=principal.member_id,
            name=principal.name,
            email=principal.email,
            role=principal.role,
            csm_scope=platform.settings.csm_scope,
        ),
        csrf_token=session.csrf_token,
    )


@router.post(
    "/logout",
    status_code=204,
    response_class=Response,
    summary="Log out (ends the session on the server)",
    responses={403: {"description": "Missing or wrong X-CSRF-Token for the session"}},
)
def logout(request: Request, platform: PlatformDep, signer: SignerDep) -> Response:
    cookie = request.cookies.get(COOKIE_NAME)
    session = signer.read(cookie) if cookie else None
    if session is not None:
        # Like every change a session makes: a cross-site page must not log users out.
        if not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), session.csrf_token):
            raise PermissionDenied(f"missing or wrong {CSRF_HEADER} header for the session")
        end_session(platform, session.session_id)
    response = Response(status_code=204)
    response.delete_cookie(
        COOKIE_NAME, path="/", secure=platform.settings.cookie_secure, httponly=True
    )
    return response


@router.get("/me", response_model=Me, summary="The authenticated user")
def me(caller: CallerDep) -> Me:
    p = caller.principal
    return Me(id=p.member_id, name=p.name, email=p.email, role=p.role, csm_scope=caller.csm_scope)
