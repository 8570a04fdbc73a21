"""Revenue pages: the renewal centre and forecast, the opportunity pipeline, the metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from kizuna.errors import Conflict, InvalidInput, KizunaError, NotFound, PermissionDenied
from kizuna.revenue import definition_for
from kizuna.revenue.access import lose_as, move_as, open_as, reassign_as, win_as
from kizuna.revenue.opportunities import OpportunityView
from kizuna.store.revenue_models import OpportunitySource, OpportunityType
from kizuna.web import revenue_forms, revenue_views
from kizuna.web.i18n import N_
from kizuna.web.pages import (
    NavEntry,
    PageContext,
    form_action,
    login_required,
    render,
)
from kizuna.web.problems import FieldErrors
from kizuna.web.views import excel_csv

router = APIRouter()
NAV = (
    NavEntry("renewals", "Renewals", order=32),
    NavEntry("opportunities", "Pipeline", order=34),
    NavEntry("framework", "Metrics", order=36),
)
_TYPES = ("renewal", "upsell", "cross_sell", "downsell")


@router.get("/renewals", name="renewals")
def renewals_page(
    ctx: Annotated[PageContext, Depends(login_required)],
    period: Annotated[str, Query(max_length=16)] = "quarter",
) -> Response:
    data = revenue_views.renewal_centre(ctx.platform, ctx.caller, period)
    return render(
        ctx,
        "renewals.html",
        data=data,
        shown=revenue_views.RENEWALS_SHOWN,
        PLAN_STATUS_TEXT=revenue_views.PLAN_STATUS_TEXT,
        RISK_BAND_TEXT=revenue_views.RISK_BAND_TEXT,
    )


@router.get("/renewals.csv", name="renewals_csv")
def renewals_csv(
    ctx: Annotated[PageContext, Depends(login_required)],
    period: Annotated[str, Query(max_length=16)] = "quarter",
) -> Response:
    text = revenue_views.renewals_download(ctx.platform, ctx.caller, period)
    if text is None:
        raise NotFound("the renewal centre has not been computed yet: run 'kizuna daily'")
    return Response(
        excel_csv(text),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="renewals.csv"'},
    )


def _pipeline(
    ctx: PageContext,
    kind: str | None,
    status_code: int = 200,
    errors: FieldErrors | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    columns = revenue_views.pipeline(ctx.platform, ctx.caller, kind)
    forms = revenue_views.pipeline_forms(ctx.platform, ctx.caller)
    typed = typed or {}
    if not typed and ctx.request.query_params.get("account_id"):
        typed = {"account_id": ctx.request.query_params["account_id"][:64]}
    return render(
        ctx,
        "opportunities.html",
        status_code=status_code,
        columns=columns,
        kind=kind,
        types=_TYPES,
        forms=forms,
        errors=errors or {},
        typed=typed,
        today=ctx.platform.today(),
    )


@router.get("/opportunities", name="opportunities")
def opportunities_page(
    ctx: Annotated[PageContext, Depends(login_required)],
    type: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    return _pipeline(ctx, type if type in _TYPES else None)


@router.post("/opportunities", name="opportunity_create")
async def opportunity_create(
    request: Request, ctx: Annotated[PageContext, Depends(login_required)]
) -> Response:
    form = await request.form()
    forms = revenue_views.pipeline_forms(ctx.platform, ctx.caller)
    parsed = revenue_forms.parse_new(
        form, definition_for(ctx.platform.settings.home), forms.owner_ids
    )

    def work() -> OpportunityView:
        values = dict(parsed.checked())
        kind = OpportunityType(values.pop("type"))
        return open_as(
            ctx.platform, ctx.caller, type=kind, source=OpportunitySource.MANUAL, **values
        )

    def refused(exc: KizunaError) -> Response:
        errors: FieldErrors
        if parsed.errors:
            errors = parsed.errors
        elif isinstance(exc, NotFound):
            errors = {"account_id": N_("No such account in your book.")}
        elif isinstance(exc, PermissionDenied):
            errors = {"account_id": N_("You may not change this account's opportunities.")}
        else:
            errors = revenue_forms.refusal_errors(exc)
        return _pipeline(ctx, None, 422, errors, parsed.typed)

    return form_action(
        ctx,
        str(form.get("csrf_token") or ""),
        work,
        lambda view: RedirectResponse(ctx.url("opportunity", opportunity_id=view.id), 303),
        refused,
        refuse=(InvalidInput, NotFound, PermissionDenied),
    )


def _opportunity(
    ctx: PageContext,
    opportunity_id: str,
    status_code: int = 200,
    errors: dict[str, FieldErrors] | None = None,
    typed: dict[str, dict[str, str]] | None = None,
) -> Response:
    page = revenue_views.opportunity_page(ctx.platform, ctx.caller, opportunity_id)
    forms = revenue_views.pipeline_forms(ctx.platform, ctx.caller)
    return render(
        ctx,
        "opportunity.html",
        status_code=status_code,
        page=page,
        o=page.opportunity,
        forms=forms,
        errors=errors or {},
        typed=typed or {},
        today=ctx.platform.today(),
    )


@router.get("/opportunities/{opportunity_id}", name="opportunity")
def opportunity_page(
    opportunity_id: str, ctx: Annotated[PageContext, Depends(login_required)]
) -> Response:
    return _opportunity(ctx, opportunity_id)


async def _act(
    ctx: PageContext,
    request: Request,
    opportunity_id: str,
    which: str,
    parse: Callable[[Any], revenue_forms.Parsed],
    act: Callable[[dict[str, Any]], object],
) -> Response:
    """A form of the opportunity page: its own checks, then the service; refused, the page
    again with the form ``which``'s problems by field."""
    form = await request.form()
    parsed = parse(form)

    def work() -> object:
        return act(parsed.checked())

    def refused(exc: KizunaError) -> Response:
        errors = parsed.errors or revenue_forms.refusal_errors(exc)
        return _opportunity(ctx, opportunity_id, 422, {which: errors}, {which: parsed.typed})

    return form_action(
        ctx,
        str(form.get("csrf_token") or ""),
        work,
        lambda _: RedirectResponse(ctx.url("opportunity", opportunity_id=opportunity_id), 303),
        refused,
        refuse=(InvalidInput, PermissionDenied, Conflict),
    )


