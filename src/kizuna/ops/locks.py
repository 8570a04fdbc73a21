"""A named lock in the store, shared by every process that reaches the store.

One row per lock: its owner and when it expires. Taking the lock is one
``INSERT`` (the row is new) or one conditional ``UPDATE`` (the row has expired,
or the owner already holds it); both are atomic on SQLite and PostgreSQL, so of
two processes racing for the lock exactly one gets it. The holder renews the
lock (:meth:`StoreLock.renew`) more often than it expires; a holder that dies
stops renewing and the lock falls free after ``ttl`` seconds.

Times here are wall-clock time (:class:`~kizuna.clock.SystemClock` by default):
a lock is about real processes, not about the business date a run computes.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from kizuna.clock import Clock, SystemClock
from kizuna.store.db import Store
from kizuna.store.ops_models import OpsLock

__all__ = ["DAILY_LOCK", "LockHolder", "StoreLock", "lock_holder", "new_owner"]

#: The lock every daily run takes (``kizuna daily``, the scheduler, the API).
DAILY_LOCK = "daily-run"


def new_owner(kind: str = "daily") -> str:
    """An owner name unique to this process and call: ``kind@host:pid:random``."""
    return f"{kind}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds a lock and until when (UTC)."""

    name: str
    owner: str
    acquired_at: datetime
    expires_at: datetime


def lock_holder(store: Store, name: str, clock: Clock | None = None) -> LockHolder | None:
    """The live holder of lock ``name``, or ``None`` when it is free or expired."""
    now = (clock or SystemClock()).now()
    with store.session() as session:
        row = session.get(OpsLock, name)
        if row is None or row.expires_at <= now:
            return None
        return LockHolder(row.name, row.owner, row.acquired_at, row.expires_at)


class StoreLock:
    """Lock ``name`` for ``owner``, valid ``ttl`` seconds after each renewal.

    Use :meth:`acquire` / :meth:`release`, or :meth:`keep_alive` to renew it
    from a background thread while a long job runs.
    """

    def __init__(
        self,
        store: Store,
        name: str,
        owner: str,
        *,
        ttl: float = 120.0,
        clock: Clock | None = None,
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.store = store
        self.name = name
        self.owner = owner
        self.ttl = ttl
        self.clock = clock or SystemClock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False

    def acquire(self) -> bool:
        """Take the lock if it is free, expired or already ours; ``True`` when held."""
        now = self.clock.now()
        expires = now + timedelta(seconds=self.ttl)
        try:
            with self.store.engine.begin() as conn:
                conn.execute(
                    sa.insert(OpsLock).values(
                        name=self.name, owner=self.owner, acquired_at=now, expires_at=expires
                    )
                )
            return True
        except IntegrityError:
            pass
        with self.store.engine.begin() as conn:
            taken = conn.execute(
                sa.update(OpsLock)
                .where(
                    OpsLock.name == self.name,
                    sa.or_(OpsLock.expires_at <= now, OpsLock.owner == self.owner),
                )
                .values(owner=self.owner, acquired_at=now, expires_at=expires)
            )
            return taken.rowcount == 1

    def renew(self) -> bool:
        """Push the expiry ``ttl`` seconds ahead; ``False`` if the lock is no longer ours."""
        with self.store.engine.begin() as conn:
            done = conn.execute(
                sa.update(OpsLock)
                .where(OpsLock.name == self.name, OpsLock.owner == self.owner)
                .values(expires_at=self.clock.now() + timedelta(seconds=self.ttl))
            )
        return done.rowcount == 1

    def release(self) -> None:
        """Stop renewing and free the lock (if it is still ours)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self.store.engine.begin() as conn:
            conn.execute(
                sa.delete(OpsLock).where(OpsLock.name == self.name, OpsLock.owner == self.owner)
            )

    def keep_alive(self, also: list[object] | None = None) -> None:
        """Renew the lock every third of ``ttl`` from a daemon thread until :meth:`release`.

        Calls each callable in ``also`` at every renewal (the run log's heartbeat).
        """
        self._stop.clear()

        def beat() -> None:
            while not self._stop.wait(self.ttl / 3):
                try:
                    if not self.renew():
                        self.lost = True
                    for call in also or []:
                        if callable(call):
                            call()
                except Exception:  # a store hiccup: try again at the next beat
                    continue

        self._thread = threading.Thread(target=beat, name=f"lock-{self.name}", daemon=True)
        self._thread.start()
