"""Browser load time of every main UI page on the demo data, cold and warm cache (issue 12).

Usage (the script runs the demo's daily run on DIR first if it has not run)::

    kizuna --home DIR demo --no-serve
    python bench/web/bench_browser.py --home DIR [--as-of 2025-06-30] [--repeat 5]

A server process serves the API with the UI mounted (:func:`kizuna.server.create_server`,
as ``kizuna serve`` does) on 127.0.0.1, its clock stopped on ``--as-of``, its
book-wide figures warmed as ``kizuna demo`` does before it serves. Debian's
Chromium (``/usr/bin/chromium``, driven by Playwright) then opens each page,
logged in as the demo admin, and reads the Navigation Timing entry: **navigation
start to the end of the load event** (HTML, CSS, scripts, charts drawn by the
time ``load`` has run). Three figures per page:

* **cold** — a new browser context (an empty HTTP cache) per measurement;
* **warm** — the same page again in a context that has loaded it before
  (cached static files; median of ``--repeat``);
* **naive** — a load the way the UI served its files before this change:
  no compression and no HTTP cache (every request goes through a Playwright route,
  which turns Chromium's cache off, asking for ``Accept-Encoding: identity``);
* **charts drawn** — navigation start until every chart of the page is drawn
  (plotly.js is fetched after the load event, so text and tables come first;
  median over the cold and warm loads).

Targets: cold < 1 s, warm < 300 ms. Prints the machine and the load average.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform as pyplatform
import socket
import statistics
import time
import urllib.request
import warnings
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOAD_TIME = """() => { const n = performance.getEntriesByType('navigation')[0];
  return {load: n.loadEventEnd - n.startTime, bytes: n.transferSize}; }"""
CHARTS_DRAWN = """() => [...document.querySelectorAll('[data-chart]')]
  .every(e => e.getAttribute('data-rendered') === 'true')"""


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return (
        f"{os.cpu_count()} cores, {mem_kb / 1024 / 1024:.1f} GB RAM, {cpu}, "
        f"Python {pyplatform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(home: Path, as_of: date, port: int) -> None:
    """The server process: the demo's platform on ``as_of``, warmed, served by uvicorn."""
    import uvicorn

    from kizuna.clock import FixedClock
    from kizuna.platform import Platform
    from kizuna.server import create_server
    from kizuna.settings import Settings
    from kizuna.store.db import Store
    from kizuna.web.demo import prepare_demo
    from kizuna.web.warmup import warm

    warnings.simplefilter("ignore", DeprecationWarning)
    settings = Settings(home=home, cookie_secure=False)
    clock = FixedClock(datetime(as_of.year, as_of.month, as_of.day, 12, tzinfo=UTC))
    platform = Platform(settings=settings, store=Store(settings.store_url), clock=clock)
    demo = prepare_demo(platform, as_of=as_of, say=lambda _: None)
    app = create_server(demo)
    warm(app.state.ui.state.figures)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def _wait(url: str, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the server did not answer {url}")


def _red_account(home: Path, as_of: date) -> str:
    from kizuna.daily import latest_portfolio, read_portfolio
    from kizuna.settings import Settings

    settings = Settings(home=home)
    day = latest_portfolio(settings, as_of)
    snapshot = read_portfolio(settings, day) if day else None
    if snapshot is None:
        raise RuntimeError("no portfolio snapshot: the daily run did not run")
    return min(a for a, f in snapshot.facts.items() if f.health_band == "red")


def _load(context: Any, url: str) -> dict[str, float]:
    """Navigation start to the load event, and to every chart drawn (None: no chart)."""
    page = context.new_page()
    page.goto(url, wait_until="load")
    figures: dict[str, Any] = page.evaluate(LOAD_TIME)
    figures["charts"] = None
    if page.locator("[data-chart]").count():
        page.wait_for_function(CHARTS_DRAWN, timeout=60_000)
        figures["charts"] = page.evaluate("() => performance.now()")
    page.close()
    return figures


PICKED = {
    "<a CTA>": ("SELECT min(id) FROM ctas", "/ui/ctas/{}"),
    "<an opportunity>": ("SELECT min(id) FROM opportunities", "/ui/opportunities/{}"),
    "<an account with a plan>": ("SELECT min(account_id) FROM plans", "/ui/accounts/{}/plan"),
}


def _resolve(home: Path, path: str) -> str:
    """A page named by a placeholder: the UI page of the first record of its table."""
    if path not in PICKED:
        return path
    from sqlalchemy import text

    from kizuna.settings import Settings
    from kizuna.store.db import Store

    query, page = PICKED[path]
    with Store(Settings(home=home).store_url).engine.connect() as connection:
        first = connection.execute(text(query)).scalar()
    if first is None:
        raise RuntimeError(f"the demo has nothing for {path}: run the daily run first")
    return page.format(first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2025, 6, 30))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--only", default="", help="measure only the pages whose path contains this text"
    )
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from kizuna.web.demo import DEMO_EMAIL, DEMO_PASSWORD

    print(f"machine: {machine()}")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    began = time.perf_counter()
    server = multiprocessing.get_context("spawn").Process(
        target=serve, args=(args.home, args.as_of, port), daemon=True
    )
    server.start()
    try:
        _wait(f"{base}/ui/login")
        ready = time.perf_counter() - began
        print(f"server ready (daily run if needed, warm figures): {ready:.1f} s")
        red = _red_account(args.home, args.as_of)
        pages = [
            "/ui/portfolio",
            "/ui/accounts",
            "/ui/accounts?attention=any&sort=-arr",
            f"/ui/accounts/{red}",
            f"/ui/accounts/{red}/plan",
            "<an account with a plan>",
            f"/ui/accounts/{red}/share",
            "/ui/retention",
            "/ui/onboarding",
            "/ui/plans",
            "/ui/cockpit",
            "<a CTA>",
            "/ui/risk",
            "/ui/renewals",
            "/ui/opportunities",
            "<an opportunity>",
            "/ui/framework",
            "/ui/rules/report",
            "/ui/runs",
            "/ui/teams",
            "/ui/secrets",
            "/ui/me",
            "/ui/admin",
        ]
        rows = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            login = browser.new_context()
            page = login.new_page()
            page.goto(f"{base}/ui/login")
            page.fill("input[name=email]", DEMO_EMAIL)
            page.fill("input[name=password]", DEMO_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/ui/portfolio")
            pages = [p for p in (_resolve(args.home, path) for path in pages) if args.only in p]
            state = login.storage_state()
            login.close()
            for path in pages:
                url = base + path
                cold_runs = []
                for _ in range(args.repeat):
                    context = browser.new_context(storage_state=state)
                    cold_runs.append(_load(context, url))
                    context.close()
                context = browser.new_context(storage_state=state)
                _load(context, url)
                warm_runs = [_load(context, url) for _ in range(args.repeat)]
                context.close()
                cold = [r["load"] for r in cold_runs]
                warm = [r["load"] for r in warm_runs]
                charts = [r["charts"] for r in cold_runs + warm_runs if r["charts"] is not None]
                naive_context = browser.new_context(storage_state=state)
                naive_context.route(
                    "**/*",
                    lambda route: route.continue_(
                        headers={**route.request.headers, "accept-encoding": "identity"}
                    ),
                )
                naive = [_load(naive_context, url)["load"] for _ in range(args.repeat)]
                naive_context.close()
                rows.append((path, cold, warm, naive, charts))
                print(
                    f"{path}: cold {statistics.median(cold):.0f} ms (max {max(cold):.0f}), "
                    f"warm {statistics.median(warm):.0f} ms (max {max(warm):.0f}), "
                    f"naive {statistics.median(naive):.0f} ms, charts drawn "
                    + (f"{statistics.median(charts):.0f} ms" if charts else "-"),
                    flush=True,
                )
            browser.close()
    finally:
        server.terminate()
        server.join(10)
    print()
    print(
        "| page | cold p50 | cold max | warm p50 | warm max | naive (no gzip, no cache) p50 "
        "| charts drawn p50 |"
    )
    print("|---|---|---|---|---|---|---|")
    for path, cold, warm, naive, charts in rows:
        shown = path.replace(red, "<a red account>")
        drawn = f"{statistics.median(charts):.0f} ms" if charts else "—"
        print(
            f"| `{shown}` | {statistics.median(cold):.0f} ms | {max(cold):.0f} ms "
            f"| {statistics.median(warm):.0f} ms | {max(warm):.0f} ms "
            f"| {statistics.median(naive):.0f} ms | {drawn} |"
        )
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
