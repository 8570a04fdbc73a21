"""Revenue pages: the renewal centre and forecast, the opportunity pipeline, the metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from kizuna.web import revenue_views
from kizuna.web.pages import NavEntry, PageContext, login_required, render

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
    return render(ctx, "renewals.html", data=data)


@router.get("/opportunities", name="opportunities")
def opportunities_page(
    ctx: Annotated[PageContext, Depends(login_required)],
    type: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    kind = type if type in _TYPES else None
    columns = revenue_views.pipeline(ctx.platform, ctx.caller, kind)
    return render(ctx, "opportunities.html", columns=columns, kind=kind, types=_TYPES)


@router.get("/framework", name="framework")
def framework_page(
    ctx: Annotated[PageContext, Depends(login_required)],
    window: Annotated[str, Query(max_length=16)] = "quarter",
) -> Response:
    data = revenue_views.framework_page(ctx.platform, window)
    return render(ctx, "framework.html", data=data, window=window)
