"""Server time of every main UI page on the demo data, cold and warm (issue 8: < 300 ms).

Usage (the script runs the demo's daily run on DIR first if it has not run)::

    kizuna --home DIR demo --no-serve
    python bench/web/bench_pages.py --home DIR [--repeat 20]

Each page is requested in-process through the ASGI app (routing, services,
Jinja2 rendering; no network, no browser), logged in as the demo admin (who
sees the whole book). Three figures per page:

* **warm** — the normal case: book-wide figures are in the UI's memory
  (median and max of ``--repeat`` requests);
* **cold, serving** — a fresh worker as ``kizuna demo`` / ``kizuna serve``
  runs it (``background=True``): all caches empty, a new app, the first
  request of that page. Pages compute what they need in the request, except
  the book-wide onboarding outcomes, which a fresh worker computes in a
  background thread while the pages say so ("computing" is printed);
* **after login** — a fresh worker whose first visitor opened the login page
  ``--login-pause`` seconds (default 5) before logging in and asking for the
  page: the login page starts computing the book-wide figures in the background;
* **naive** — the same first request with ``background=False``: every
  book-wide figure the page needs is computed in the request, as a UI without
  a background refresh would.

Between cold measurements the script waits for background work to finish, so
one measurement does not slow the next. Prints the machine.
"""

from __future__ import annotations

import argparse
import os
import platform as pyplatform
import statistics
import time
import warnings
from datetime import UTC, date, datetime
from pathlib import Path

from fastapi.testclient import TestClient

from kizuna.clock import FixedClock
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.db import Store
from kizuna.web import create_standalone_app
from kizuna.web.demo import DEMO_EMAIL, DEMO_PASSWORD, ensure_demo_login, run_daily_once
from kizuna.web.insights import Figures
from kizuna.web.warmup import warm as warm_figures


def machine() -> str:
    cpu = "unknown CPU"
    ram = "unknown RAM"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(x.split()[1])
            for x in Path("/proc/meminfo").read_text().splitlines()
            if x.startswith("MemTotal")
        )
        ram = f"{mem_kb / 1024 / 1024:.1f} GB RAM"
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} cores, {ram}, {cpu}, Python {pyplatform.python_version()}, "
        f"load average {load:.1f} at start"
    )


def _figures(client: TestClient) -> Figures:
    """The book-wide figures of the client's app (each app has its own)."""
    figures: Figures = client.app.state.ui.state.figures  # type: ignore[attr-defined]
    return figures


def _client(platform: Platform, background: bool) -> TestClient:
    client = TestClient(create_standalone_app(platform, background=background))
    response = client.post(
        "/ui/login",
        data={"email": DEMO_EMAIL, "password": DEMO_PASSWORD},
        follow_redirects=False,  # the redirect to the portfolio would compute it
    )
    assert response.status_code == 303, response.text[:500]
    return client


def _timed(client: TestClient, path: str) -> tuple[float, str]:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    computing = 'data-state="computing"' in response.text
    return elapsed, "computing" if computing else ""


def _cold(platform: Platform, path: str, background: bool) -> tuple[float, str]:
    """The first request of ``path`` on a fresh app (its caches empty)."""
    client = _client(platform, background)
    result = _timed(client, path)
    _figures(client).settle()
    return result


def _after_login_page(platform: Platform, path: str, pause: float) -> tuple[float, str]:
    """A fresh worker whose first visitor opened the login page ``pause`` seconds earlier."""
    client = TestClient(create_standalone_app(platform, background=True))
    client.get("/ui/login")  # starts computing the book-wide figures in the background
    time.sleep(pause)
    response = client.post(
        "/ui/login",
        data={"email": DEMO_EMAIL, "password": DEMO_PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303
    result = _timed(client, path)
    _figures(client).settle()
    return result


def _ms(value: float) -> str:
    return f"{value / 1000:.1f} s" if value >= 1000 else f"{value:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2025, 6, 30))
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-naive", action="store_true", help="skip the naive column")
    parser.add_argument(
        "--login-pause", type=float, default=5.0, help="seconds between login page and login"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)

    settings = Settings(home=args.home, cookie_secure=False)
    clock = FixedClock(datetime(args.as_of.year, args.as_of.month, args.as_of.day, 12, tzinfo=UTC))
    platform = Platform(settings=settings, store=Store(settings.store_url), clock=clock)
    ensure_demo_login(platform)
    run_daily_once(platform, args.as_of, print)

    warm_client = _client(platform, background=True)
    started = time.perf_counter()
    warm_figures(_figures(warm_client))
    warm_up = time.perf_counter() - started
    red = warm_client.get("/ui/accounts.csv?band=red&sort=-arr").text.splitlines()
    account = red[1].split(",")[0] if len(red) > 1 else "A000001"
    pages = [
        "/ui/portfolio",
        "/ui/portfolio?segment=enterprise&period=year",
        "/ui/accounts",
        "/ui/accounts?sort=-arr&q=a",
        "/ui/accounts.csv",
        f"/ui/accounts/{account}",
        "/ui/retention",
        "/ui/onboarding",
        "/ui/admin",
    ]

    print(f"machine: {machine()}")
    print(f"data: {args.home} as of {args.as_of}")
    print(f"book-wide figures computed from scratch (warmup.warm): {warm_up:.1f} s")
    header = (
        f"{'page':46} {'warm p50':>9} {'warm max':>9} {'cold, serving':>22} "
        f"{'after login':>12} {'naive':>8}"
    )
    print(header)
    warm: dict[str, list[float]] = {}
    for path in pages:
        _timed(warm_client, path)  # the page's own per-account figures
        warm[path] = [_timed(warm_client, path)[0] for _ in range(args.repeat)]
    for path in pages:
        cold = _cold(platform, path, background=True)
        later = _after_login_page(platform, path, args.login_pause)
        naive = None if args.no_naive else _cold(platform, path, background=False)
        cold_text = _ms(cold[0]) + (f" ({cold[1]})" if cold[1] else "")
        later_text = _ms(later[0]) + (f" ({later[1]})" if later[1] else "")
        naive_text = _ms(naive[0]) if naive else "-"
        print(
            f"{path:46} {_ms(statistics.median(warm[path])):>9} {_ms(max(warm[path])):>9} "
            f"{cold_text:>22} {later_text:>12} {naive_text:>8}",
            flush=True,
        )


if __name__ == "__main__":
    main()
