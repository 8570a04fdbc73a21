"""Store tables of revenue work (issue 18): opportunities and their stage history.

* :class:`Opportunity` — user data: a renewal, upsell, cross-sell or downsell
  with its amount, stage, owner and outcome. Automatic renewal opportunities are
  made by :func:`kizuna.revenue.open_renewals`; CRM imports upsert on ``id``.
* :class:`OpportunityStageChange` — every stage an opportunity entered, when
  and by whom (the pipeline's history; never rewritten).

Contract lines stay the truth for ARR: an opportunity only points at the line it
renews (``renews_line_id``) and, once won, at the line that carries the booked
ARR (``line_id``).
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.store.models import Base, Money, TimestampMixin, UTCDateTime


def _now() -> datetime:
    return datetime.now(UTC)


class OpportunityType(enum.StrEnum):
    RENEWAL = "renewal"
    UPSELL = "upsell"
    CROSS_SELL = "cross_sell"
    DOWNSELL = "downsell"


class OpportunitySource(enum.StrEnum):
    AUTOMATIC = "automatic"  # opened by Kizuna before a contract line ends
    CTA = "cta"  # from a call to action
    MANUAL = "manual"
    CRM = "crm"  # a Salesforce or HubSpot import


class OpportunityStatus(enum.StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


def _enum(cls: type[enum.StrEnum], name: str) -> sa.Enum:
    return sa.Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Opportunity(TimestampMixin, Base):
    """A chance to renew, grow or (downsell) shrink an account's ARR."""

    __tablename__ = "opportunities"
    __table_args__ = (
        sa.Index("ix_opportunities_status_close", "status", "expected_close_date"),
        sa.Index("ix_opportunities_closed_on", "closed_on"),
    )

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(300))
    type: Mapped[OpportunityType] = mapped_column(_enum(OpportunityType, "opportunity_type"))
    products: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # the change of ARR if won (negative for a downsell) and the ARR after it
    arr_change: Mapped[Decimal] = mapped_column(Money())
    arr_total: Mapped[Decimal | None] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(sa.String(3))
    stage: Mapped[str] = mapped_column(sa.String(64))
    # None: the pipeline's default probability of the stage
    probability: Mapped[float | None] = mapped_column(sa.Float)
    expected_close_date: Mapped[date] = mapped_column(sa.Date)
    owner_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("team_members.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[OpportunitySource] = mapped_column(
        _enum(OpportunitySource, "opportunity_source")
    )
    external_id: Mapped[str | None] = mapped_column(sa.String(128))
    status: Mapped[OpportunityStatus] = mapped_column(
        _enum(OpportunityStatus, "opportunity_status"), default=OpportunityStatus.OPEN
    )
    closed_on: Mapped[date | None] = mapped_column(sa.Date)
    close_reason: Mapped[str | None] = mapped_column(sa.Text)
    renews_line_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("contract_lines.id", ondelete="SET NULL"), unique=True
    )
    line_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("contract_lines.id", ondelete="SET NULL")
    )
    attributes: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class OpportunityStageChange(Base):
    """An opportunity entered ``to_stage`` on ``changed_on``."""

    __tablename__ = "opportunity_stage_changes"

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    opportunity_id: Mapped[str] = mapped_column(
        sa.ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    from_stage: Mapped[str | None] = mapped_column(sa.String(64))
    to_stage: Mapped[str] = mapped_column(sa.String(64))
    changed_on: Mapped[date] = mapped_column(sa.Date)
    changed_by: Mapped[str | None] = mapped_column(sa.String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
