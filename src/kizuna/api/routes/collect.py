"""Segment-compatible event collection: ``POST /v1/track|identify|group|batch``.

A source authenticates with its write key as the HTTP basic user name (empty
password), as Segment's libraries do. Bodies over ``event_body_limit`` bytes
are refused (413). The answer comes only after accepted events are durable in
the lake; every event that could not land is quarantined and listed with where
it was in the request and why.
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel, Field

from kizuna.api.deps import PlatformDep
from kizuna.auth.sources import Source, authenticate_write_key
from kizuna.errors import (
    BadRequest,
    InvalidInput,
    NotAuthenticated,
    PayloadTooLarge,
    PermissionDenied,
    Problem,
)
from kizuna.lake.ingest import group_committer
from kizuna.platform import Platform

router = APIRouter(prefix="/v1", tags=["Event collection"])
_INGEST_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kizuna-ingest")

_basic = HTTPBasic(
    auto_error=False, description="The source's write key as user name, empty password."
)


def get_source(
    platform: PlatformDep,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> Source:
    if credentials is None or not credentials.username:
        raise NotAuthenticated("send the source's write key as HTTP basic user name", "Basic")
    try:
        return authenticate_write_key(platform, credentials.username)
    except PermissionDenied as exc:
        raise NotAuthenticated(exc.message, "Basic") from None


SourceDep = Annotated[Source, Depends(get_source)]


class CollectOut(BaseModel):
    """What happened to the events of one request."""

    success: bool = Field(description="True when every event was accepted or a duplicate.")
    accepted: int
    duplicates: int
    quarantined: int
    errors: list[dict[str, Any]] = Field(
        description="One entry per event that was quarantined: where, field and why."
    )


_CALL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "messageId": {"type": "string"},
        "userId": {"type": "string"},
        "anonymousId": {"type": "string"},
        "event": {"type": "string"},
        "timestamp": {"type": "string", "format": "date-time"},
        "properties": {"type": "object"},
        "traits": {"type": "object"},
        "groupId": {"type": "string"},
        "name": {"type": "string", "description": "page and screen calls: the page's name"},
        "category": {"type": "string"},
        "context": {"type": "object"},
    },
}
_BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["batch"],
    "properties": {
        "batch": {
            "type": "array",
            "items": {
                **_CALL_SCHEMA,
                "properties": {
                    **_CALL_SCHEMA["properties"],
                    "type": {
                        "type": "string",
                        "enum": ["track", "identify", "group", "page", "screen"],
                    },
                },
            },
        },
        "context": {"type": "object"},
    },
}


def _body_spec(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def _read_json(request: Request, limit: int) -> dict[str, Any]:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is {declared} bytes; the limit is {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        # orjson refuses escaped lone surrogates (and deep nesting); the standard
        # parser reads them, so one bad event is quarantined, not its whole batch.
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidInput(
            "the body must be a JSON object", [Problem("expected an object", where="body")]
        )
    return payload


async def _collect(
    request: Request, platform: Platform, source: Source, records: list[Any]
) -> CollectOut:
    ingest = request.app.state.ingest
    name = f"api:{source.name}"
    if ingest is None:
        # Group commit: the requests that arrive while a batch is being written are
        # written together as the next batch; each is answered with its own counts
        # once its events are durable (kizuna.lake.ingest.GroupCommitter).
        future = group_committer().submit(platform, records, source=name)
        report = await asyncio.wrap_future(future)
    else:
        # A replaced ingest (tests): one dedicated thread, as before.
        loop = asyncio.get_running_loop()
        report = await loop.run_in_executor(
            _INGEST_THREAD, partial(ingest, platform, records, source=name)
        )
    request.app.state.ops_metrics.ingested(  # Prometheus: events accepted and quarantined
        accepted=report.accepted, duplicates=report.duplicates, quarantined=report.quarantined
    )
    errors = [
        p.to_dict() if hasattr(p, "to_dict") else {"message": str(p)} for p in report.problems
    ]
    return CollectOut(
        success=report.quarantined == 0,
        accepted=report.accepted,
        duplicates=report.duplicates,
        quarantined=report.quarantined,
        errors=errors,
    )


async def _single(request: Request, platform: Platform, source: Source, kind: str) -> CollectOut:
    payload = await _read_json(request, platform.settings.event_body_limit)
    return await _collect(request, platform, source, [{**payload, "type": kind}])


@router.post(
    "/track",
    response_model=CollectOut,
    openapi_extra=_body_spec(_CALL_SCHEMA),
    summary="Record a user's action",
)
async def track(request: Request, platform: PlatformDep, source: SourceDep) -> CollectOut:
    return await _single(request, platform, source, "track")


@router.post(
    "/identify",
    response_model=CollectOut,
    openapi_extra=_body_spec(_CALL_SCHEMA),
    summary="Record who a user is",
)
async def identify(request: Request, platform: PlatformDep, source: SourceDep) -> CollectOut:
    return await _single(request, platform, source, "identify")


@router.post(
    "/group",
    response_model=CollectOut,
    openapi_extra=_body_spec(_CALL_SCHEMA),
    summary="Record which account a user belongs to",
)
async def group(request: Request, platform: PlatformDep, source: SourceDep) -> CollectOut:
    return await _single(request, platform, source, "group")


@router.post(
    "/page",
    response_model=CollectOut,
    openapi_extra=_body_spec(_CALL_SCHEMA),
    summary="Record a page view (an event named 'Viewed <name> Page')",
)
async def page(request: Request, platform: PlatformDep, source: SourceDep) -> CollectOut:
    return await _single(request, platform, source, "page")


@router.post(
    "/screen",
    response_model=CollectOut,
    openapi_extra=_body_spec(_CALL_SCHEMA),
    summary="Record a mobile screen view (an event named 'Viewed <name> Screen')",
)
async def screen(request: Request, platform: PlatformDep, source: SourceDep) -> CollectOut:
    return await _single(request, platform, source, "screen")


@router.post(
    "/batch",
    response_model=CollectOut,
    openapi_extra=_body_spec(_BATCH_SCHEMA),
    summary="Record many calls at once",
)
async def batch(request: Request, platform: PlatformDep, source: SourceDep) -> CollectOut:
    payload = await _read_json(request, platform.settings.event_body_limit)
    calls = payload.get("batch")
    if not isinstance(calls, list):
        raise InvalidInput(
            "a batch needs a 'batch' list of calls",
            [Problem("expected a list of calls", where="body batch", field="batch")],
        )
    context = payload.get("context")
    records = [
        {**call, "context": context}
        if isinstance(call, dict) and context is not None and "context" not in call
        else call
        for call in calls
    ]
    return await _collect(request, platform, source, records)
