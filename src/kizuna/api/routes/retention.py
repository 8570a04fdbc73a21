"""``/retention``: GRR/NRR and the ARR bridge, ARR movements, renewals and cohorts.

Each answer is the JSON of the matching CLI command with the same keys:
``kizuna retention``, ``kizuna arr movements``, ``kizuna renewals`` and
``kizuna cohorts`` (``--json``), with the same options as query parameters.
A CSM limited to their own book (``csm_scope=own``) gets the figures of their
own book only: the ``owner`` filter is theirs, and asking for another owner's
book is refused (403, audited). Date ranges longer than :data:`MAX_RANGE_YEARS`
and dates more than :data:`MAX_FUTURE_YEARS` ahead are refused (422): they
would hold a worker for minutes (found by the fuzz test).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from kizuna.api.deps import CallerDep, PlatformDep
from kizuna.api.encoding import ResultResponse
from kizuna.api.params import ID_PATTERN, TEXT_PATTERN
from kizuna.auth.audit import record_audit
from kizuna.auth.policy import Caller, account_scope
from kizuna.errors import InvalidInput, PermissionDenied, Problem
from kizuna.platform import Platform
from kizuna.retention import (
    DEFAULT_GRACE_DAYS,
    Ledger,
    LedgerFilters,
    arr_movements,
    cohort_retention,
    renewals,
    retention_rates,
)
from kizuna.retention.rates import retention_json

router = APIRouter(prefix="/retention", tags=["Retention"], default_response_class=ResultResponse)

Unit = Literal["month", "quarter"]


class BookFilter(BaseModel):
    """Which part of the book to analyse (as the CLI's --segment/--region/--owner/--product)."""

    model_config = ConfigDict(extra="ignore")

    segment: str | None = Field(None, max_length=64, pattern=TEXT_PATTERN)
    region: str | None = Field(None, max_length=64, pattern=TEXT_PATTERN)
    owner: str | None = Field(
        None, max_length=64, pattern=ID_PATTERN, description="Owner CSM's team member id."
    )
    product: str | None = Field(None, max_length=128, pattern=TEXT_PATTERN)
    rollup: bool = Field(
        True, description="Count children's ARR at their top-level parent account (default)."
    )


BookDep = Annotated[BookFilter, Depends()]


#: The longest date range one request may ask about (monthly movements over it are
#: 240 periods); longer ranges cost seconds to minutes of engine time, so they are refused.
MAX_RANGE_YEARS = 20
#: How far past today an ``as_of`` may go (cohort tables grow with the months up to it).
MAX_FUTURE_YEARS = 5


def _check_dates(
    platform: Platform,
    span: tuple[str, date, str, date] | None = None,
    as_of: tuple[str, date | None] | None = None,
) -> None:
    """Refuse ranges and dates too costly to compute, every problem at once (422)."""
    problems = []
    if span is not None:
        first_name, first, last_name, last = span
        if last < first:
            problems.append(
                Problem(f"{last_name} {last} is before {first_name} {first}", field=last_name)
            )
        elif (last - first).days > MAX_RANGE_YEARS * 366:
            problems.append(
                Problem(f"the range is longer than {MAX_RANGE_YEARS} years", field=last_name)
            )
    if as_of is not None and as_of[1] is not None:
        limit = platform.today() + timedelta(days=MAX_FUTURE_YEARS * 366)
        if as_of[1] > limit:
            problems.append(Problem(f"must not be after {limit}", field=as_of[0]))
    if problems:
        raise InvalidInput("cannot compute these figures", problems)


@contextmanager
def _ledger(platform: Platform, caller: Caller, book: BookFilter, what: str) -> Iterator[Ledger]:
    owner = book.owner
    own = account_scope(caller)
    if own is not None:
        if owner is not None and owner != own:
            record_audit(
                platform,
                caller,
                action="read",
                resource=f"retention/{what}",
                allowed=False,
                detail=f"book of {owner}",
            )
            raise PermissionDenied(
                f"csm {own} may read the retention figures of their own book only"
            )
        owner = own
    filters = LedgerFilters(
        segment=book.segment, region=book.region, owner=owner, product=book.product
    )
    with Ledger.load(
        platform.store, platform.settings, filters=filters, rollup=book.rollup
    ) as ledger:
        yield ledger


@router.get("", summary="GRR, NRR, logo and revenue churn and the ARR bridge of one period")
def retention(
    platform: PlatformDep,
    caller: CallerDep,
    book: BookDep,
    start: Annotated[date, Query(description="First day of the period.")],
    end: Annotated[date, Query(description="Last day of the period, inclusive.")],
    by: Literal["segment", "region", "owner"] | None = None,
) -> Any:
    _check_dates(platform, ("start", start, "end", end))
    with _ledger(platform, caller, book, "rates") as ledger:
        report = retention_rates(ledger, start, end, by=by)
    return ResultResponse(retention_json(report))


@router.get("/arr-movements", summary="ARR movements per month or quarter")
def movements(
    platform: PlatformDep,
    caller: CallerDep,
    book: BookDep,
    start: Annotated[date, Query(alias="from", description="First day.")],
    end: Annotated[date, Query(alias="to", description="Last day, inclusive.")],
    period: Unit = "month",
    accounts: Annotated[bool, Query(description="Also list every account's movement.")] = False,
) -> Any:
    _check_dates(platform, ("from", start, "to", end))
    with _ledger(platform, caller, book, "arr-movements") as ledger:
        return ResultResponse(
            arr_movements(ledger, start, end, period=period, with_accounts=accounts)
        )


@router.get("/renewals", summary="Lines up for renewal, renewal rates and the open pipeline")
def renewals_report(
    platform: PlatformDep,
    caller: CallerDep,
    book: BookDep,
    start: Annotated[date, Query(alias="from", description="First end date considered.")],
    end: Annotated[date, Query(alias="to", description="Last end date considered, inclusive.")],
    grace_days: Annotated[int, Query(ge=0, le=3660)] = DEFAULT_GRACE_DAYS,
    period: Unit = "month",
    as_of: Annotated[
        date | None, Query(description="Decides open vs. lost; default today.")
    ] = None,
) -> Any:
    _check_dates(platform, ("from", start, "to", end), ("as_of", as_of))
    with _ledger(platform, caller, book, "renewals") as ledger:
        return ResultResponse(
            renewals(
                ledger,
                start,
                end,
                as_of=as_of or platform.today(),
                grace_days=grace_days,
                period=period,
            )
        )


@router.get("/cohorts", summary="Logo and revenue retention per start cohort")
def cohorts(
    platform: PlatformDep,
    caller: CallerDep,
    book: BookDep,
    by: Unit = "month",
    by_segment: bool = False,
    as_of: Annotated[
        date | None, Query(description="Measure up to this day; default today.")
    ] = None,
) -> Any:
    _check_dates(platform, as_of=("as_of", as_of))
    with _ledger(platform, caller, book, "cohorts") as ledger:
        return ResultResponse(
            cohort_retention(ledger, as_of=as_of or platform.today(), by=by, by_segment=by_segment)
        )
