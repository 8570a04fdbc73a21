"""The account list: search, sort, filters, and a CSV download of what is listed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from kizuna.errors import InvalidInput, Problem
from kizuna.web import views
from kizuna.web.pages import NavEntry, PageContext, login_required, render

router = APIRouter()
NAV = (NavEntry("accounts", "Accounts", order=20),)


@router.get("/accounts", name="accounts")
def accounts_page(ctx: Annotated[PageContext, Depends(login_required)]) -> Response:
    options = views.filter_options(ctx.figures, ctx.caller)
    query, errors = views.parse_account_query(ctx.request.query_params, options)
    listing = views.account_list(ctx.figures, ctx.caller, query, options)
    return render(ctx, "accounts.html", query=query, listing=listing, errors=errors)


@router.get("/accounts.csv", name="accounts_csv")
def accounts_csv(ctx: Annotated[PageContext, Depends(login_required)]) -> Response:
    options = views.filter_options(ctx.figures, ctx.caller)
    query, errors = views.parse_account_query(ctx.request.query_params, options)
    if errors:
        # A download is not a page that can show what it left out: refuse it instead.
        problems = [Problem(message, where="query", field=f) for f, message in errors.items()]
        raise InvalidInput("bad download parameters: " + ", ".join(sorted(errors)), problems)
    rows = views.account_rows(ctx.figures, ctx.caller, query)
    return Response(
        views.excel_csv(views.accounts_csv(rows)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="accounts.csv"'},
    )
