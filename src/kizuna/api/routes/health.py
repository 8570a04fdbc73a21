"""``/health``: accounts' health scores — list by band, one account explained, history.

The answers are those of ``kizuna health list|show --json``. A CSM limited to
their own book sees only their accounts, also among a parent's roll-up children.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from kizuna.api.deps import CallerDep, PlatformDep
from kizuna.api.encoding import ResultResponse
from kizuna.api.params import TEXT_PATTERN, AccountId, AsOf
from kizuna.customers.service import authorise_account, readable_account_ids
from kizuna.health import account_history, explain_account, list_health

router = APIRouter(prefix="/health", tags=["Health"], default_response_class=ResultResponse)

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown account, outside the caller's book, or no snapshot"}
}


@router.get("/accounts", summary="Accounts by health, lowest first, with 7- and 30-day changes")
def list_accounts(
    platform: PlatformDep,
    caller: CallerDep,
    as_of: AsOf = None,
    band: Literal["red", "yellow", "green"] | None = None,
    segment: Annotated[str | None, Query(max_length=64, pattern=TEXT_PATTERN)] = None,
    limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> Any:
    readable = readable_account_ids(platform, caller)
    result = list_health(
        platform.settings, as_of, band, segment, limit if readable is None else None
    )
    if readable is not None:
        rows = [r for r in result["accounts"] if r["account_id"] in readable][:limit]
        result = {**result, "count": len(rows), "accounts": rows}
    return ResultResponse(result)


@router.get(
    "/accounts/{account_id}",
    summary="One account's score, band, measures, contributions, trend and history",
    responses=_NOT_FOUND,
)
def explain(
    platform: PlatformDep,
    caller: CallerDep,
    account_id: AccountId,
    as_of: AsOf = None,
    history_days: Annotated[int, Query(ge=0, le=3660)] = 90,
) -> Any:
    authorise_account(platform, caller, account_id, "health")
    result = explain_account(platform.settings, account_id, as_of, history_days)
    readable = readable_account_ids(platform, caller)
    if readable is not None:
        result = _only_readable(result, readable)
    return ResultResponse(result)


@router.get(
    "/accounts/{account_id}/history",
    summary="One account's score and band on every snapshot date in a range",
    responses=_NOT_FOUND,
)
def history(
    platform: PlatformDep,
    caller: CallerDep,
    account_id: AccountId,
    start: Annotated[date | None, Query(description="First date; default 90 days back.")] = None,
    end: Annotated[date | None, Query(description="Last date; default today.")] = None,
) -> Any:
    authorise_account(platform, caller, account_id, "health")
    last = end or platform.today()
    first = start or last - timedelta(days=90)
    rows = account_history(platform.settings, account_id, start=first, end=last)
    return ResultResponse({"account_id": account_id, "start": first, "end": last, "history": rows})


def _only_readable(result: dict[str, Any], readable: set[str]) -> dict[str, Any]:
    """Drop roll-up children (and their movers) the caller may not see."""
    children = [c for c in result["children"] or [] if c["account_id"] in readable]
    trend = {
        key: {
            **t,
            "top_movers": [
                m
                for m in t["top_movers"]
                if not m["measure"].startswith("child:")
                or m["measure"].removeprefix("child:") in readable
            ],
        }
        for key, t in result["trend"].items()
    }
    return {**result, "children": children, "trend": trend}
