"""FastAPI dependencies: the platform, the current caller and role checks.

Use them as ``Annotated`` types in route signatures::

    def handler(platform: PlatformDep, caller: CallerDep) -> ...
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from kizuna.api.sessions import COOKIE_NAME, CSRF_HEADER, SessionSigner
from kizuna.auth.audit import record_audit
from kizuna.auth.policy import Caller, Principal, can_administer
from kizuna.auth.sessions import session_principal
from kizuna.auth.tokens import TokenCache, authenticate_token_id
from kizuna.errors import NotAuthenticated, PermissionDenied
from kizuna.platform import Platform

_bearer = HTTPBearer(auto_error=False, description="A personal API token (kizuna token create).")
_cookie = APIKeyCookie(
    name=COOKIE_NAME, auto_error=False, description="The web UI's session (POST /auth/login)."
)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# The trivial dependencies are ``async`` so that FastAPI does not hand each of them
# to the thread pool (a thread hop per dependency per request; see bench/api).


async def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


async def get_signer(request: Request) -> SessionSigner:
    signer: SessionSigner = request.app.state.session_signer
    return signer


PlatformDep = Annotated[Platform, Depends(get_platform)]
SignerDep = Annotated[SessionSigner, Depends(get_signer)]


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


async def get_caller(
    request: Request,
    platform: PlatformDep,
    signer: SignerDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session_cookie: Annotated[str | None, Depends(_cookie)],
) -> Caller:
    """The authenticated caller: by API token (Bearer) or by UI session cookie.

    A token seen in the last few seconds is answered from the process's
    :class:`~kizuna.auth.tokens.TokenCache` without a query or a thread hop.
    """
    principal: Principal
    if bearer is not None:
        cache: TokenCache = request.app.state.token_cache
        cached = cache.get(bearer.credentials)
        if cached is not None:
            principal = cached
        else:
            try:
                token_id, principal = await run_in_threadpool(
                    authenticate_token_id, platform, bearer.credentials
                )
            except PermissionDenied as exc:
                raise NotAuthenticated(exc.message) from None
            cache.put(bearer.credentials, token_id, principal)
    elif session_cookie:
        session = signer.read(session_cookie)
        if session is None:
            raise NotAuthenticated("the session expired or is invalid: log in again", "Cookie")
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent, session.csrf_token):
                raise PermissionDenied(
                    f"missing or wrong {CSRF_HEADER} header for a session-authenticated change"
                )
        try:
            principal = await run_in_threadpool(
                session_principal, platform, session.session_id, session.member_id
            )
        except PermissionDenied as exc:
            raise NotAuthenticated(exc.message, "Cookie") from None
    else:
        raise NotAuthenticated("send an API token: Authorization: Bearer <token>")
    return Caller(
        principal=principal,
        csm_scope=platform.settings.csm_scope,
        request_id=request_id(request),
    )


CallerDep = Annotated[Caller, Depends(get_caller)]


def require_admin(request: Request, platform: PlatformDep, caller: CallerDep) -> Caller:
    """The caller, if an admin; otherwise the denial is audited and 403 returned."""
    if not can_administer(caller):
        record_audit(
            platform,
            caller,
            action=request.method.lower(),
            resource=request.url.path,
            allowed=False,
            detail="needs the admin role",
        )
        raise PermissionDenied("this needs the admin role")
    return caller


AdminDep = Annotated[Caller, Depends(require_admin)]
