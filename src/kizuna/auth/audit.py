"""The audit log: every write and every denied request, with who, what and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kizuna.auth.policy import Caller
from kizuna.platform import Platform
from kizuna.store.auth_models import AuditRecord


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit log as shown to people."""

    id: int
    at: datetime
    actor_id: str | None
    action: str
    resource: str
    resource_id: str | None
    account_id: str | None
    allowed: bool
    request_id: str | None
    detail: str | None


def add_audit(
    session: Session,
    platform: Platform,
    caller: Caller | None,
    *,
    action: str,
    resource: str,
    resource_id: str | None = None,
    account_id: str | None = None,
    allowed: bool = True,
    detail: str | None = None,
    actor_id: str | None = None,
) -> None:
    """Add an audit record to ``session`` (committed with the change it records)."""
    session.add(
        AuditRecord(
            at=platform.clock.now(),
            actor_id=caller.principal.member_id if caller else actor_id,
            action=action,
            resource=resource,
            resource_id=resource_id,
            account_id=account_id,
            allowed=allowed,
            request_id=caller.request_id if caller else None,
            detail=detail,
        )
    )


def record_audit(platform: Platform, caller: Caller | None, **fields: object) -> None:
    """Write one audit record in its own transaction (used for denials)."""
    with platform.store.session() as session:
        add_audit(session, platform, caller, **fields)  # type: ignore[arg-type]


def list_audit(
    platform: Platform, *, actor_id: str | None = None, limit: int = 100, offset: int = 0
) -> list[AuditEntry]:
    """The newest audit records first, optionally of one actor."""
    query = sa.select(AuditRecord).order_by(AuditRecord.id.desc()).limit(limit).offset(offset)
    if actor_id is not None:
        query = query.where(AuditRecord.actor_id == actor_id)
    with platform.store.session() as session:
        return [
            AuditEntry(
                id=r.id,
                at=r.at,
                actor_id=r.actor_id,
                action=r.action,
                resource=r.resource,
                resource_id=r.resource_id,
                account_id=r.account_id,
                allowed=r.allowed,
                request_id=r.request_id,
                detail=r.detail,
            )
            for r in session.scalars(query)
        ]
