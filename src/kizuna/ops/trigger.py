"""Start a daily run from a server (the API's and the UI's "run now").

The run goes to a background thread of the server process, after this call
has taken the daily lock for it, so a second request (on any server) is
refused at once with :class:`~kizuna.daily.DailyRunBusy` rather than queued.
Big books are better left to ``kizuna scheduler`` or ``kizuna daily``, which
run in their own process and do not share a worker's CPU with requests.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import date

from kizuna.daily import DailyRunBusy, run_daily
from kizuna.ops.locks import DAILY_LOCK, StoreLock, lock_holder, new_owner
from kizuna.platform import Platform

__all__ = ["start_daily_run"]

log = logging.getLogger("kizuna.ops")


def start_daily_run(
    platform: Platform, days: Sequence[date], *, trigger: str = "api"
) -> threading.Thread:
    """Take the daily lock and run ``days`` in a daemon thread; raises :class:`DailyRunBusy`.

    ``run_daily`` takes the same lock for the same owner (re-entrant) and frees
    it when it ends; a thread that dies first lets the lock expire.
    """
    owner = new_owner(trigger)
    lock = StoreLock(platform.store, DAILY_LOCK, owner, ttl=platform.settings.daily_lock_seconds)
    if not lock.acquire():
        holder = lock_holder(platform.store, DAILY_LOCK)
        raise DailyRunBusy(holder.owner if holder is not None else "its holder just finished")

    def work() -> None:
        try:
            run = run_daily(platform, list(days), trigger=trigger, owner=owner)
            log.info("daily run %s (%s) finished in %.1f s", run.run_id, trigger, run.seconds)
        except Exception:
            log.exception("daily run started by %s failed", trigger)

    thread = threading.Thread(target=work, name="kizuna-daily-run", daemon=True)
    thread.start()
    return thread
