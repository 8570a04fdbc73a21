"""Server-side UI sessions: a session ends when the user logs out, changes their
password or is deactivated — not only when its cookie expires.

The signed cookie (:mod:`kizuna.api.sessions`) carries a random session id; the
store keeps its SHA-256 digest with the member, the expiry and, once ended, the
revocation time. Every request checks the store, so a session ended in one
worker is ended in all of them.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa

from kizuna.auth.policy import Principal
from kizuna.errors import PermissionDenied
from kizuna.platform import Platform
from kizuna.store.hardening_models import UiSession

__all__ = [
    "SESSION_HOURS",
    "end_member_sessions",
    "end_session",
    "session_member",
    "session_principal",
    "start_session",
]

#: How long a session lasts at most (the cookie's own lifetime is the same).
SESSION_HOURS = 12


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(platform: Platform, member_id: str) -> str:
    """A new session for ``member_id``; returns its id (for the cookie only)."""
    session_id = secrets.token_urlsafe(32)
    now = platform.clock.now()
    with platform.store.session() as session:
        session.add(
            UiSession(
                id_hash=_digest(session_id),
                member_id=member_id,
                created_at=now,
                expires_at=now + timedelta(hours=SESSION_HOURS),
            )
        )
    return session_id


def session_member(platform: Platform, session_id: str) -> str | None:
    """The member of a live session (not ended, not expired), else None."""
    now = platform.clock.now()
    with platform.store.engine.connect() as conn:
        return conn.execute(
            sa.select(UiSession.member_id).where(
                UiSession.id_hash == _digest(session_id),
                UiSession.revoked_at.is_(None),
                UiSession.expires_at > now,
            )
        ).scalar_one_or_none()


def session_principal(platform: Platform, session_id: str, member_id: str) -> Principal:
    """The principal of a live session of ``member_id``; PermissionDenied when the
    session ended (logout, password change, deactivation) or expired."""
    from kizuna.auth.users import get_principal

    if not session_id or session_member(platform, session_id) != member_id:
        raise PermissionDenied("the session has ended: log in again")
    return get_principal(platform, member_id)


def end_session(platform: Platform, session_id: str) -> None:
    """End one session (logout)."""
    with platform.store.session() as session:
        session.execute(
            sa.update(UiSession)
            .where(UiSession.id_hash == _digest(session_id), UiSession.revoked_at.is_(None))
            .values(revoked_at=platform.clock.now())
        )


def end_member_sessions(platform: Platform, member_id: str) -> int:
    """End every session of ``member_id`` (password change, deactivation); how many."""
    now = platform.clock.now()
    with platform.store.session() as session:
        result = session.execute(
            sa.update(UiSession)
            .where(UiSession.member_id == member_id, UiSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        # Sessions long expired are only history: keep the table small.
        session.execute(sa.delete(UiSession).where(UiSession.expires_at < now - timedelta(days=30)))
        return int(getattr(result, "rowcount", 0) or 0)