@router.post("/opportunities/{opportunity_id}/stage", name="opportunity_stage")
async def opportunity_stage(
    opportunity_id: str, request: Request, ctx: Annotated[PageContext, Depends(login_required)]
) -> Response:
    definition = definition_for(ctx.platform.settings.home)
    return await _act(
        ctx,
        request,
        opportunity_id,
        "stage",
        lambda form: revenue_forms.parse_stage(form, definition),
        lambda v: move_as(ctx.platform, ctx.caller, opportunity_id, v["stage"], on=v["on"]),
    )


@router.post("/opportunities/{opportunity_id}/won", name="opportunity_won")
async def opportunity_won(
    opportunity_id: str, request: Request, ctx: Annotated[PageContext, Depends(login_required)]
) -> Response:
    return await _act(
        ctx,
        request,
        opportunity_id,
        "won",
        lambda form: revenue_forms.parse_close(form, lost=False),
        lambda v: win_as(ctx.platform, ctx.caller, opportunity_id, on=v["on"], reason=v["reason"]),
    )


@router.post("/opportunities/{opportunity_id}/lost", name="opportunity_lost")
async def opportunity_lost(
    opportunity_id: str, request: Request, ctx: Annotated[PageContext, Depends(login_required)]
) -> Response:
    return await _act(
        ctx,
        request,
        opportunity_id,
        "lost",
        lambda form: revenue_forms.parse_close(form, lost=True),
        lambda v: lose_as(ctx.platform, ctx.caller, opportunity_id, reason=v["reason"], on=v["on"]),
    )


@router.post("/opportunities/{opportunity_id}/owner", name="opportunity_owner")
async def opportunity_owner(
    opportunity_id: str, request: Request, ctx: Annotated[PageContext, Depends(login_required)]
) -> Response:
    owners = revenue_views.pipeline_forms(ctx.platform, ctx.caller).owner_ids
    return await _act(
        ctx,
        request,
        opportunity_id,
        "owner",
        lambda form: revenue_forms.parse_owner(form, owners),
        lambda v: reassign_as(ctx.platform, ctx.caller, opportunity_id, v["owner_id"]),
    )


@router.get("/framework", name="framework")
def framework_page(
    ctx: Annotated[PageContext, Depends(login_required)],
    window: Annotated[str, Query(max_length=16)] = "quarter",
) -> Response:
    data = revenue_views.framework_page(ctx.platform, ctx.caller, window)
    return render(ctx, "framework.html", data=data, window=window)
