"""``kizuna scheduler``: the daily run at the configured time, one run at a time across
scheduler instances (the lock in the store), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

from kizuna.clock import FixedClock
from kizuna.ops import list_runs
from kizuna.ops.scheduler import Scheduler, Tick
from kizuna.platform import Platform
from kizuna.settings import Settings


def _platform(platform: Platform, clock: FixedClock) -> Platform:
    settings = Settings(
        home=platform.settings.home,
        database_url=platform.store.url,
        timezone="Asia/Tokyo",
        daily_time="06:00",
    )
    return Platform(settings=settings, store=platform.store, clock=clock)


def test_a_second_scheduler_does_not_start_a_run_while_one_is_going(platform: Platform) -> None:
    # 06:30 in Tokyo on 1 July is 21:30 UTC on 30 June: the run is for the business day.
    clock = FixedClock(datetime(2025, 6, 30, 21, 30, tzinfo=UTC))
    tokyo = _platform(platform, clock)
    started, finish = threading.Event(), threading.Event()
    ran: list[tuple[str, list[date]]] = []

    def slow(_: Platform, days: list[date]) -> str:
        ran.append(("first", days))
        started.set()
        assert finish.wait(30)
        return "done"

    def quick(_: Platform, days: list[date]) -> str:
        ran.append(("second", days))
        return "done"

    first = Scheduler(tokyo, owner="scheduler@server-1", steps={"work": slow})
    second = Scheduler(tokyo, owner="scheduler@server-2", steps={"work": quick})
    ticks: list[Tick] = []
    thread = threading.Thread(target=lambda: ticks.append(first.tick()))
    thread.start()
    assert started.wait(30)
    going = list_runs(tokyo.store)
    assert [(r.status, r.trigger, r.owner) for r in going] == [
        ("running", "scheduler", "scheduler@server-1")
    ]
    busy = second.tick()
    assert (busy.day, busy.outcome, busy.detail) == (date(2025, 7, 1), "busy", "scheduler@server-1")
    finish.set()
    thread.join()
    assert ticks[0].outcome == "succeeded" and ticks[0].run_id == going[0].id
    # After it: today's run happened; neither scheduler starts another.
    assert second.tick().outcome == "done"
    assert first.tick().outcome == "done"
    assert ran == [("first", [date(2025, 7, 1)])]
    assert [(r.status, r.first_date) for r in list_runs(tokyo.store)] == [
        ("succeeded", date(2025, 7, 1))
    ]


def test_the_scheduler_waits_for_the_daily_time_then_runs_once_a_day(platform: Platform) -> None:
    clock = FixedClock(datetime(2025, 6, 30, 20, 59, tzinfo=UTC))  # 05:59 in Tokyo
    tokyo = _platform(platform, clock)
    ran: list[list[date]] = []

    def work(_: Platform, days: list[date]) -> str:
        ran.append(days)
        return "done"

    scheduler = Scheduler(tokyo, steps={"work": work})
    assert scheduler.tick().outcome == "not_yet"
    clock.set(datetime(2025, 6, 30, 21, 0, tzinfo=UTC))
    assert scheduler.tick().outcome == "succeeded"
    assert scheduler.tick().outcome == "done"
    clock.set(datetime(2025, 7, 1, 21, 5, tzinfo=UTC))  # the next morning
    assert scheduler.tick().outcome == "succeeded"
    assert ran == [[date(2025, 7, 1)], [date(2025, 7, 2)]]
    # serve() polls until stopped
    stop = threading.Event()
    seen: list[Tick] = []
    loop = threading.Thread(target=scheduler.serve, args=(stop,), kwargs={"on_tick": seen.append})
    loop.start()
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    loop.join(10)
    assert not loop.is_alive() and seen[0].outcome == "done"
