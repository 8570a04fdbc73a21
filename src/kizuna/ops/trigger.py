"""Start a daily run from a server (the API's and the UI's "run now").

The run goes to a process of its own (``python -m kizuna daily``), after this
call has taken the daily lock for it, so a second request (on any server) is
refused at once with :class:`~kizuna.daily.DailyRunBusy` rather than queued.
A process rather than a thread of the worker: the run never shares a worker's
CPU, memory or thread-bound connections (the lake's index), and a run that
crashes leaves the server alone. The child inherits this server's settings
through ``KIZUNA_*`` environment variables and the lock's owner name, so its
``run_daily`` takes the lock it was given (re-entrant) and frees it at the end;
a child that never starts lets the lock expire.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from pydantic import SecretStr

from kizuna.daily import DailyRunBusy
from kizuna.ops.locks import DAILY_LOCK, StoreLock, lock_holder, new_owner
from kizuna.platform import Platform
from kizuna.settings import Settings

__all__ = ["settings_environment", "start_cli_child", "start_daily_run"]

log = logging.getLogger("kizuna.ops")


def settings_environment(settings: Settings) -> dict[str, str]:
    """``settings`` as the ``KIZUNA_*`` environment variables that rebuild them."""
    env: dict[str, str] = {"KIZUNA_DATABASE_URL": settings.store_url}
    for name in Settings.model_fields:
        value: Any = getattr(settings, name)
        if value is None or name == "database_url":
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, list | dict):
            text = json.dumps(value)
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        env[f"KIZUNA_{name.upper()}"] = text
    return env


def start_daily_run(
    platform: Platform, days: Sequence[date], *, trigger: str = "api"
) -> threading.Thread:
    """Take the daily lock and run ``days`` in a child process; raises :class:`DailyRunBusy`.

    Returns the thread that waits for the child (named ``kizuna-daily-run``).
    """
    owner = new_owner(trigger)
    lock = StoreLock(platform.store, DAILY_LOCK, owner, ttl=platform.settings.daily_lock_seconds)
    if not lock.acquire():
        holder = lock_holder(platform.store, DAILY_LOCK)
        raise DailyRunBusy(holder.owner if holder is not None else "its holder just finished")
    days = sorted(days)
    dates = (
        ["--as-of", days[0].isoformat()]
        if len(days) == 1
        else ["--from", days[0].isoformat(), "--to", days[-1].isoformat()]
    )
    step = (days[1] - days[0]).days if len(days) > 1 else 1
    command = [
        "daily",
        *dates,
        *(["--step", str(step)] if step > 1 else []),
        "--trigger",
        trigger,
        "--owner",
        owner,
        "--json",
    ]

    def finished(returncode: int, err: str) -> None:
        if returncode:
            log.error("daily run started by %s failed: %s", trigger, err.strip()[-2000:])

    return start_cli_child(platform.settings, command, "kizuna-daily-run", finished)


def start_cli_child(
    settings: Settings,
    args: Sequence[str],
    thread_name: str,
    finished: Callable[[int, str], None],
) -> threading.Thread:
    """Run ``python -m kizuna ARGS`` with ``settings`` in a process of its own.

    A thread named ``thread_name`` waits for it and calls ``finished(returncode,
    stderr)``; the thread is returned. Raises what :class:`subprocess.Popen` raises
    when the process cannot start.
    """
    env = {**os.environ, **settings_environment(settings)}
    child = subprocess.Popen(
        [sys.executable, "-m", "kizuna", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    def wait() -> None:
        _, err = child.communicate()
        finished(child.returncode, err or "")

    thread = threading.Thread(target=wait, name=thread_name, daemon=True)
    thread.start()
    return thread
