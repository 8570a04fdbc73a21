"""The churn-risk page: the newest model's evaluation (backtest, health beside it, calibration)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from kizuna.web import risk_views
from kizuna.web.pages import NavEntry, PageContext, login_required, render

router = APIRouter()
NAV = (NavEntry("risk", "Churn risk", order=35),)


@router.get("/risk", name="risk")
def risk_page(ctx: Annotated[PageContext, Depends(login_required)]) -> Response:
    return render(ctx, "risk.html", ev=risk_views.latest_evaluation(ctx.platform, ctx.lang))
