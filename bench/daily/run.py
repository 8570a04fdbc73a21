"""The daily run at S or M: per step wall time, CPU time and peak memory; an incremental day;
a weekly backfill; and the naive way (every step from scratch for each date) for the ratio.

    python bench/daily/run.py /work/data/S --work /tmp/bench-daily --as-of 2025-06-30
    python bench/daily/run.py /work/data/M --work /tmp/bench-daily-M --as-of 2025-06-30 \
        --weeks 52 --naive-sample 1

The home given is never written: it is copied to ``--work`` first. The last day of events
is held back, so the figures show (1) the roll-ups built from scratch, (2) the full daily
run of the day before with the roll-ups built, (3) one more day of events landed and run
(roll-up refresh included), (4) a backfill of ``--weeks`` dates seven days apart, each
advancing from the previous one, and (5) the naive way for ``--naive-sample`` of those
dates (roll-up caches deleted, lifecycle evaluated from its first day, the portfolio
evaluating the lifecycle again as before), extrapolated to every date of the backfill.
Peak memory per step is the process's resident high-water mark, reset before each step.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform as host
import shutil
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from kizuna.daily import build_lifecycle_book, build_portfolio, write_portfolio
from kizuna.daily.run import run_daily
from kizuna.lifecycle import definition_for
from kizuna.metrics.service import refresh_rollup
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.lifecycle_models import LifecycleRun


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


class Timer:
    """Wall, CPU and peak memory of each named piece of work."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float, float]] = []

    def run(self, name: str, work: Callable[[], object]) -> object:
        _reset_peak()
        wall, cpu = time.perf_counter(), time.process_time()
        out = work()
        row = (name, time.perf_counter() - wall, time.process_time() - cpu, _peak_mb())
        self.rows.append(row)
        print(
            f"  {row[0]:<34} {row[1]:8.2f} s wall {row[2]:8.2f} s CPU {row[3]:8.0f} MB", flush=True
        )
        return out


class StepTimer:
    """Times each step of :func:`run_daily` through its progress callback (wall, CPU, peak)."""

    def __init__(self, timer: Timer, prefix: str) -> None:
        self.timer, self.prefix = timer, prefix
        self.started: tuple[float, float] = (0.0, 0.0)

    def __call__(self, step: str, day: date, state: str) -> None:
        if state == "start":
            _reset_peak()
            self.started = (time.perf_counter(), time.process_time())
            return
        wall = time.perf_counter() - self.started[0]
        cpu = time.process_time() - self.started[1]
        row = (f"{self.prefix}{step}", wall, cpu, _peak_mb())
        self.timer.rows.append(row)
        print(f"  {row[0]:<34} {wall:8.2f} s wall {cpu:8.2f} s CPU {row[3]:8.0f} MB", flush=True)


def _total(label: str, wall: float, cpu: float) -> None:
    print(f"  {label:<34} {wall:8.2f} s wall {cpu:8.2f} s CPU", flush=True)


def _naive(platform: Platform, timer: Timer, day: date) -> tuple[float, float]:
    """One date the naive way: roll-up caches deleted, the lifecycle evaluated from its first
    day, and the portfolio built as before this change (evaluating the lifecycle twice more:
    onboarding report and detail). Returns (wall, CPU)."""
    shutil.rmtree(platform.settings.lake_dir / "_rollup", ignore_errors=True)
    with platform.store.session() as session:
        session.execute(sa.delete(LifecycleRun))
    t, c = time.perf_counter(), time.process_time()
    steps = StepTimer(timer, "naive ")
    run_daily(platform, [day], progress=steps)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    handed = next(r for r in reversed(timer.rows) if r[0] == "naive portfolio")

    def old_portfolio() -> None:
        book = build_lifecycle_book(platform, day)
        write_portfolio(platform.settings, build_portfolio(platform, day), book)

    timer.run("naive portfolio (as before)", old_portfolio)
    old = timer.rows[-1]
    return wall - handed[1] + old[1], cpu - handed[2] + old[2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("home", type=Path)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--naive-sample", type=int, default=1)
    parser.add_argument("--skip-backfill", action="store_true")
    args = parser.parse_args()
    day: date = args.as_of
    python = sys.version.split()[0]
    print(f"machine: {host.node()} {host.machine()} {os.cpu_count()} CPUs, Python {python}")
    print(f"load average at start: {os.getloadavg()}")
    work: Path = args.work / "home"
    shutil.rmtree(args.work, ignore_errors=True)
    shutil.copytree(args.home, work, ignore=shutil.ignore_patterns("_rollup", "daily", "health"))
    held = args.work / "held"
    held.mkdir()
    partition = work / "lake" / "events" / f"event_date={day.isoformat()}"
    shutil.move(partition, held / partition.name)
    settings = Settings(home=work, database_url=f"sqlite:///{work / 'kizuna.sqlite3'}")
    platform = Platform.from_settings(settings)
    timer = Timer()
    before = day - timedelta(days=1)

    print(f"1. roll-ups from scratch through {before} (metrics, lifecycle)")
    timer.run("roll-up: metrics", lambda: refresh_rollup(platform, before))

    def lifecycle_rollup() -> None:
        from kizuna.lifecycle.book import load_book

        load_book(platform, definition_for(work), before)

    timer.run("roll-up: lifecycle (+ book load)", lifecycle_rollup)

    print(f"2. full daily run for {before} (roll-ups built, no earlier lifecycle run)")
    t, c = time.perf_counter(), time.process_time()
    run_daily(platform, [before], progress=StepTimer(timer, "full "))
    _total("full run total", time.perf_counter() - t, time.process_time() - c)

    print(f"3. one more day of events: {day} landed, daily run for it")
    shutil.move(held / partition.name, partition)
    t, c = time.perf_counter(), time.process_time()
    run_daily(platform, [day], progress=StepTimer(timer, "next day "))
    _total("next day total", time.perf_counter() - t, time.process_time() - c)

    if not args.skip_backfill:
        dates = [day - timedelta(days=7 * (args.weeks - i)) for i in range(args.weeks)]
        print(f"4. backfill of {len(dates)} dates every 7 days, {dates[0]} … {dates[-1]}")
        with platform.store.session() as session:  # a backfill from the start of the range
            session.execute(sa.delete(LifecycleRun))
        t, c = time.perf_counter(), time.process_time()
        for d in dates:
            run_daily(platform, [d])
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        _total("backfill total", wall, cpu)
        sample = dates[-args.naive_sample :] if args.naive_sample else []
        if sample:
            print(f"5. naive: every step from scratch for {len(sample)} sampled date(s)")
            one = [_naive(platform, timer, d) for d in sample]
            nwall = sum(w for w, _ in one) / len(sample) * len(dates)
            ncpu = sum(c for _, c in one) / len(sample) * len(dates)
            print(
                f"  naive backfill, extrapolated from {len(sample)} date(s): "
                f"{nwall:.0f} s wall, {ncpu:.0f} s CPU; ratio {nwall / wall:.1f}x wall, "
                f"{ncpu / cpu:.1f}x CPU"
            )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
