"""Retention: cohort heat maps (logo and revenue), ARR movements by month, renewal rate."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from kizuna.web import retention_views, views
from kizuna.web.pages import NavEntry, PageContext, login_required, render

router = APIRouter()
NAV = (NavEntry("retention", "Retention", order=30),)


@router.get("/retention", name="retention")
def retention_page(ctx: Annotated[PageContext, Depends(login_required)]) -> Response:
    options = views.filter_options(ctx.figures, ctx.caller)
    query, _, errors = views.parse_portfolio_query(ctx.request.query_params, options)
    errors.pop("period", None)
    data = retention_views.retention_page(ctx.figures, ctx.caller, query)
    return render(ctx, "retention.html", query=query, data=data, errors=errors, options=options)
