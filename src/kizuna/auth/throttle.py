"""Login throttling: failed logins slow down, with backoff, in state the store shares.

Three counters answer three attacks, each with its own threshold
(``login_max_failures`` = N, 5 by default):

* ``pair:<e-mail>|<address>`` — N failures: one client guessing one user's password;
* ``address:<address>`` — 4 N failures: one client trying many users (spraying);
* ``account:<e-mail>`` — 10 N failures: many clients guessing one user's password.

Once a counter reaches its threshold, logins under that key are refused (429
with ``Retry-After``) for ``login_backoff_seconds``, doubling with each further
failure up to ``login_backoff_max_seconds``. A refused login is not checked (no
argon2 work) and not counted, so waiting always ends a block, and a block never
outlasts the cap after the last failure: an attacker can slow a real user down
for at most that long, never lock them out for good — and from another address
the real user meets only the account counter, whose threshold is ten times
higher. A successful login clears the pair and account counters; counters also
restart after a day without failures.

The counters live in the store, so every worker and server shares them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import sqlalchemy as sa

from kizuna.errors import TooManyRequests
from kizuna.platform import Platform
from kizuna.store.hardening_models import LoginThrottle

__all__ = ["check_login_allowed", "guarded_login", "record_login_failure", "record_login_success"]

#: Counters with no failure for this long start again from zero.
FORGET_AFTER = timedelta(days=1)
_MAX_KEY = 450


def _keys(email: str, address: str | None) -> dict[str, int]:
    """Key -> threshold multiplier for this login attempt."""
    email = email.strip().lower()
    address = address or "unknown"
    keys = {f"account:{email}"[:_MAX_KEY]: 10, f"address:{address}"[:_MAX_KEY]: 4}
    keys[f"pair:{email}|{address}"[:_MAX_KEY]] = 1
    return keys


def check_login_allowed(platform: Platform, email: str, address: str | None) -> None:
    """Raise :class:`TooManyRequests` if any counter of this attempt is blocked now."""
    now = platform.clock.now()
    with platform.store.session() as session:
        blocked: list[datetime] = [
            until
            for until in session.scalars(
                sa.select(LoginThrottle.blocked_until).where(
                    LoginThrottle.key.in_(list(_keys(email, address))),
                    LoginThrottle.blocked_until > now,
                )
            )
            if until is not None
        ]
    if blocked:
        wait = math.ceil((max(blocked) - now).total_seconds())
        raise TooManyRequests(
            f"too many failed logins; try again in {wait} seconds", retry_after=wait
        )


def record_login_failure(platform: Platform, email: str, address: str | None) -> None:
    """Count a failed login under each of its keys and start a backoff where due."""
    settings = platform.settings
    now = platform.clock.now()
    for key, multiplier in _keys(email, address).items():
        threshold = settings.login_max_failures * multiplier
        for _attempt in range(2):  # a concurrent first failure may insert the row first
            try:
                with platform.store.session() as session:
                    row = session.execute(
                        sa.select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
                    ).scalar_one_or_none()
                    if row is None:
                        row = LoginThrottle(key=key, failures=0, last_failure_at=now)
                        session.add(row)
                    elif now - row.last_failure_at > FORGET_AFTER:
                        row.failures = 0
                    row.failures += 1
                    row.last_failure_at = now
                    if row.failures >= threshold:
                        doublings = min(row.failures - threshold, 30)
                        seconds = min(
                            settings.login_backoff_seconds * 2**doublings,
                            settings.login_backoff_max_seconds,
                        )
                        row.blocked_until = now + timedelta(seconds=seconds)
                break
            except sa.exc.IntegrityError:
                continue


def record_login_success(platform: Platform, email: str, address: str | None) -> None:
    """Clear the account's counters (not the address's: one good login must not
    let a client go on spraying other users)."""
    keys = [k for k in _keys(email, address) if not k.startswith("address:")]
    with platform.store.session() as session:
        session.execute(sa.delete(LoginThrottle).where(LoginThrottle.key.in_(keys)))


@contextmanager
def guarded_login(platform: Platform, email: str, address: str | None) -> Iterator[None]:
    """Check the throttle, then run the login inside; count its failure or success.

    A :class:`~kizuna.errors.PermissionDenied` raised inside counts as a failure
    and is re-raised.
    """
    from kizuna.errors import PermissionDenied

    check_login_allowed(platform, email, address)
    try:
        yield
    except PermissionDenied:
        record_login_failure(platform, email, address)
        raise
    record_login_success(platform, email, address)
