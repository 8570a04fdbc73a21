"""``/metrics``: behavioural metric values of an account as of a date, and the definitions.

The values are those of ``kizuna metrics show --json`` (computed by ``kizuna
metrics compute``); the definitions those of ``kizuna metrics list --json``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from kizuna.api.deps import CallerDep, PlatformDep
from kizuna.api.encoding import ResultResponse
from kizuna.api.params import AccountId, AsOf
from kizuna.customers.service import authorise_account
from kizuna.errors import NotFound
from kizuna.metrics import load_definitions, read_metric_values

router = APIRouter(prefix="/metrics", tags=["Metrics"], default_response_class=ResultResponse)


@router.get("/definitions", summary="The metric definitions in use")
def definitions(caller: CallerDep) -> Any:
    return ResultResponse(
        [m.model_dump(exclude_none=True, by_alias=True) for m in load_definitions(None).metrics]
    )


@router.get(
    "/accounts/{account_id}",
    summary="An account's metric values as of a date (default: the newest computed)",
    responses={404: {"description": "Unknown account, outside the caller's book, or no values"}},
)
def account_values(
    platform: PlatformDep, caller: CallerDep, account_id: AccountId, as_of: AsOf = None
) -> Any:
    authorise_account(platform, caller, account_id, "metrics")
    table = read_metric_values(platform, as_of=as_of, account_id=account_id)
    if table.num_rows == 0:
        raise NotFound(
            f"no metric values for account {account_id!r}"
            + (f" as of {as_of}" if as_of else "")
            + "; run 'kizuna metrics compute'"
        )
    rows = table.to_pylist()
    day = as_of or max(r["as_of"] for r in rows)
    return ResultResponse(
        {
            "account_id": account_id,
            "as_of": day,
            "metrics": {r["metric"]: r["value"] for r in rows if r["as_of"] == day},
        }
    )
