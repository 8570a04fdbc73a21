"""Store tables of the lifecycle capability (issue 6).

* :class:`MilestoneCompletion` — user data (manual completions, with who and
  when) and computed data (automatic completions, with the condition that
  closed the milestone). A recompute replaces automatic rows only.
* :class:`StageTransition` — computed: an account moved from one stage to
  another on a date, and why. Recomputing a date range replaces the
  transitions in that range.
* :class:`LifecycleRun` — the dates a computation covered, so the next daily
  run knows where to continue.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.store.models import Base, UTCDateTime


def _now() -> datetime:
    return datetime.now(UTC)


class CompletionSource(enum.StrEnum):
    MANUAL = "manual"
    AUTOMATIC = "automatic"


class MilestoneCompletion(Base):
    """An onboarding milestone completed for an account on ``completed_on``."""

    __tablename__ = "milestone_completions"
    __table_args__ = (
        sa.UniqueConstraint(
            "account_id", "milestone_id", "source", name="uq_milestone_completions_account_source"
        ),
    )

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    account_id: Mapped[str] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    milestone_id: Mapped[str] = mapped_column(sa.String(64))
    source: Mapped[CompletionSource] = mapped_column(
        sa.Enum(
            CompletionSource,
            name="completion_source",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda e: [m.value for m in e],
            validate_strings=True,
        )
    )
    completed_on: Mapped[date] = mapped_column(sa.Date)
    # manual: who completed it (a team member id or a name); automatic: None
    completed_by: Mapped[str | None] = mapped_column(sa.String(200))
    # automatic: the condition that closed it, e.g. "distinct_users of login (7d) >= 10"
    condition: Mapped[str | None] = mapped_column(sa.Text)
    note: Mapped[str | None] = mapped_column(sa.Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class StageTransition(Base):
    """An account entered ``to_stage`` on ``transition_date`` (from ``from_stage``)."""

    __tablename__ = "stage_transitions"
    __table_args__ = (
        sa.UniqueConstraint(
            "account_id", "transition_date", name="uq_stage_transitions_account_date"
        ),
    )

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    account_id: Mapped[str] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    transition_date: Mapped[date] = mapped_column(sa.Date)
    from_stage: Mapped[str | None] = mapped_column(sa.String(64))
    to_stage: Mapped[str] = mapped_column(sa.String(64))
    reason: Mapped[str] = mapped_column(sa.Text)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class LifecycleRun(Base):
    """One ``lifecycle compute``: it evaluated every day in [from_date, as_of]."""

    __tablename__ = "lifecycle_runs"

    as_of: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    from_date: Mapped[date] = mapped_column(sa.Date)
    accounts: Mapped[int] = mapped_column(sa.Integer)
    transitions: Mapped[int] = mapped_column(sa.Integer)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
