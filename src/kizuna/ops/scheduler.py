"""``kizuna scheduler``: start the daily run once a day at the configured time.

A polling loop, not a cron library: every ``scheduler_poll_seconds`` the
scheduler asks the store whether today's run is due — the business timezone's
clock has passed ``daily_time`` and no scheduled run for today has finished
(succeeded or failed) — and if so runs it. The answer lives in the run log, so
a scheduler (re)started at 06:10 still runs the 06:00 run, and one started
after the run changes nothing.

Several schedulers (one per server) may run: each takes the store's daily lock
(:data:`~kizuna.ops.locks.DAILY_LOCK`) *before* asking whether the run is due,
so the question and the run happen under one lock and only one of them starts
the run. A second scheduler finds the lock held and waits for its next poll.
A failed scheduled run is not retried by the scheduler (an operator looks,
then ``kizuna daily`` resumes it); a killed one is resumed at the next poll.

APScheduler would give cron expressions, but the two things the scheduler
must get right — one run at a time across servers and "has today's run
happened" across restarts — live in the store either way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time

import sqlalchemy as sa

from kizuna.daily import DailyRunBusy, DailyStepFailed, StepFunction, run_daily
from kizuna.ops.locks import DAILY_LOCK, StoreLock, lock_holder, new_owner
from kizuna.platform import Platform
from kizuna.store.ops_models import DailyRunRecord

__all__ = ["Scheduler", "Tick"]

log = logging.getLogger("kizuna.scheduler")


@dataclass(frozen=True, slots=True)
class Tick:
    """What one poll of the scheduler did.

    ``outcome``: ``not_yet`` (before the daily time), ``done`` (today's run
    already finished), ``busy`` (another process holds the daily lock),
    ``succeeded`` or ``failed`` (it ran today's run: ``run_id``).
    """

    day: date
    outcome: str
    run_id: int | None = None
    detail: str = ""


class Scheduler:
    """Runs the daily run for ``platform`` at ``settings.daily_time`` in the business timezone.

    ``steps`` replaces the run's step functions (tests); ``owner`` names this
    instance in the lock (default: host, process id and a random part).
    """

    def __init__(
        self,
        platform: Platform,
        *,
        owner: str | None = None,
        steps: dict[str, StepFunction] | None = None,
    ) -> None:
        self.platform = platform
        self.owner = owner or new_owner("scheduler")
        self.steps = steps
        hour, minute = platform.settings.daily_time.split(":")
        self.at = time(int(hour), int(minute))

    def _local_now(self) -> datetime:
        return self.platform.clock.now().astimezone(self.platform.settings.tz)

    def _finished_today(self, day: date) -> bool:
        with self.platform.store.session() as session:
            found = session.scalars(
                sa.select(DailyRunRecord.id).where(
                    DailyRunRecord.first_date == day,
                    DailyRunRecord.last_date == day,
                    DailyRunRecord.trigger == "scheduler",
                    DailyRunRecord.status.in_(("succeeded", "failed")),
                )
            ).first()
        return found is not None

    def tick(self) -> Tick:
        """Poll once: run today's daily run if it is due and no one else is running."""
        now = self._local_now()
        day = now.date()
        if now.time() < self.at:
            return Tick(day, "not_yet", detail=f"due at {self.at:%H:%M}")
        lock = StoreLock(
            self.platform.store,
            DAILY_LOCK,
            self.owner,
            ttl=self.platform.settings.daily_lock_seconds,
        )
        if not lock.acquire():
            holder = lock_holder(self.platform.store, DAILY_LOCK)
            return Tick(day, "busy", detail=holder.owner if holder else "")
        try:
            if self._finished_today(day):
                return Tick(day, "done")
            # run_daily takes the same lock for the same owner (re-entrant) and releases it.
            run = run_daily(
                self.platform, [day], steps=self.steps, trigger="scheduler", owner=self.owner
            )
        except DailyRunBusy as exc:
            return Tick(day, "busy", detail=exc.holder)
        except DailyStepFailed as exc:
            log.error("scheduled daily run for %s failed: %s", day, exc)
            return Tick(day, "failed", run_id=exc.run_id, detail=str(exc))
        finally:
            lock.release()
        log.info("scheduled daily run %s for %s succeeded in %.1f s", run.run_id, day, run.seconds)
        return Tick(day, "succeeded", run_id=run.run_id, detail=f"{run.seconds:.1f} s")

    def serve(
        self,
        stop: threading.Event,
        *,
        on_tick: Callable[[Tick], None] = lambda tick: None,
    ) -> None:
        """Poll until ``stop`` is set (a signal handler sets it)."""
        poll = self.platform.settings.scheduler_poll_seconds
        log.info(
            "scheduler %s: daily run at %s %s", self.owner, self.at, self.platform.settings.timezone
        )
        while not stop.is_set():
            try:
                on_tick(self.tick())
            except Exception:  # the store away for a moment: keep polling
                log.exception("scheduler poll failed")
            stop.wait(poll)
