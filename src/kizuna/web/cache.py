"""Book-wide figures kept in memory by the UI, refreshed in the background.

Figures over the whole book (per-account facts, every account's onboarding
outcome, retention reports) take from a fraction of a second to many seconds
to compute; pages read them from a :class:`BookCache`:

* ``get`` returns a cached value at once. Once older than the cache's ``ttl``
  it is still returned while one background thread recomputes it (stale while
  revalidate). Only a value never computed is computed in the request, and
  concurrent requests for it wait for that one computation (single flight)
  instead of each starting their own.
* ``peek`` never makes a request wait: a value not computed yet is started in
  the background and ``None`` returned, so the page can say "being computed".
* ``expire`` marks one value stale after a change (it is recomputed in the
  background, the old one served meanwhile); ``clear`` forgets everything. A
  computation that started before either does not write its older result back.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("kizuna.web")


@contextmanager
def quiet_engine() -> Iterator[None]:
    """Silence the deprecation warnings DuckDB 2 raises for APIs Ibis 12 still calls.

    pytest runs with warnings as errors, and these say nothing about Kizuna's code
    (see :mod:`kizuna.engine`).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".* is deprecated, use .* instead", category=DeprecationWarning
        )
        yield


class BookCache:
    """Values by key, each computed once and refreshed in the background after ``ttl`` seconds."""

    def __init__(self, ttl: float, *, background: bool = True) -> None:
        self.ttl = ttl
        #: False: stale and missing values are computed in the request (tests, scripts).
        self.background = background
        self._lock = threading.Lock()
        self._entries: dict[Any, tuple[float, Any]] = {}
        self._running: dict[Any, threading.Event] = {}
        self._versions: dict[Any, int] = {}
        self._generation = 0

    def _version(self, key: Any) -> tuple[int, int]:
        return self._generation, self._versions.get(key, 0)

    def _start(self, key: Any, compute: Callable[[], Any]) -> threading.Event:
        """Start computing ``key`` in a thread (caller holds the lock)."""
        done = threading.Event()
        self._running[key] = done
        version = self._version(key)
        threading.Thread(target=self._run, args=(key, compute, version, done), daemon=True).start()
        return done

    def _run(
        self, key: Any, compute: Callable[[], Any], version: tuple[int, int], done: threading.Event
    ) -> None:
        try:
            with quiet_engine():
                value = compute()
        except Exception:  # a failed refresh keeps serving the last good result
            log.exception("computing %r failed", key)
        else:
            self._store(key, value, version)
        finally:
            with self._lock:
                if self._running.get(key) is done:
                    del self._running[key]
            done.set()

    def _store(self, key: Any, value: Any, version: tuple[int, int]) -> None:
        with self._lock:
            if version == self._version(key):
                self._entries[key] = (time.monotonic(), value)

    def _lookup(self, key: Any, compute: Callable[[], Any]) -> tuple[bool, Any]:
        """(found, value); starts a background refresh of a stale value (caller holds the lock)."""
        hit = self._entries.get(key)
        if hit is None:
            return False, None
        if time.monotonic() - hit[0] >= self.ttl:
            if not self.background:
                return False, None
            if key not in self._running:
                self._start(key, compute)
        return True, hit[1]

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        """The value of ``key``, computed now (once for all concurrent callers) if never before."""
        while True:
            with self._lock:
                found, value = self._lookup(key, compute)
                if found:
                    return value
                running = self._running.get(key)
                if running is None:
                    # Compute in this request; others asking meanwhile wait on ``mine``.
                    mine = threading.Event()
                    self._running[key] = mine
                    version = self._version(key)
                    break
            running.wait()
            with self._lock:
                found, value = self._lookup(key, compute)
            if found:
                return value
            # The computation failed or was discarded by a clear: try again ourselves.
        try:
            value = compute()
            self._store(key, value, version)
            return value
        finally:
            with self._lock:
                if self._running.get(key) is mine:
                    del self._running[key]
            mine.set()

    def peek(self, key: Any, compute: Callable[[], Any]) -> Any | None:
        """The value of ``key`` if computed, else None while it is computed in the background."""
        if not self.background:
            return self.get(key, compute)
        with self._lock:
            found, value = self._lookup(key, compute)
            if found:
                return value
            if key not in self._running:
                self._start(key, compute)
        return None

    def settle(self, timeout: float | None = None) -> None:
        """Wait until no computation is running (benchmarks, tests)."""
        while True:
            with self._lock:
                running = list(self._running.values())
            if not running:
                return
            for event in running:
                event.wait(timeout)

    def expire(self, key: Any) -> None:
        """Make ``key`` stale: served until a recomputation (started at the next read) lands."""
        with self._lock:
            self._versions[key] = self._versions.get(key, 0) + 1
            hit = self._entries.get(key)
            if hit is not None:
                self._entries[key] = (-float("inf"), hit[1])

    def discard(self, key: Any) -> None:
        """Forget ``key`` (the next read computes it again)."""
        with self._lock:
            self._versions[key] = self._versions.get(key, 0) + 1
            self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget every value; running computations do not write back."""
        with self._lock:
            self._entries.clear()
            self._generation += 1
