"""Store tables for users' credentials, API tokens, event sources and the audit log.

Secrets are never stored: passwords as argon2 hashes, API tokens and event-source
write keys as SHA-256 hex digests of random values (a digest is enough for a
256-bit random secret; argon2 is for human-chosen passwords).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.store.models import Base, UTCDateTime


def _now() -> datetime:
    return datetime.now(UTC)


class UserCredential(Base):
    """A team member's login password (argon2 hash)."""

    __tablename__ = "user_credentials"

    member_id: Mapped[str] = mapped_column(
        sa.ForeignKey("team_members.id", ondelete="CASCADE"), primary_key=True
    )
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class ApiToken(Base):
    """A personal API token: shown once at creation, stored as its SHA-256 digest."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    member_id: Mapped[str] = mapped_column(
        sa.ForeignKey("team_members.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EventSource(Base):
    """A system that sends usage events, identified by its write key (stored hashed)."""

    __tablename__ = "event_sources"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    write_key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditRecord(Base):
    """One audited request: who did (or tried) what to which resource, and when."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_actor_at", "actor_id", "at"),)

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # No foreign keys: the log outlives the users, accounts and tokens it mentions.
    actor_id: Mapped[str | None] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(32))
    resource: Mapped[str] = mapped_column(sa.String(64))
    resource_id: Mapped[str | None] = mapped_column(sa.String(128))
    account_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    allowed: Mapped[bool] = mapped_column(sa.Boolean)
    request_id: Mapped[str | None] = mapped_column(sa.String(64))
    detail: Mapped[str | None] = mapped_column(sa.Text)


AUTH_MODELS: tuple[type[Base], ...] = (UserCredential, ApiToken, EventSource, AuditRecord)
