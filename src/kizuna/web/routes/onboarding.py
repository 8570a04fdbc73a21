"""Onboarding: time to value, activation rate and on-time onboarding, by cohort and segment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from kizuna.web import insights, views
from kizuna.web.pages import NavEntry, PageContext, login_required, render

router = APIRouter()
NAV = (NavEntry("onboarding", "Onboarding", order=40),)


@router.get("/onboarding", name="onboarding")
def onboarding_page(ctx: Annotated[PageContext, Depends(login_required)]) -> Response:
    query, _, errors = views.parse_portfolio_query(ctx.request.query_params)
    data = insights.onboarding_page(ctx.platform, ctx.caller, query)
    options = views.filter_options(ctx.platform, ctx.caller)
    return render(ctx, "onboarding.html", query=query, data=data, errors=errors, options=options)
