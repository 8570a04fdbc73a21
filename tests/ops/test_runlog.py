"""The daily run's log, its lock and resume, on SQLite and PostgreSQL, with injected steps."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from kizuna.clock import FixedClock
from kizuna.daily import DailyRunBusy, DailyStepFailed, StepOutcome, run_daily
from kizuna.ops import DAILY_LOCK, StoreLock, list_runs, lock_holder, run_of
from kizuna.platform import Platform

DAY = date(2025, 6, 30)


class Book:
    """Three steps that persist what they hand on in a dict standing in for the store."""

    def __init__(self) -> None:
        self.saved: dict[str, int] = {}
        self.calls: list[str] = []
        self.fail_at: str | None = None

    def steps(self) -> dict[str, object]:
        def load(_: Platform, days: list[date]) -> StepOutcome:
            self.calls.append("load")
            self.saved["events"] = 10 * len(days)
            return StepOutcome(f"{self.saved['events']} events", rows=self.saved["events"])

        def score(_: Platform, days: list[date]) -> StepOutcome:
            self.calls.append("score")
            if self.fail_at == "score":
                raise RuntimeError("scorecard exploded")
            self.saved["scores"] = self.saved["events"] // 2
            return StepOutcome("scored", rows=self.saved["scores"])

        def report(_: Platform, days: list[date]) -> str:
            self.calls.append("report")
            self.saved["report"] = self.saved["scores"] + 1
            return "reported"

        return {"load": load, "score": score, "report": report}


def test_every_run_and_step_is_logged_with_rows_and_trigger(platform: Platform) -> None:
    book = Book()
    done = run_daily(platform, [DAY], steps=book.steps(), trigger="api")  # type: ignore[arg-type]
    assert [(s.step, s.rows, s.status) for s in done.steps] == [
        ("load", 10, "succeeded"),
        ("score", 5, "succeeded"),
        ("report", None, "succeeded"),
    ]
    [logged] = list_runs(platform.store)
    assert logged.id == done.run_id and logged.trigger == "api" and logged.status == "succeeded"
    assert (logged.first_date, logged.last_date, logged.dates) == (DAY, DAY, 1)
    assert [(s.step, s.status, s.rows, s.detail) for s in logged.steps] == [
        ("load", "succeeded", 10, "10 events"),
        ("score", "succeeded", 5, "scored"),
        ("report", "succeeded", None, "reported"),
    ]
    assert all(s.seconds is not None and s.seconds >= 0 for s in logged.steps)
    assert logged.seconds is not None and logged.finished_at is not None
    assert lock_holder(platform.store, DAILY_LOCK) is None  # released


def test_a_failed_run_resumes_from_the_failed_step_with_the_same_results(
    platform: Platform,
) -> None:
    uninterrupted = Book()
    run_daily(platform, [DAY], steps=uninterrupted.steps())  # type: ignore[arg-type]
    platform.store.engine.dispose()

    book = Book()
    book.fail_at = "score"
    with pytest.raises(DailyStepFailed) as failed:
        run_daily(platform, [DAY], steps=book.steps())  # type: ignore[arg-type]
    first = run_of(platform.store, failed.value.run_id or 0)
    assert first is not None and first.status == "failed" and first.failed_step == "score"
    assert [(s.step, s.status) for s in first.steps] == [("load", "succeeded"), ("score", "failed")]
    assert first.steps[1].error == "RuntimeError: scorecard exploded"

    book.fail_at = None
    book.calls.clear()
    resumed = run_daily(platform, [DAY], steps=book.steps())  # type: ignore[arg-type]
    assert book.calls == ["score", "report"]  # load was not run again
    assert resumed.resumed_from == first.id
    assert [(s.step, s.status) for s in resumed.steps] == [
        ("load", "reused"),
        ("score", "succeeded"),
        ("report", "succeeded"),
    ]
    assert book.saved == uninterrupted.saved
    logged = run_of(platform.store, resumed.run_id or 0)
    assert logged is not None and logged.resumed_from == first.id
    assert logged.steps[0].detail == f"done by run {first.id}"
    # A succeeded run is not resumed: the next run of the date runs every step again.
    book.calls.clear()
    run_daily(platform, [DAY], steps=book.steps())  # type: ignore[arg-type]
    assert book.calls == ["load", "score", "report"]
    # Other dates never resume this date's run; --restart (resume=False) never resumes.
    book.fail_at = "score"
    with pytest.raises(DailyStepFailed):
        run_daily(platform, [DAY], steps=book.steps())  # type: ignore[arg-type]
    book.fail_at = None
    book.calls.clear()
    run_daily(platform, [DAY - timedelta(days=1)], steps=book.steps())  # type: ignore[arg-type]
    run_daily(platform, [DAY], steps=book.steps(), resume=False)  # type: ignore[arg-type]
    assert book.calls == ["load", "score", "report"] * 2


def test_a_run_while_another_holds_the_lock_is_refused_and_not_logged(
    platform: Platform,
) -> None:
    other = StoreLock(platform.store, DAILY_LOCK, "daily@elsewhere:1:abc")
    assert other.acquire()
    with pytest.raises(DailyRunBusy, match="daily@elsewhere:1:abc"):
        run_daily(platform, [DAY], steps=Book().steps())  # type: ignore[arg-type]
    assert list_runs(platform.store) == []
    other.release()
    run_daily(platform, [DAY], steps=Book().steps())  # type: ignore[arg-type]
    assert [r.status for r in list_runs(platform.store)] == ["succeeded"]


def test_a_lock_is_taken_over_only_after_it_expires(platform: Platform) -> None:
    clock = FixedClock(datetime(2026, 1, 1, 6, 0, tzinfo=UTC))
    first = StoreLock(platform.store, "job", "a", ttl=60, clock=clock)
    second = StoreLock(platform.store, "job", "b", ttl=60, clock=clock)
    assert first.acquire() and first.acquire()  # re-entrant for its owner
    assert not second.acquire()
    clock.set(datetime(2026, 1, 1, 6, 0, 59, tzinfo=UTC))
    assert first.renew()  # now valid until 6:01:59
    clock.set(datetime(2026, 1, 1, 6, 1, 30, tzinfo=UTC))
    assert not second.acquire()
    clock.set(datetime(2026, 1, 1, 6, 2, 0, tzinfo=UTC))
    assert second.acquire()  # expired: taken over
    assert not first.renew()  # and the first owner learns it lost the lock
    holder = lock_holder(platform.store, "job", clock)
    assert holder is not None and holder.owner == "b"
    second.release()
    assert lock_holder(platform.store, "job", clock) is None


def test_racing_processes_get_the_lock_once(platform: Platform) -> None:
    """Eight contenders at once (threads with their own connections): one wins."""
    barrier = threading.Barrier(8)
    won: list[str] = []

    def contend(name: str) -> None:
        lock = StoreLock(platform.store, "race", name)
        barrier.wait()
        if lock.acquire():
            won.append(name)

    threads = [threading.Thread(target=contend, args=(f"p{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1
