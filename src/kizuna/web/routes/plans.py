"""Success plan pages: an account's plan (every section editable) and the plans overview."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from kizuna.errors import InvalidInput, NotFound, Problem
from kizuna.plans import edit, schemas
from kizuna.plans.service import plan_of_account
from kizuna.web import plan_views, views
from kizuna.web.i18n import N_
from kizuna.web.pages import NavEntry, PageContext, login_required, render, require_csrf
from kizuna.web.problems import FieldErrors

router = APIRouter()
NAV = (NavEntry("plans", "Plans", order=35),)
STATUSES = ("on_track", "at_risk", "off_track", "achieved")


def _as_of(ctx: PageContext) -> date:
    text = ctx.request.query_params.get("as_of")
    if text:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise InvalidInput(
                "bad date", [Problem(f"{text!r} is not a YYYY-MM-DD date", field="as_of")]
            ) from None
    return ctx.platform.today()


def _page(
    ctx: PageContext,
    account_id: str,
    status_code: int = 200,
    errors: dict[str, FieldErrors] | None = None,
    values: dict[str, dict[str, Any]] | None = None,
) -> Response:
    page = plan_views.plan_page(ctx.platform, ctx.caller, account_id, _as_of(ctx))
    view = page.view
    kpis = ([view.kgi] if view and view.kgi else []) + (view.kpis if view else [])
    choices = {
        "templates": [(t.name, t.label.in_(ctx.lang)) for t in page.templates],
        "manual_kpis": [(k.id, k.name) for k in kpis if not k.metric],
        "initiatives": [(i.id, i.name) for i in (view.initiatives if view else [])],
    }
    return render(
        ctx,
        "plan.html",
        status_code=status_code,
        page=page,
        view=view,
        choices=choices,
        errors=errors or {},
        values=values or {},
        STATUS_TEXT=plan_views.STATUS_TEXT,
        PLAN_STATE_TEXT=plan_views.PLAN_STATE_TEXT,
    )


async def _form(ctx: PageContext, request: Request) -> Any:
    form = await request.form()
    require_csrf(ctx, str(form.get("csrf_token") or ""))
    return form


def _back(ctx: PageContext, account_id: str, anchor: str) -> Response:
    return RedirectResponse(ctx.url("account_plan", account_id=account_id) + f"#{anchor}", 303)


def _plan_id(ctx: PageContext, account_id: str) -> str:
    from kizuna.customers.service import authorise_account

    authorise_account(ctx.platform, ctx.caller, account_id, "plans")
    return plan_of_account(ctx.platform, account_id).id


@router.get("/accounts/{account_id}/plan", name="account_plan")
def plan_page(account_id: str, ctx: Annotated[PageContext, Depends(login_required)]) -> Response:
    return _page(ctx, account_id)


@router.post("/accounts/{account_id}/plan", name="plan_create")
async def plan_create(
    account_id: str, request: Request, ctx: Annotated[PageContext, Depends(login_required)]
) -> Response:
    form = await _form(ctx, request)
    data = {"account_id": account_id, **plan_views.form_data(schemas.PlanCreate, form)}
    data["account_id"] = account_id
    try:
        body = schemas.PlanCreate.model_validate(data)
        edit.new_plan(ctx.platform, ctx.caller, body)
    except (ValidationError, InvalidInput) as exc:
        return _page(ctx, account_id, 422, {"create": plan_views.field_errors(exc)})
    return _back(ctx, account_id, "plan")


@router.post("/accounts/{account_id}/plan/settings", name="plan_settings")
async def plan_settings(
    account_id: str, request: Request, ctx: Annotated[PageContext, Depends(login_required)]
) -> Response:
    form = await _form(ctx, request)
    plan_id = _plan_id(ctx, account_id)
    try:
        patch = plan_views.validate_form(schemas.PlanPatch, form, partial=True)
        edit.update_plan(ctx.platform, ctx.caller, plan_id, patch)
    except (ValidationError, InvalidInput) as exc:
        return _page(ctx, account_id, 422, {"settings": plan_views.field_errors(exc)})
    return _back(ctx, account_id, "plan")


@router.post("/accounts/{account_id}/plan/contacts/{contact_id}/role", name="plan_contact_role")
async def plan_contact_role(
    account_id: str,
    contact_id: str,
    request: Request,
    ctx: Annotated[PageContext, Depends(login_required)],
) -> Response:
    form = await _form(ctx, request)
    plan_id = _plan_id(ctx, account_id)
    try:
        body = schemas.ContactRoleIn.model_validate({"success_role": form.get("success_role")})
        edit.set_contact_role(ctx.platform, ctx.caller, plan_id, contact_id, body.success_role)
    except (ValidationError, InvalidInput) as exc:
        return _page(ctx, account_id, 422, {"roles": plan_views.field_errors(exc)})
    return _back(ctx, account_id, "roles")


@router.post("/accounts/{account_id}/plan/{part}", name="plan_add")
async def plan_add(
    account_id: str,
    part: str,
    request: Request,
    ctx: Annotated[PageContext, Depends(login_required)],
) -> Response:
    if part not in edit.PARTS:
        raise NotFound(f"no plan section {part}")
    form = await _form(ctx, request)
    plan_id = _plan_id(ctx, account_id)
    try:
        body = plan_views.validate_form(plan_views.FORMS[part], form)
        edit.add_part(ctx.platform, ctx.caller, plan_id, part, body)
    except (ValidationError, InvalidInput) as exc:
        values = {part: {k: v for k, v in form.items() if k != "csrf_token"}}
        return _page(ctx, account_id, 422, {part: plan_views.field_errors(exc)}, values)
    return _back(ctx, account_id, part)


@router.post("/accounts/{account_id}/plan/{part}/{part_id}", name="plan_update")
async def plan_update(
    account_id: str,
    part: str,
    part_id: str,
    request: Request,
    ctx: Annotated[PageContext, Depends(login_required)],
) -> Response:
    if part not in edit.PARTS:
        raise NotFound(f"no plan section {part}")
    form = await _form(ctx, request)
    plan_id = _plan_id(ctx, account_id)
    try:
        patch = plan_views.validate_form(plan_views.PATCH_FORMS[part], form, partial=True)
        edit.update_part(ctx.platform, ctx.caller, plan_id, part, part_id, patch)
    except (ValidationError, InvalidInput) as exc:
        return _page(ctx, account_id, 422, {f"{part}-{part_id}": plan_views.field_errors(exc)})
    return _back(ctx, account_id, part)


@router.post("/accounts/{account_id}/plan/{part}/{part_id}/delete", name="plan_delete_part")
async def plan_delete_part(
    account_id: str,
    part: str,
    part_id: str,
    request: Request,
    ctx: Annotated[PageContext, Depends(login_required)],
) -> Response:
    if part not in edit.PARTS:
        raise NotFound(f"no plan section {part}")
    await _form(ctx, request)
    plan_id = _plan_id(ctx, account_id)
    edit.delete_part(ctx.platform, ctx.caller, plan_id, part, part_id)
    return _back(ctx, account_id, part)


@router.get("/plans", name="plans")
def plans_overview(ctx: Annotated[PageContext, Depends(login_required)]) -> Response:
    options = views.filter_options(ctx.figures, ctx.caller)
    params = ctx.request.query_params
    errors: dict[str, str] = {}
    status = params.get("status") or None
    if status is not None and status not in STATUSES:
        errors["status"] = N_("Unknown status")
        status = None
    owner = params.get("owner") or None
    segment = params.get("segment") or None
    if owner is not None and owner not in {v for v, _ in options["owner"]}:
        errors["owner"] = N_("Unknown owner")
        owner = None
    if segment is not None and segment not in {v for v, _ in options["segment"]}:
        errors["segment"] = N_("Unknown segment")
        segment = None
    include_closed = params.get("all") == "1"
    as_of = _as_of(ctx)
    rows = edit.readable_plans(
        ctx.platform,
        ctx.caller,
        as_of,
        status=status,
        include_closed=include_closed,
        owner_id=owner,
        segment=segment,
    )
    return render(
        ctx,
        "plans.html",
        rows=rows,
        as_of=as_of,
        options=options,
        query={"status": status, "owner": owner, "segment": segment, "all": include_closed},
        errors=errors,
        STATUSES=STATUSES,
        STATUS_TEXT=plan_views.STATUS_TEXT,
        PLAN_STATE_TEXT=plan_views.PLAN_STATE_TEXT,
    )
