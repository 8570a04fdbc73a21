"""The account list: search, sort, filters, and a CSV download of what is listed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from kizuna.web import views
from kizuna.web.pages import NavEntry, PageContext, login_required, render

router = APIRouter()
NAV = (NavEntry("accounts", "Accounts", order=20),)


@router.get("/accounts", name="accounts")
def accounts_page(ctx: Annotated[PageContext, Depends(login_required)]) -> Response:
    query, errors = views.parse_account_query(ctx.request.query_params)
    listing = views.account_list(ctx.platform, ctx.caller, query)
    return render(ctx, "accounts.html", query=query, listing=listing, errors=errors)


@router.get("/accounts.csv", name="accounts_csv")
def accounts_csv(ctx: Annotated[PageContext, Depends(login_required)]) -> Response:
    query, _ = views.parse_account_query(ctx.request.query_params)
    rows = views.account_rows(ctx.platform, ctx.caller, query)
    return Response(
        views.accounts_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="accounts.csv"'},
    )
