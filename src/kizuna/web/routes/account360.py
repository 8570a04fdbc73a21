"""The account 360: header, health, usage, contracts and ARR, contacts, timeline, lifecycle."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import RedirectResponse, Response

from kizuna.actions.techtouch import account_contact_preferences
from kizuna.errors import InvalidInput
from kizuna.health import list_sentiments
from kizuna.web import action_views, insights, lifecycle_views, revenue_views, risk_views, views
from kizuna.web.i18n import use_locale
from kizuna.web.pages import PageContext, login_required, render, require_csrf
from kizuna.web.problems import error_problems

router = APIRouter()


def render_account(
    ctx: PageContext, account_id: str, status_code: int = 200, **extra: object
) -> Response:
    view = views.account_360(ctx.figures, ctx.caller, account_id)
    definition = lifecycle_views.definition_of(ctx.platform)
    # the CSM's work on the account (issue 17): CTA events on the timeline, the work forms
    words = action_views.titles(ctx.figures, ctx.lang)
    with use_locale(ctx.lang):  # the events' words, in the page's language
        for event in action_views.cta_timeline(ctx.platform, account_id):
            view.timeline.append(
                views.TimelineItem(
                    at=event["on"],
                    kind="cta",
                    title=words.rule_title(event["cta_title"]),
                    detail=words.event(event),
                )
            )
    view.timeline.sort(key=lambda i: i.at, reverse=True)
    sentiments = list_sentiments(ctx.platform, account_id)
    data: dict[str, object] = {
        "milestone_errors": {},
        "form_problems": [],
        "action_problems": [],
        "account_ctas": action_views.account_ctas(ctx.platform, account_id),
        "contact_prefs": account_contact_preferences(ctx.platform, account_id),
        "sentiment": sentiments[0] if sentiments else None,
        "AL": action_views.LABELS,
        "AT": words,
    }
    data.update(extra)
    return render(
        ctx,
        "account360.html",
        status_code=status_code,
        view=view,
        health=insights.health_detail(ctx.figures, account_id),
        usage=insights.usage_charts(ctx.figures, account_id),
        lifecycle=view.lifecycle,
        lifecycle_labels=definition,
        stage_by_name=lambda name: lifecycle_views.stage_label_by_name(definition, name),
        arr_history=insights.arr_history_chart(ctx.figures, account_id),
        risk=risk_views.account_panel(ctx.platform, account_id, ctx.lang),
        growth=revenue_views.growth_for(ctx.platform, ctx.caller, account_id),
        has_plan=_has_plan(ctx, account_id),
        **data,
    )


def _has_plan(ctx: PageContext, account_id: str) -> bool:
    """Whether the account has a plan (its documents are built from it: issue 16)."""
    from kizuna.errors import NotFound
    from kizuna.plans import plan_of_account

    try:
        plan_of_account(ctx.platform, account_id)
    except NotFound:
        return False
    return True


@router.get("/accounts/{account_id}", name="account")
def account_page(account_id: str, ctx: Annotated[PageContext, Depends(login_required)]) -> Response:
    return render_account(ctx, account_id)


@router.post("/accounts/{account_id}/milestones/{milestone_id}/done", name="milestone_done")
def milestone_done(
    account_id: str,
    milestone_id: str,
    ctx: Annotated[PageContext, Depends(login_required)],
    csrf_token: Annotated[str, Form()] = "",
    done_on: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(ctx, csrf_token)
    try:
        lifecycle_views.mark_milestone_done(
            ctx.figures, ctx.caller, account_id, milestone_id, done_on
        )
    except InvalidInput as exc:
        fields = {p.field: p for p in exc.problems if p.field == "done_on"}
        others = [p for p in exc.problems if p.field != "done_on"] or (
            [] if fields else error_problems(exc)
        )
        return render_account(
            ctx,
            account_id,
            status_code=422,
            milestone_errors={milestone_id: fields} if fields else {},
            form_problems=others,
        )
    target = ctx.url("account", account_id=account_id) + "#lifecycle"
    return RedirectResponse(target, status_code=303)
