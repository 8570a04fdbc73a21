"""Server time of every main UI page on the demo data (issue 8: < 300 ms each).

Usage (after ``kizuna --home DIR demo --no-serve`` and the daily run, or after a
served demo has prepared DIR)::

    python bench/web/bench_pages.py --home DIR [--repeat 20]

Each page is requested in-process through the ASGI app (no network, no browser
rendering), so the time is the server's: routing, services, templates. It is
measured twice: with the UI's short-lived caches warm (the normal case: a CS
team clicking around), and the naive way, with every cache cleared before each
request (recomputing book-wide figures per request). Prints the machine.
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
from kizuna.web import create_standalone_app, insights
from kizuna.web.demo import DEMO_EMAIL, DEMO_PASSWORD, ensure_demo_login, run_daily_once


def machine() -> str:
    cpu = "unknown CPU"
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
    except OSError:
        ram = "unknown RAM"
    return f"{os.cpu_count()} cores, {ram}, {cpu}, Python {pyplatform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2025, 6, 30))
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--naive-repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)

    settings = Settings(home=args.home, cookie_secure=False)
    clock = FixedClock(datetime(args.as_of.year, args.as_of.month, args.as_of.day, 12, tzinfo=UTC))
    platform = Platform(settings=settings, store=Store(settings.store_url), clock=clock)
    ensure_demo_login(platform)
    run_daily_once(platform, args.as_of, print)
    client = TestClient(create_standalone_app(platform))
    response = client.post("/ui/login", data={"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text[:500]
    red = client.get("/ui/accounts.csv?band=red&sort=-arr").text.splitlines()
    account = red[1].split(",")[0] if len(red) > 1 else "acc-000001"
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

    def timed(path: str, cold: bool) -> float:
        if cold:
            insights.invalidate()
        started = time.perf_counter()
        r = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        assert r.status_code == 200, (path, r.status_code)
        return elapsed

    print(f"machine: {machine()}")
    print(f"data: {args.home} as of {args.as_of}")
    print(f"{'page':48} {'warm p50':>9} {'warm max':>9} {'naive p50':>10}")
    for path in pages:
        timed(path, cold=False)  # warm the cache once
        warm = [timed(path, cold=False) for _ in range(args.repeat)]
        naive = [timed(path, cold=True) for _ in range(args.naive_repeat)]
        print(
            f"{path:48} {statistics.median(warm):8.1f}ms {max(warm):8.1f}ms "
            f"{statistics.median(naive):9.1f}ms"
        )


if __name__ == "__main__":
    main()
