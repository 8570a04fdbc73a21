"""``/revenue``: opportunities, the renewal forecast, the fifteen metrics and growth plans.

Answers are the JSON of the matching CLI commands (``kizuna opp ... --json``,
``kizuna forecast --json``, ``kizuna framework --json``). Reads follow the
caller's scope: a CSM limited to their own book (``csm_scope=own``) sees the
opportunities, forecast and metrics of their own accounts only, and an
opportunity of another book is "not found". Writes (create, stage, won, lost, owner)
are allowed to admins, managers, the CSM who owns the account and sales members
(account executives); each is recorded in the audit log.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from kizuna.api.deps import CallerDep, PlatformDep
from kizuna.api.encoding import ResultResponse
from kizuna.api.params import ID_PATTERN, TEXT_PATTERN, AccountId, AsOf
from kizuna.auth.policy import account_scope
from kizuna.customers.service import authorise_account
from kizuna.errors import InvalidInput, Problem
from kizuna.platform import Platform
from kizuna.revenue import (
    definition_for,
    forecast_accuracy,
    framework,
    list_opportunities,
    renewal_contexts,
    renewal_forecast,
)
from kizuna.revenue.access import (
    lose_as,
    move_as,
    open_as,
    readable_opportunity,
    reassign_as,
    win_as,
)
from kizuna.revenue.framework import own_book
from kizuna.revenue.growth import growth_plan
from kizuna.revenue.readmodel import renewals_csv
from kizuna.store.revenue_models import OpportunitySource, OpportunityType

router = APIRouter(prefix="/revenue", tags=["Revenue"], default_response_class=ResultResponse)

OpportunityId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="Opportunity id.")
]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown opportunity or account, or outside the caller's book"}
}
_WRITE: dict[int | str, dict[str, Any]] = {
    **_NOT_FOUND,
    403: {"description": "The caller may not change this account's opportunities"},
    409: {"description": "The opportunity is already closed"},
}
#: The longest period one request may ask about (the same bound as /retention).
MAX_RANGE_YEARS = 20
_AMOUNT = Decimal("1e13")


def _check_span(first_name: str, first: date, last_name: str, last: date) -> None:
    if last < first:
        raise InvalidInput(
            "invalid period",
            [Problem(f"{last_name} {last} is before {first_name} {first}", field=last_name)],
        )
    if (last - first).days > MAX_RANGE_YEARS * 366:
        raise InvalidInput(
            "invalid period",
            [Problem(f"the range is longer than {MAX_RANGE_YEARS} years", field=last_name)],
        )


class NewOpportunity(BaseModel):
    """An opportunity opened by hand (source ``manual``) or from a call to action (``cta``)."""

    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN)
    type: OpportunityType
    expected_close_date: date
    arr_change: Decimal = Field(Decimal(0), gt=-_AMOUNT, lt=_AMOUNT, decimal_places=2)
    arr_total: Decimal | None = Field(None, ge=0, lt=_AMOUNT, decimal_places=2)
    products: list[Annotated[str, Field(min_length=1, max_length=128, pattern=TEXT_PATTERN)]] = (
        Field(default_factory=list, max_length=50)
    )
    stage: str | None = Field(None, max_length=64, pattern=ID_PATTERN)
    probability: float | None = Field(None, ge=0, le=1)
    owner_id: str | None = Field(None, max_length=64, pattern=ID_PATTERN)
    name: str | None = Field(None, min_length=1, max_length=300, pattern=TEXT_PATTERN)
    currency: str | None = Field(None, pattern=r"^[A-Za-z]{3}$")
    renews_line_id: str | None = Field(None, max_length=64, pattern=ID_PATTERN)
    source: Literal["manual", "cta"] = "manual"


class NewOwner(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner_id: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN)


class StageMove(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stage: str = Field(min_length=1, max_length=64, pattern=ID_PATTERN)
    on: date | None = None


class Close(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: date | None = None
    reason: str | None = Field(None, max_length=2000, pattern=TEXT_PATTERN)


class Lost(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, pattern=TEXT_PATTERN)
    on: date | None = None


def _check_day(platform: Platform, day: date | None, name: str) -> None:
    if day is not None and abs((day - platform.today()).days) > MAX_RANGE_YEARS * 366:
        raise InvalidInput(
            "invalid date", [Problem(f"more than {MAX_RANGE_YEARS} years from today", field=name)]
        )


@router.get("/opportunities", summary="Opportunities by expected close date (kizuna opp list)")
def opportunities(
    platform: PlatformDep,
    caller: CallerDep,
    status: Literal["open", "won", "lost"] | None = None,
    type: OpportunityType | None = None,
    owner: Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)] = None,
    account_id: Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> Any:
    return ResultResponse(
        list_opportunities(
            platform,
            definition_for(platform.settings.home),
            status=status,
            type=type.value if type else None,
            owner=owner,
            account_id=account_id,
            account_owner=account_scope(caller),
            limit=limit,
        )
    )


@router.get(
    "/opportunities/{opportunity_id}",
    summary="One opportunity with its stage history",
    responses=_NOT_FOUND,
)
def opportunity(platform: PlatformDep, caller: CallerDep, opportunity_id: OpportunityId) -> Any:
    return ResultResponse(readable_opportunity(platform, caller, opportunity_id))


@router.post("/opportunities", summary="Open an opportunity", status_code=201, responses=_WRITE)
def create(platform: PlatformDep, caller: CallerDep, body: NewOpportunity) -> Any:
    _check_day(platform, body.expected_close_date, "expected_close_date")
    view = open_as(
        platform,
        caller,
        account_id=body.account_id,
        type=body.type,
        arr_change=body.arr_change,
        arr_total=body.arr_total,
        expected_close_date=body.expected_close_date,
        products=body.products,
        stage=body.stage,
        probability=body.probability,
        owner_id=body.owner_id,
        name=body.name,
        currency=body.currency,
        renews_line_id=body.renews_line_id,
        source=OpportunitySource(body.source),
    )
    return ResultResponse(view, status_code=201)


@router.post(
    "/opportunities/{opportunity_id}/stage", summary="Move to another open stage", responses=_WRITE
)
def stage(
    platform: PlatformDep, caller: CallerDep, opportunity_id: OpportunityId, body: StageMove
) -> Any:
    _check_day(platform, body.on, "on")
    return ResultResponse(move_as(platform, caller, opportunity_id, body.stage, on=body.on))


@router.post(
    "/opportunities/{opportunity_id}/won",
    summary="Mark won (links or creates the line)",
    responses=_WRITE,
)
def won(
    platform: PlatformDep,
    caller: CallerDep,
    opportunity_id: OpportunityId,
    body: Close | None = None,
) -> Any:
    body = body or Close()
    _check_day(platform, body.on, "on")
    return ResultResponse(win_as(platform, caller, opportunity_id, on=body.on, reason=body.reason))


@router.post(
    "/opportunities/{opportunity_id}/lost", summary="Mark lost with the reason", responses=_WRITE
)
def lost(
    platform: PlatformDep, caller: CallerDep, opportunity_id: OpportunityId, body: Lost
) -> Any:
    _check_day(platform, body.on, "on")
    return ResultResponse(lose_as(platform, caller, opportunity_id, reason=body.reason, on=body.on))


@router.post(
    "/opportunities/{opportunity_id}/owner",
    summary="Give an open opportunity to another owner",
    responses=_WRITE,
)
def owner(
    platform: PlatformDep, caller: CallerDep, opportunity_id: OpportunityId, body: NewOwner
) -> Any:
    return ResultResponse(reassign_as(platform, caller, opportunity_id, body.owner_id))


@router.get("/forecast", summary="The renewal forecast per month or quarter and its accuracy")
def forecast(
    platform: PlatformDep,
    caller: CallerDep,
    period: Literal["month", "quarter"] = "quarter",
    start: Annotated[
        date | None, Query(alias="from", description="First expected close date.")
    ] = None,
    end: Annotated[date | None, Query(alias="to", description="Last expected close date.")] = None,
    as_of: AsOf = None,
    quarters: Annotated[int, Query(ge=0, le=20, description="Past quarters of accuracy.")] = 4,
    output: Annotated[
        Literal["json", "csv"],
        Query(
            alias="format",
            description="csv: every renewal with its health, churn risk and plan status.",
        ),
    ] = "json",
) -> Any:
    today = as_of or platform.today()
    _check_day(platform, today, "as_of")
    first = start or (
        date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        if period == "quarter"
        else today.replace(day=1)
    )
    _check_day(platform, first, "from")
    last = end or (first + timedelta(days=364))
    _check_day(platform, last, "to")
    _check_span("from", first, "to", last)
    definition = definition_for(platform.settings.home)
    own = account_scope(caller)
    report = renewal_forecast(
        platform,
        definition,
        first,
        last,
        as_of=today,
        period=period,
        context=renewal_contexts(platform),
        account_owner=own,
    )
    if output == "csv":
        return Response(
            renewals_csv(report.renewals),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="renewals.csv"'},
        )
    accuracy = forecast_accuracy(
        platform, definition, as_of=today, quarters=quarters, account_owner=own
    )
    from kizuna.jsonable import to_jsonable

    return ResultResponse({**to_jsonable(report), "accuracy": to_jsonable(accuracy)})


@router.get("/framework", summary="Seed 004's fifteen metrics for a period, overall and per group")
def framework_report(
    platform: PlatformDep,
    caller: CallerDep,
    start: Annotated[date, Query(alias="from", description="First day of the period.")],
    end: Annotated[date, Query(alias="to", description="Last day, inclusive.")],
    by: Literal["segment", "owner"] | None = None,
    as_of: AsOf = None,
) -> Any:
    _check_day(platform, start, "from")
    _check_day(platform, end, "to")
    _check_span("from", start, "to", end)
    _check_day(platform, as_of, "as_of")
    if as_of is not None and as_of < start:
        raise InvalidInput(
            "invalid date", [Problem(f"as_of {as_of} is before from {start}", field="as_of")]
        )
    own = account_scope(caller)
    if own is not None:
        # a CSM limited to their own book: the figures of their book, none book-wide
        report = framework(platform, start, end, by="owner", as_of=as_of)
        return ResultResponse(own_book(report, own))
    return ResultResponse(framework(platform, start, end, by=by, as_of=as_of))


@router.get(
    "/accounts/{account_id}/growth-plan", summary="The account's growth plan", responses=_NOT_FOUND
)
def growth(
    platform: PlatformDep, caller: CallerDep, account_id: AccountId, as_of: AsOf = None
) -> Any:
    authorise_account(platform, caller, account_id, "growth-plan")
    day = as_of or platform.today()
    _check_day(platform, day, "as_of")
    return ResultResponse(
        growth_plan(
            platform,
            definition_for(platform.settings.home),
            account_id,
            as_of=day,
            context=renewal_contexts(platform),
        )
    )
