"""Serving the UI at the end of ``kizuna demo``: a demo login, the daily run, then uvicorn.

The simulated history ends on a fixed date, so the demo's clock is stopped on
that date: "today" on every page is the last simulated day. Unless it has run
for that day, ``kizuna daily`` (:func:`kizuna.daily.run_daily`: metrics,
health, lifecycle, the portfolio snapshot) runs once before serving, after
weekly metrics and health over the previous 90 days, so a fresh worker reads
its book-wide figures from the snapshot.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from kizuna.auth.users import add_user, list_users
from kizuna.clock import FixedClock
from kizuna.daily import portfolio_path, run_daily
from kizuna.errors import KizunaError
from kizuna.health import compute_health_range
from kizuna.health.snapshots import snapshot_dates
from kizuna.metrics.service import compute_metrics
from kizuna.platform import Platform
from kizuna.store.models import TeamRole

DEMO_EMAIL = "demo@kizuna.example"
DEMO_PASSWORD = "kizuna-demo"  # a local demo on loopback; never use it anywhere else
HEALTH_HISTORY_DAYS = 90
HEALTH_STEP_DAYS = 7


@dataclass(frozen=True, slots=True)
class DemoLogin:
    url: str
    email: str
    password: str


def ensure_demo_login(platform: Platform) -> None:
    """Give the demo an admin login (kept when it already exists)."""
    if any(u.email == DEMO_EMAIL for u in list_users(platform)):
        return
    add_user(
        platform,
        member_id="demo-admin",
        name="Demo Admin",
        email=DEMO_EMAIL,
        role=TeamRole.ADMIN,
        password=DEMO_PASSWORD,
    )


def run_daily_once(
    platform: Platform, as_of: date, say: Callable[[str], None] = lambda _: None
) -> None:
    """Run the daily run for ``as_of`` unless its portfolio snapshot exists already.

    The first time, metrics and health are also computed weekly over the
    previous :data:`HEALTH_HISTORY_DAYS` days, so trends have a history.
    """
    if portfolio_path(platform.settings, as_of).exists():
        return
    start = as_of - timedelta(days=HEALTH_HISTORY_DAYS)
    history = [start + timedelta(days=d) for d in range(0, HEALTH_HISTORY_DAYS, HEALTH_STEP_DAYS)]
    known = set(snapshot_dates(platform.settings))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        missing = [d for d in history if d not in known]
        if missing:
            say(f"computing metrics and health on {len(missing)} earlier dates ...")
            compute_metrics(platform, missing)
            for day in missing:
                compute_health_range(platform, day, day)

        def progress(step: str, day: date, state: str) -> None:
            if state == "start":
                say(f"daily run {day}: {step} ...")

        run = run_daily(platform, [as_of], progress=progress)
    say("daily run: " + ", ".join(f"{s.step} {s.seconds:.1f} s" for s in run.steps))


def prepare_demo(
    platform: Platform, *, as_of: date | None = None, say: Callable[[str], None] = print
) -> Platform:
    """The demo's platform (its clock at ``as_of``), with a login and the daily run.

    :func:`kizuna.server.serve_demo` serves it (after warming the UI's figures).
    """
    settings = platform.settings.model_copy(update={"cookie_secure": False})
    clock = FixedClock(datetime.combine(as_of, time(12), tzinfo=UTC)) if as_of else platform.clock
    demo = Platform(settings=settings, store=platform.store, clock=clock)
    ensure_demo_login(demo)
    try:
        run_daily_once(demo, demo.today(), say)
    except KizunaError as exc:  # the UI still serves; pages say what is not computed
        say(f"the daily run failed, some panels will say 'not computed yet': {exc}")
    return demo
