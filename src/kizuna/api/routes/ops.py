"""``/ops``: the daily run's log, starting a run (admin), and Prometheus at ``/ops/metrics``.

``/ops/metrics`` takes no user token: a scraper shows the scrape token
(``Authorization: Bearer``; its SHA-256 in ``KIZUNA_OPS_METRICS_TOKEN_HASH``)
or comes from an address in ``KIZUNA_OPS_METRICS_ADDRESSES``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from kizuna.api.deps import AdminDep, PlatformDep
from kizuna.auth.audit import record_audit
from kizuna.daily import daily_dates
from kizuna.errors import NotAuthenticated, NotFound
from kizuna.ops import RunInfo, list_runs, run_of
from kizuna.ops.prom import CONTENT_TYPE_LATEST, OpsMetrics, scrape_allowed
from kizuna.ops.trigger import start_daily_run

router = APIRouter(prefix="/ops", tags=["Operations"])


@router.get("/runs", response_model=list[RunInfo], summary="The daily runs, newest first")
def read_runs(
    platform: PlatformDep,
    caller: AdminDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
    status: Annotated[str | None, Query(pattern="^(running|succeeded|failed|killed)$")] = None,
    as_of: Annotated[date | None, Query(description="Only runs covering this date.")] = None,
) -> list[RunInfo]:
    return list_runs(platform.store, limit=limit, status=status, as_of=as_of)


@router.get("/runs/{run_id}", response_model=RunInfo, summary="One daily run and its steps")
def read_run(
    run_id: Annotated[int, Path(ge=1, le=2**62)], platform: PlatformDep, caller: AdminDep
) -> RunInfo:
    found = run_of(platform.store, run_id)
    if found is None:
        raise NotFound(f"no daily run {run_id}")
    return found


class RunRequest(BaseModel):
    """Which dates to run: ``as_of``, or ``start``/``end`` (every ``step`` days); none is today."""

    as_of: date | None = None
    start: date | None = None
    end: date | None = None
    step: int = Field(default=1, ge=1, le=366)


class RunStarted(BaseModel):
    """The run started in the background; follow it in ``GET /ops/runs``."""

    dates: list[date]
    status: str = "started"


@router.post(
    "/runs", response_model=RunStarted, status_code=202, summary="Start a daily run (admin)"
)
def start_run(
    body: RunRequest, platform: PlatformDep, caller: AdminDep, response: Response
) -> RunStarted:
    days = daily_dates(body.as_of, body.start, body.end, platform.today(), body.step)
    start_daily_run(platform, days, trigger="api")
    label = str(days[0]) if len(days) == 1 else f"{days[0]}..{days[-1]} ({len(days)} dates)"
    record_audit(platform, caller, action="run", resource="daily_run", detail=label)
    response.headers["Location"] = "/ops/runs"
    return RunStarted(dates=days)


@router.get(
    "/metrics",
    summary="Prometheus metrics (scrape token or allowed address)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def prometheus(request: Request, platform: PlatformDep) -> Response:
    header = request.headers.get("authorization", "")
    bearer = header[7:] if header[:7].lower() == "bearer " else None
    client = request.client.host if request.client is not None else None
    if not scrape_allowed(platform.settings, client, bearer):
        raise NotAuthenticated(
            "send the scrape token (Authorization: Bearer) or scrape from an allowed address"
        )
    metrics: OpsMetrics = request.app.state.ops_metrics
    body = await run_in_threadpool(metrics.exposition)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
