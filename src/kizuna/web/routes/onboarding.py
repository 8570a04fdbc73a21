"""Onboarding: time to value, activation rate and on-time onboarding, by cohort and segment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from kizuna.web import lifecycle_views, views
from kizuna.web.pages import NavEntry, PageContext, login_required, render

router = APIRouter()
NAV = (NavEntry("onboarding", "Onboarding", order=40),)


@router.get("/onboarding", name="onboarding")
def onboarding_page(ctx: Annotated[PageContext, Depends(login_required)]) -> Response:
    options = views.filter_options(ctx.figures, ctx.caller)
    query, _, errors = views.parse_portfolio_query(ctx.request.query_params, options)
    errors.pop("period", None)
    data = lifecycle_views.onboarding_page(ctx.figures, ctx.caller, query)
    return render(ctx, "onboarding.html", query=query, data=data, errors=errors, options=options)
