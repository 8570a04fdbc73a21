"""Store tables for UI sessions and login throttling (issue 13).

Both live in the store so that every worker and every server behind a load
balancer shares them: a session ended in one worker is ended everywhere, and
failed logins count once however they are spread over workers.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.store.models import Base, UTCDateTime


class UiSession(Base):
    """A login session: the cookie carries a random id, the store its SHA-256 digest.

    A session is valid while not revoked and not expired; logging out, changing
    the password and deactivating the user revoke it.
    """

    __tablename__ = "ui_sessions"

    id_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    member_id: Mapped[str] = mapped_column(
        sa.ForeignKey("team_members.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginThrottle(Base):
    """Failed logins under one key (an e-mail, an address, or both) and the backoff."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(sa.String(450), primary_key=True)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime())
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
