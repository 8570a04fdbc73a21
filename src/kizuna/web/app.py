"""The web UI as an ASGI app: pages, static files, and errors rendered as pages.

:func:`create_web_app` builds the UI; the API mounts it at ``/ui``
(:func:`mount_web`), and :func:`create_standalone_app` serves it alone (the
demo, tests). The UI is its own sub-application so its errors render as pages
while the API keeps answering ``application/problem+json``.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from kizuna.errors import BadRequest, KizunaError
from kizuna.platform import Platform
from kizuna.web.assets import IMMUTABLE, PLOTLY, SHORT, Assets
from kizuna.web.i18n import use_locale
from kizuna.web.insights import Figures
from kizuna.web.pages import LoginRequired, NavEntry, build_environment, page_context, render
from kizuna.web.problems import error_text
from kizuna.web.routes import PAGE_MODULES
from kizuna.web.session import SessionCodec

log = logging.getLogger("kizuna.web")

MOUNT_PATH = "/ui"


def create_web_app(platform: Platform, *, background: bool = True) -> FastAPI:
    """The web UI over ``platform``: every page module in :data:`PAGE_MODULES`.

    ``background``: book-wide figures are refreshed in background threads and
    the slowest (book-wide onboarding outcomes) computed there on a fresh worker,
    the pages saying so meanwhile; ``False`` computes everything in the request
    (tests and scripts that want complete pages at once).
    """
    app = FastAPI(title="Kizuna UI", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.platform = platform
    # The UI's caches live on the app, not in module globals: one per app.
    app.state.figures = Figures(platform, background=background)
    app.state.templates = build_environment()
    app.state.session_codec = SessionCodec(platform.settings)
    nav: list[NavEntry] = []
    for name in PAGE_MODULES:
        module = import_module(f"kizuna.web.routes.{name}")
        app.include_router(module.router)
        nav.extend(getattr(module, "NAV", ()))
    app.state.nav = sorted(nav, key=lambda n: n.order)
    app.state.assets = Assets()

    @app.get("/static/plotly.min.js", name="plotly_js", include_in_schema=False)
    def plotly_bundle(request: Request) -> Response:
        # From the installed plotly package: no copy in the repository, no CDN.
        return static_response(request, PLOTLY)

    @app.get("/static/{name}", name="static", include_in_schema=False)
    def static_file(name: str, request: Request) -> Response:
        return static_response(request, name)

    _add_error_pages(app)
    app.add_middleware(SecurityHeaders)
    return app


#: Sent with every UI response. Scripts only from this site (the UI has no inline
#: script); inline styles are allowed because plotly sets them on its charts.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
        b"frame-ancestors 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in SECURITY_HEADERS if n not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def static_response(request: Request, name: str) -> Response:
    """The static file ``name``: gzip-compressed when the browser accepts it; cached for a
    year under its versioned URL (``?v=<hash>``), for an hour under a bare one."""
    assets: Assets = request.app.state.assets
    asset = assets.get(name)
    if asset is None:
        raise StarletteHTTPException(404)
    etag = f'"{asset.version}"'
    headers = {
        "Cache-Control": IMMUTABLE if request.query_params.get("v") == asset.version else SHORT,
        "ETag": etag,
        "Vary": "Accept-Encoding",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


def _add_error_pages(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        url = request.scope.get("root_path", "") + str(request.app.url_path_for("login_page"))
        return RedirectResponse(f"{url}?next={exc.next_path}", status_code=303)

    @app.exception_handler(KizunaError)
    async def kizuna_error(request: Request, exc: KizunaError) -> Response:
        return _error_page(request, exc)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(str(e.get("loc", ("?",))[-1]) for e in exc.errors())
        error = BadRequest(f"check: {fields}", code="check_fields", params={"fields": fields})
        return _error_page(request, error, title="Invalid input")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        error = KizunaError(str(exc.detail))
        error.status_code = exc.status_code
        return _error_page(request, error, title="Not found" if exc.status_code == 404 else "Error")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        # Logged with its traceback for the operator; the page never shows one.
        log.exception("unexpected error on %s", request.url.path)
        return _error_page(request, KizunaError("something went wrong on our side"))


def _error_page(request: Request, exc: KizunaError, title: str | None = None) -> Response:
    """The error as a page in the visitor's language (its words from its code, else its
    status's words; see :func:`kizuna.web.problems.error_text`)."""
    ctx = page_context(request)
    status = exc.status_code
    with use_locale(ctx.lang):
        detail = error_text(exc, ctx.lang)
    return render(
        ctx,
        "error.html",
        status_code=status,
        title=title or exc.title,
        detail=detail,
        status=status,
        problems=list(getattr(exc, "problems", ())),
    )


def mount_web(
    app: FastAPI, platform: Platform, path: str = MOUNT_PATH, *, background: bool = True
) -> FastAPI:
    """Mount the UI into an existing app (the API) at ``path``; the UI's app."""
    ui = create_web_app(platform, background=background)
    app.mount(path, ui, name="ui")
    return ui


def create_standalone_app(platform: Platform, *, background: bool = True) -> FastAPI:
    """The UI alone at ``/ui``, with ``/`` redirecting to it (the UI's app: ``state.ui``)."""
    root = FastAPI(title="Kizuna", docs_url=None, redoc_url=None, openapi_url=None)

    @root.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse(f"{MOUNT_PATH}/", status_code=307)

    root.state.ui = mount_web(root, platform, background=background)
    return root
