"""Build the FastAPI application: ``create_app(settings)`` or ``create_app(platform)``.

The API alone; :func:`kizuna.server.create_server` mounts the web UI on it.

Routes live one module per resource in :mod:`kizuna.api.routes`; every module
there that defines ``router`` is mounted, so a new capability adds its routes
by adding one module.
"""

from __future__ import annotations

import pkgutil
import uuid
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kizuna import __version__
from kizuna.api import problems, routes
from kizuna.api.sessions import SessionSigner
from kizuna.auth.keys import session_secret
from kizuna.auth.tokens import TokenCache
from kizuna.ops.prom import HttpMetricsMiddleware, OpsMetrics
from kizuna.platform import Platform
from kizuna.settings import Settings

#: ``ingest(platform, records, source=...)`` as in :func:`kizuna.lake.ingest.ingest_records`.
Ingest = Callable[..., Any]

REQUEST_ID_HEADER = b"x-request-id"
#: Seconds an authenticated API token is trusted by a server process without a query.
TOKEN_CACHE_SECONDS = 5.0


class RequestIdMiddleware:
    """Give every request an id (the caller's ``X-Request-ID`` or a new one).

    The id is on ``request.state.request_id``, in the audit log and echoed in the
    response header, so a user's report can be matched to the server's records.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(REQUEST_ID_HEADER, b"")
        text = incoming.decode("latin-1")[:64]
        rid = text if text and text.isprintable() else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, rid.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


def discover_routers() -> list[APIRouter]:
    """Every ``router`` defined by a public module of :mod:`kizuna.api.routes`."""
    found = []
    for info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = import_module(f"{routes.__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            found.append(router)
    return found


def create_app(
    target: Settings | Platform | None = None,
    *,
    ingest: Ingest | None = None,
    extra_routers: Sequence[APIRouter] = (),
    token_cache_seconds: float = TOKEN_CACHE_SECONDS,
) -> FastAPI:
    """The Kizuna API for a platform (or for settings, building the platform).

    ``ingest`` replaces the lake's ``ingest_records`` (tests pass a fake);
    ``extra_routers`` lets another layer (the web UI) mount its pages;
    ``token_cache_seconds`` is how long an authenticated API token is trusted
    without a query (0 turns that off; see :class:`~kizuna.auth.tokens.TokenCache`).
    """
    if isinstance(target, Platform):
        platform = target
    else:
        platform = Platform.from_settings(target or Settings())
    app = FastAPI(
        title="Kizuna API",
        version=__version__,
        description=(
            "Customer success on hard data. Authenticate with a personal API token "
            "(`Authorization: Bearer ...`); event collection (`/v1/*`) takes a source's "
            "write key as HTTP basic user name, as Segment does. Errors are "
            "`application/problem+json`."
        ),
    )
    app.state.platform = platform
    app.state.session_signer = SessionSigner(session_secret(platform.settings))
    app.state.ingest = ingest
    app.state.token_cache = TokenCache(ttl=token_cache_seconds)
    # Prometheus (/ops/metrics): request counts and latencies, events, the run log.
    app.state.ops_metrics = OpsMetrics(platform.store)
    app.add_middleware(HttpMetricsMiddleware, metrics=app.state.ops_metrics)
    app.add_middleware(RequestIdMiddleware)
    problems.install(app)
    for router in [*discover_routers(), *extra_routers]:
        app.include_router(router)
    # The web UI is mounted by the composition root, kizuna.server.create_server.
    return app
