"""What every UI page shares: who is asking, in which language, and how a page is rendered.

Route modules depend on :func:`page_context` (any visitor) or
:func:`login_required` (a logged-in team member) and finish with
:func:`render`. Templates get the request's language, the user, the CSRF
token, the navigation and the ``url()`` helper.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from kizuna.actions.teams import member_language
from kizuna.auth.policy import Caller, Principal, can_administer
from kizuna.auth.sessions import session_principal
from kizuna.errors import InvalidInput, KizunaError, PermissionDenied
from kizuna.platform import Platform
from kizuna.portfolio import ATTENTION_DROP, ATTENTION_REASONS, BANDS
from kizuna.web import charts, i18n
from kizuna.web.insights import Figures
from kizuna.web.problems import problem_text
from kizuna.web.retention_views import MOVEMENT_LABELS
from kizuna.web.session import SESSION_COOKIE, SessionCodec, UiSession, csrf_ok
from kizuna.web.warmup import start_warming


@dataclass(frozen=True, slots=True)
class NavEntry:
    """A link in the top navigation; ``endpoint`` is the route name of the page."""

    endpoint: str
    label: str  # an English msgid, translated when rendered
    order: int
    admin_only: bool = False


class LoginRequired(Exception):
    """Raised by :func:`login_required`; the app answers with a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass
class PageContext:
    """The request as pages see it."""

    request: Request
    platform: Platform
    lang: str
    session: UiSession | None = None
    principal: Principal | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def caller(self) -> Caller:
        if self.principal is None:
            raise PermissionDenied("log in first", code="log_in")
        settings = self.platform.settings
        return Caller(self.principal, csm_scope=settings.csm_scope, request_id=None)

    @property
    def figures(self) -> Figures:
        """The app's book-wide figures (kept in memory for every visitor of this app)."""
        figures: Figures = self.request.app.state.figures
        return figures

    @property
    def is_admin(self) -> bool:
        return self.principal is not None and can_administer(self.caller)

    def asset(self, name: str) -> str:
        """The versioned URL of the static file ``name`` (cached by browsers for a year)."""
        version = self.request.app.state.assets.version(name)
        return self.url("static", name=name) + (f"?v={version}" if version else "")

    def url(self, name: str, /, query: dict[str, Any] | None = None, **path_params: Any) -> str:
        """The path of the route ``name`` (mount-aware), with an optional query string."""
        # The UI is a mounted sub-application: its own routes, under the mount's root path.
        root = self.request.scope.get("root_path", "")
        path = root + str(self.request.app.url_path_for(name, **path_params))
        if query:
            clean = {k: v for k, v in query.items() if v not in (None, "")}
            if clean:
                path += "?" + urlencode(clean, doseq=True)
        return path


def _state(request: Request) -> Any:
    return request.app.state


def page_context(request: Request) -> PageContext:
    """The language, session and user of ``request`` (the user may be anonymous).

    The language: a signed-in member's preference, else the ``kizuna_lang`` cookie,
    else the browser's Accept-Language, else English.
    """
    state = _state(request)
    codec: SessionCodec = state.session_codec
    lang = i18n.negotiate(
        request.cookies.get(i18n.LANG_COOKIE), request.headers.get("accept-language")
    )
    ctx = PageContext(request=request, platform=state.platform, lang=lang)
    start_warming(state.figures)
    session = codec.read(request.cookies.get(SESSION_COOKIE))
    if session is not None:
        try:
            ctx.principal = session_principal(state.platform, session.session_id, session.member_id)
            ctx.session = session
        except PermissionDenied:  # logged out, password changed, deactivated, deleted
            pass
    if ctx.principal is not None:
        # a signed-in member reads their preferred language (the header's switch sets it)
        ctx.lang = member_language(state.platform, ctx.principal.member_id) or ctx.lang
    return ctx


def require_csrf(ctx: PageContext, token: str) -> None:
    """Refuse a form post whose CSRF token does not belong to the signed-in session."""
    if ctx.session is None or not csrf_ok(ctx.session, token):
        raise PermissionDenied(
            "the form expired: reload the page and try again", code="form_expired"
        )


T = TypeVar("T")


def form_action(
    ctx: PageContext,
    csrf_token: str,
    act: Callable[[], T],
    done: Callable[[T], Response],
    refused: Callable[[KizunaError], Response],
    refuse: tuple[type[KizunaError], ...] = (InvalidInput,),
) -> Response:
    """The shape of every form post: check the CSRF token, ``act``, then ``done`` with what
    it returned (a redirect), or — when the service refuses with one of ``refuse`` — the
    page again through ``refused`` with the error (its problems worded by the page)."""
    require_csrf(ctx, csrf_token)
    try:
        result = act()
    except refuse as exc:
        return refused(exc)
    return done(result)


def login_required(request: Request) -> PageContext:
    """Like :func:`page_context`, but only for a logged-in team member."""
    ctx = page_context(request)
    if ctx.principal is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return ctx


def build_environment() -> Environment:
    """The Jinja2 environment of the UI: package templates, autoescaping, gettext, formats."""
    env = Environment(
        loader=PackageLoader("kizuna.web", "templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(
        number=i18n.format_number,
        money=i18n.format_money,
        percent=i18n.format_percent,
        date=i18n.format_date,
        month=i18n.format_month,
        plot=charts.localise,
        label=i18n.format_label,
        term=i18n.format_term,
        segment=i18n.format_segment,
        measure=i18n.format_measure,
        problem=problem_text,
    )
    env.globals["LANGUAGES"] = i18n.LANGUAGES
    # The portfolio's rules as the domain defines them (kizuna.portfolio): pages show them.
    env.globals["BANDS"] = BANDS
    env.globals["REASONS"] = ATTENTION_REASONS
    env.globals["ATTENTION_DROP"] = ATTENTION_DROP
    env.globals["MOVEMENT_LABELS"] = MOVEMENT_LABELS
    env.globals["REASON_OPTIONS"] = [(r.id, r.label) for r in ATTENTION_REASONS.values()]
    return env


def render(ctx: PageContext, template: str, status_code: int = 200, **data: Any) -> HTMLResponse:
    """Render ``template`` in the request's language."""
    state = _state(ctx.request)
    env: Environment = state.templates
    nav_entries: list[NavEntry] = state.nav
    nav = [n for n in nav_entries if ctx.principal and (ctx.is_admin or not n.admin_only)]
    with i18n.use_locale(ctx.lang):
        html = env.get_template(template).render(
            ctx=ctx,
            request=ctx.request,
            url=ctx.url,
            asset=ctx.asset,
            nav=nav,
            lang=ctx.lang,
            user=ctx.principal,
            csrf=ctx.session.csrf if ctx.session else "",
            currency=ctx.platform.settings.reporting_currency,
            **data,
        )
    return HTMLResponse(html, status_code=status_code)
