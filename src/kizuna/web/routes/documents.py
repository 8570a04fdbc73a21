"""Customer documents in the UI: download buttons' targets and "Share with customer"."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from kizuna.documents import sharing
from kizuna.errors import InvalidInput, NotFound, Problem
from kizuna.web.i18n import N_
from kizuna.web.pages import PageContext, login_required, render, require_csrf
from kizuna.web.problems import error_problems

router = APIRouter()


@router.get("/accounts/{account_id}/documents/{kind}", name="document_download")
def document_download(
    account_id: str, kind: str, ctx: Annotated[PageContext, Depends(login_required)]
) -> Response:
    q = ctx.request.query_params
    as_of = None
    if q.get("as_of"):
        try:
            as_of = date.fromisoformat(q["as_of"])
        except ValueError:
            raise InvalidInput(
                "bad date", [Problem(f"{q['as_of']!r} is not a YYYY-MM-DD date", field="as_of")]
            ) from None
    doc = sharing.render_for(
        ctx.platform,
        ctx.caller,
        kind,
        account_id,
        fmt=q.get("format", "pdf"),
        as_of=as_of,
        lang=q.get("lang") or None,
        internal=q.get("internal") == "1",
    )
    return Response(
        doc.content,
        media_type=doc.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{doc.filename}"',
            "Cache-Control": "no-store",
        },
    )


def _links_page(
    ctx: PageContext,
    account_id: str,
    new: sharing.NewShare | None = None,
    problems: Sequence[Problem | str] = (),
    status_code: int = 200,
) -> Response:
    links = sharing.readable_shares(ctx.platform, ctx.caller, account_id)
    return render(
        ctx,
        "share_links.html",
        status_code=status_code,
        account_id=account_id,
        links=links,
        new=new,
        problems=list(problems),
    )


async def _checked_form(ctx: PageContext, request: Request) -> dict[str, str]:
    form = await request.form()
    require_csrf(ctx, str(form.get("csrf_token") or ""))
    return {k: str(v) for k, v in form.items()}


@router.get("/accounts/{account_id}/share", name="share_links")
def share_links(account_id: str, ctx: Annotated[PageContext, Depends(login_required)]) -> Response:
    return _links_page(ctx, account_id)


@router.post("/accounts/{account_id}/share", name="share_create")
async def share_create(
    account_id: str, request: Request, ctx: Annotated[PageContext, Depends(login_required)]
) -> Response:
    form = await _checked_form(ctx, request)
    try:
        days = int(form.get("days", "30"))
    except ValueError:
        days_problem = N_("Enter the number of days as a whole number.")
        return _links_page(ctx, account_id, problems=[days_problem], status_code=422)
    try:
        new = sharing.share_for(
            ctx.platform, ctx.caller, account_id, days, form.get("contact_id") or None
        )
    except InvalidInput as exc:
        return _links_page(ctx, account_id, problems=error_problems(exc), status_code=422)
    return _links_page(ctx, account_id, new=new, status_code=201)


@router.post("/accounts/{account_id}/share/{share_id}/revoke", name="share_revoke")
async def share_revoke(
    account_id: str,
    share_id: str,
    request: Request,
    ctx: Annotated[PageContext, Depends(login_required)],
) -> Response:
    await _checked_form(ctx, request)
    visible = {s.id for s in sharing.readable_shares(ctx.platform, ctx.caller, account_id)}
    if share_id not in visible:
        raise NotFound(f"no share link {share_id}")
    sharing.revoke_share(ctx.platform, share_id, caller=ctx.caller)
    return _links_page(ctx, account_id)
