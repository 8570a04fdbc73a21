"""Store table for a CSM's manual sentiment about an account (issue 4, health).

A sentiment is user data, not a computed number: the CSM's own read of the
account, with a comment saying why and an expiry after which it no longer
counts. Health scorecards read the newest unexpired entry as of a date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.store.models import Base, UTCDateTime


def _now() -> datetime:
    return datetime.now(UTC)


class ManualSentiment(Base):
    """A CSM's sentiment about an account: 1 (very negative) to 5 (very positive).

    ``entered_at`` decides from which business day the entry counts;
    ``expires_on`` (inclusive, optional) is the last day it counts.
    """

    __tablename__ = "health_sentiments"
    __table_args__ = (
        sa.CheckConstraint("value >= 1 AND value <= 5", name="value_1_to_5"),
        sa.Index("ix_health_sentiments_account_entered", "account_id", "entered_at"),
    )

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id", ondelete="CASCADE"))
    value: Mapped[int] = mapped_column(sa.SmallInteger)
    comment: Mapped[str | None] = mapped_column(sa.Text)
    author: Mapped[str] = mapped_column(sa.String(200))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    expires_on: Mapped[date | None] = mapped_column(sa.Date)
