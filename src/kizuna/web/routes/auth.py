"""Log in, log out, and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import RedirectResponse, Response

from kizuna.actions.teams import set_member_language
from kizuna.auth.audit import record_audit
from kizuna.auth.sessions import end_session, start_session
from kizuna.auth.throttle import guarded_login
from kizuna.auth.users import authenticate_password
from kizuna.errors import PermissionDenied, TooManyRequests
from kizuna.web import i18n
from kizuna.web.pages import PageContext, page_context, render
from kizuna.web.session import SESSION_COOKIE, SESSION_MAX_AGE, SessionCodec, csrf_ok

router = APIRouter()

LANG_COOKIE_MAX_AGE = 365 * 24 * 3600


def _safe_next(target: str | None, default: str) -> str:
    # Only paths on this site: "//evil.example" or "https://..." would be an open redirect.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


@router.get("/login", name="login_page")
def login_page(
    ctx: Annotated[PageContext, Depends(page_context)], next: str | None = None
) -> Response:
    return render(ctx, "login.html", next=_safe_next(next, ""), errors={}, email="")


@router.post("/login", name="login_submit")
def login_submit(
    ctx: Annotated[PageContext, Depends(page_context)],
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    errors: dict[str, str] = {}
    if not email.strip():
        errors["email"] = "Enter your e-mail address."
    if not password:
        errors["password"] = "Enter your password."
    if not errors and any(ord(c) < 32 for c in email):
        # No e-mail address has control characters (and PostgreSQL refuses NUL in text).
        errors["form"] = "Wrong e-mail or password."
    status = 401 if errors.get("form") else 422
    retry_after: int | None = None
    if not errors:
        address = ctx.request.client.host if ctx.request.client else None
        try:
            with guarded_login(ctx.platform, email, address):
                principal = authenticate_password(ctx.platform, email, password)
        except TooManyRequests as exc:
            record_audit(
                ctx.platform,
                None,
                action="login",
                resource="session",
                allowed=False,
                detail=exc.message,
            )
            errors["form"] = "Too many failed logins. Try again in a few minutes."
            status, retry_after = 429, exc.retry_after
        except PermissionDenied:
            status = 401
            record_audit(
                ctx.platform,
                None,
                action="login",
                resource="session",
                allowed=False,
                detail="wrong e-mail or password",
            )
            errors["form"] = "Wrong e-mail or password."
        else:
            codec: SessionCodec = ctx.request.app.state.session_codec
            _, cookie = codec.new(
                principal.member_id, start_session(ctx.platform, principal.member_id)
            )
            target = _safe_next(next, ctx.url("portfolio"))
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(
                SESSION_COOKIE,
                cookie,
                max_age=SESSION_MAX_AGE,
                httponly=True,
                secure=codec.secure,
                samesite="lax",
                path="/",
            )
            record_audit(
                ctx.platform,
                None,
                actor_id=principal.member_id,
                action="login",
                resource="session",
                allowed=True,
            )
            return response
    page = render(
        ctx, "login.html", status_code=status, next=_safe_next(next, ""), errors=errors, email=email
    )
    if retry_after is not None:
        page.headers["Retry-After"] = str(retry_after)
    return page


@router.post("/logout", name="logout")
def logout(
    ctx: Annotated[PageContext, Depends(page_context)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    response = RedirectResponse(ctx.url("login_page"), status_code=303)
    if ctx.session is None or csrf_ok(ctx.session, csrf_token):
        if ctx.session is not None:
            end_session(ctx.platform, ctx.session.session_id)  # the cookie is dead everywhere
        response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{code}", name="set_language")
def set_language(
    code: str, ctx: Annotated[PageContext, Depends(page_context)], next: str | None = None
) -> Response:
    """Remember the user's language in a cookie and go back to the page they were on."""
    target = _safe_next(next, ctx.url("portfolio"))
    response = RedirectResponse(target, status_code=303)
    if code in i18n.LANGUAGES:
        response.set_cookie(
            i18n.LANG_COOKIE, code, max_age=LANG_COOKIE_MAX_AGE, samesite="lax", path="/"
        )
        if ctx.principal is not None:  # a signed-in member's choice is their preference
            set_member_language(ctx.platform, ctx.principal.member_id, code)
    return response
