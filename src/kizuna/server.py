"""The composition root: the API with the web UI mounted at ``/ui``, as ``kizuna serve`` runs it.

:func:`kizuna.api.create_app` builds the API and :func:`kizuna.web.mount_web` the UI;
only this module knows both, so neither package imports the other's application
(the UI uses the API's session signer, :mod:`kizuna.api.sessions`, and nothing else).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

import uvicorn
from fastapi import APIRouter, FastAPI

from kizuna.api.app import TOKEN_CACHE_SECONDS, Ingest, create_app
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.web.app import MOUNT_PATH, mount_web
from kizuna.web.demo import DEMO_EMAIL, DEMO_PASSWORD, DemoLogin, prepare_demo
from kizuna.web.warmup import warm

__all__ = ["app_from_environment", "create_server", "serve_demo"]


def create_server(
    target: Settings | Platform | None = None,
    *,
    ingest: Ingest | None = None,
    extra_routers: Sequence[APIRouter] = (),
    token_cache_seconds: float = TOKEN_CACHE_SECONDS,
    background: bool = True,
) -> FastAPI:
    """The API for a platform (or settings) with the web UI mounted at ``/ui``.

    The arguments are :func:`kizuna.api.create_app`'s, and ``background`` is
    :func:`kizuna.web.create_web_app`'s. The UI's app is ``app.state.ui`` (its
    cached figures ``app.state.ui.state.figures``).
    """
    app = create_app(
        target,
        ingest=ingest,
        extra_routers=extra_routers,
        token_cache_seconds=token_cache_seconds,
    )
    app.state.ui = mount_web(app, app.state.platform, background=background)
    return app


def app_from_environment() -> FastAPI:
    """App factory for ``uvicorn --factory`` (each ``kizuna serve`` worker calls it)."""
    platform = Platform.from_settings(Settings())
    platform.store.ensure_ready()
    return create_server(platform)


def serve_demo(
    platform: Platform,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    as_of: date | None = None,
    say: Callable[[str], None] = print,
) -> None:
    """Prepare and serve the UI (and the API) on the demo data until interrupted."""
    demo = prepare_demo(platform, as_of=as_of, say=say)
    app = create_server(demo)
    say("preparing the dashboards ...")
    warm(app.state.ui.state.figures)
    login = DemoLogin(f"http://{host}:{port}{MOUNT_PATH}/", DEMO_EMAIL, DEMO_PASSWORD)
    say(f"Kizuna UI on {login.url}  (log in as {login.email} / {login.password}; Ctrl+C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
