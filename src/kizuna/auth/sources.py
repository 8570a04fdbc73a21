"""Event sources: systems that send usage events, each with its own write key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from kizuna.auth.keys import digest, new_id, new_secret
from kizuna.errors import Conflict, NotFound, PermissionDenied
from kizuna.platform import Platform
from kizuna.store.auth_models import EventSource

WRITE_KEY_PREFIX = "kzw_"


@dataclass(frozen=True, slots=True)
class Source:
    """An event source as listed (its write key is never kept)."""

    id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewSource:
    """A freshly added source: ``write_key`` is shown this once and never again."""

    source: Source
    write_key: str


def add_source(platform: Platform, name: str) -> NewSource:
    """Register an event source and make its write key."""
    write_key = new_secret(WRITE_KEY_PREFIX)
    with platform.store.session() as session:
        if session.scalar(sa.select(EventSource.id).where(EventSource.name == name)):
            raise Conflict(f"an event source named {name!r} already exists")
        row = EventSource(
            id=new_id(),
            name=name,
            write_key_hash=digest(write_key),
            created_at=platform.clock.now(),
        )
        session.add(row)
        session.flush()
        return NewSource(source=_source(row), write_key=write_key)


def list_sources(platform: Platform) -> list[Source]:
    """Every event source, by name."""
    with platform.store.session() as session:
        return [
            _source(r) for r in session.scalars(sa.select(EventSource).order_by(EventSource.name))
        ]


def revoke_source(platform: Platform, source_id: str) -> Source:
    """Stop accepting events with this source's write key."""
    with platform.store.session() as session:
        row = session.get(EventSource, source_id)
        if row is None:
            raise NotFound(f"no event source {source_id}")
        if row.revoked_at is None:
            row.revoked_at = platform.clock.now()
        return _source(row)


def authenticate_write_key(platform: Platform, write_key: str) -> Source:
    """The active source this write key belongs to; PermissionDenied otherwise."""
    with platform.store.session() as session:
        row = session.scalar(
            sa.select(EventSource).where(EventSource.write_key_hash == digest(write_key))
        )
        if row is None or row.revoked_at is not None:
            raise PermissionDenied("unknown or revoked write key")
        return _source(row)


def _source(row: EventSource) -> Source:
    return Source(id=row.id, name=row.name, created_at=row.created_at, revoked_at=row.revoked_at)
