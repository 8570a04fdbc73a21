"""The portfolio dashboard: ARR and movements, retention, health, stages, renewals, attention."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response

from kizuna.web import views
from kizuna.web.pages import NavEntry, PageContext, login_required, render

router = APIRouter()
NAV = (NavEntry("portfolio", "Portfolio", order=10),)


@router.get("/", name="home", include_in_schema=False)
def home(ctx: Annotated[PageContext, Depends(login_required)]) -> Response:
    return RedirectResponse(ctx.url("portfolio"), status_code=303)


@router.get("/portfolio", name="portfolio")
def portfolio_page(ctx: Annotated[PageContext, Depends(login_required)]) -> Response:
    options = views.filter_options(ctx.figures, ctx.caller)
    query, period, errors = views.parse_portfolio_query(ctx.request.query_params, options)
    data = views.portfolio(ctx.figures, ctx.caller, query, period, options)
    return render(ctx, "portfolio.html", query=query, period=period, data=data, errors=errors)
