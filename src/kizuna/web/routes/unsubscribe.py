"""The unsubscribe link of tech-touch e-mails: no login, the signed token names the contact.

``GET`` asks the contact to confirm (mail scanners follow links; they must not opt
anyone out); ``POST`` — the confirm button, or a mail client's RFC 8058 one-click
request — records the opt-out. Shown in the contact's language unless the visitor
picked one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from kizuna.actions.techtouch import contact_of_token, contact_preference, opt_out
from kizuna.auth.audit import record_audit
from kizuna.errors import NotFound
from kizuna.web import i18n
from kizuna.web.pages import PageContext, page_context, render

router = APIRouter()

_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _speak_to(ctx: PageContext, language: str) -> None:
    if not ctx.request.cookies.get(i18n.LANG_COOKIE):
        ctx.lang = language


def _checked(token: str) -> str:
    if len(token) > 400:
        raise NotFound("unknown unsubscribe link")
    return token


@router.get("/unsubscribe/{token}", name="unsubscribe_page")
def unsubscribe_page(token: str, ctx: Annotated[PageContext, Depends(page_context)]) -> Response:
    contact_id = contact_of_token(ctx.platform.settings, _checked(token))
    try:
        pref = contact_preference(ctx.platform, contact_id)
    except NotFound:
        raise NotFound("unknown unsubscribe link") from None
    _speak_to(ctx, pref.language)
    response = render(ctx, "unsubscribe.html", pref=pref, token=token, done=pref.opted_out)
    response.headers.update(_HEADERS)
    return response


@router.post("/unsubscribe/{token}", name="unsubscribe_confirm")
def unsubscribe_confirm(token: str, ctx: Annotated[PageContext, Depends(page_context)]) -> Response:
    pref = opt_out(ctx.platform, _checked(token))
    record_audit(
        ctx.platform, None, action="opt_out", resource="contacts", resource_id=pref.contact_id,
        account_id=pref.account_id, detail="unsubscribed from tech-touch e-mails",
    )  # fmt: skip
    _speak_to(ctx, pref.language)
    response = render(ctx, "unsubscribe.html", pref=pref, token=token, done=True)
    response.headers.update(_HEADERS)
    return response
