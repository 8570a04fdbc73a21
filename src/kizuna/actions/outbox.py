"""The notification outbox: every notification is a row before it is sent.

A message is written in the same transaction as the change it reports, with a
``delivery_id`` receivers dedupe on; a sender delivers pending rows and marks
them sent. A crash between "delivered" and "marked sent" re-sends the same
delivery id, which the receiver drops, so nothing is lost and nothing counts
twice. Failures stay visible (``kizuna outbox list``) and ``retry`` re-queues them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kizuna.errors import InvalidInput, NotFound, Problem
from kizuna.platform import Platform
from kizuna.store.actions_models import OutboxMessage

__all__ = ["OUTBOX_STATUSES", "OutboxEntry", "enqueue", "list_outbox", "retry_outbox"]

OUTBOX_STATUSES = ("pending", "sent", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    delivery_id: str
    channel: str
    target: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    sent_at: datetime | None
    created_at: datetime


def enqueue(
    session: Session, channel: str, target: str, payload: dict[str, Any], now: datetime
) -> str:
    """Add a message to the outbox in the caller's transaction; returns its delivery id."""
    delivery_id = uuid.uuid4().hex
    session.add(
        OutboxMessage(
            delivery_id=delivery_id,
            channel=channel,
            target=target,
            payload=payload,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    return delivery_id


def _entry(m: OutboxMessage) -> OutboxEntry:
    return OutboxEntry(
        m.id, m.delivery_id, m.channel, m.target, m.status, m.attempts, m.last_error,
        m.next_attempt_at, m.sent_at, m.created_at,
    )  # fmt: skip


def list_outbox(
    platform: Platform, status: str | None = None, limit: int = 200
) -> list[OutboxEntry]:
    """Outbox messages, newest first (optionally of one status)."""
    if status is not None and status not in OUTBOX_STATUSES:
        raise InvalidInput(
            "invalid status",
            [Problem(f"status must be one of {', '.join(OUTBOX_STATUSES)}", field="status")],
        )
    query = sa.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    with platform.store.session() as session:
        return [_entry(m) for m in session.scalars(query)]


def retry_outbox(platform: Platform, message_id: int | None = None) -> int:
    """Put failed messages (or one message) back in the queue, due now; returns how many."""
    now = platform.clock.now()
    with platform.store.session() as session:
        query = sa.select(OutboxMessage).where(OutboxMessage.status == "failed")
        if message_id is not None:
            message = session.get(OutboxMessage, message_id)
            if message is None:
                raise NotFound(f"no outbox message {message_id}")
            if message.status == "sent":
                return 0
            query = sa.select(OutboxMessage).where(OutboxMessage.id == message_id)
        count = 0
        for message in session.scalars(query):
            message.status, message.next_attempt_at, message.attempts = "pending", now, 0
            count += 1
        return count
