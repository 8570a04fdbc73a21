"""Store tables of success plans (issue 14, seed 001's 成果支援計画書).

Everything here is user data except :class:`PlanStatusSnapshot` (computed per
date by the daily run, like health snapshots). A plan's parts hang off
``plans.id`` with ``ON DELETE CASCADE``; the customer's side of the project
structure is not stored here: it is the contacts' ``success_role`` (one source
of truth), and the vendor's side is :class:`PlanRole`.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.store.models import Base, UTCDateTime


def _now() -> datetime:
    return datetime.now(UTC)


def _text_enum(cls: type[enum.StrEnum], name: str) -> sa.Enum:
    return sa.Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


def _int_id() -> Mapped[int]:
    return mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    )


def _plan_fk() -> Mapped[str]:
    return mapped_column(sa.ForeignKey("plans.id", ondelete="CASCADE"), index=True)


class PlanState(enum.StrEnum):
    """Where a plan is in its life: at most one ``active`` plan per account."""

    PROPOSED = "proposed"  # proposed when the previous plan's KGI was reached
    ACTIVE = "active"
    ACHIEVED = "achieved"  # its KGI reached its target (closed, history kept)
    CLOSED = "closed"  # closed by a user


class Direction(enum.StrEnum):
    HIGHER = "higher"  # higher is better
    LOWER = "lower"


class Cadence(enum.StrEnum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"


class MilestoneState(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class Plan(Base):
    """A success plan of an account, created from a template."""

    __tablename__ = "plans"
    __table_args__ = (sa.Index("ix_plans_account_state", "account_id", "state"),)

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id", ondelete="CASCADE"))
    template: Mapped[str] = mapped_column(sa.String(64))
    title: Mapped[str] = mapped_column(sa.String(300))
    language: Mapped[str] = mapped_column(sa.String(2), default="en")
    state: Mapped[PlanState] = mapped_column(
        _text_enum(PlanState, "plan_state"), default=PlanState.ACTIVE
    )
    start_date: Mapped[date] = mapped_column(sa.Date)
    end_date: Mapped[date] = mapped_column(sa.Date)
    owner_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("team_members.id", ondelete="SET NULL")
    )
    closed_on: Mapped[date | None] = mapped_column(sa.Date)
    previous_plan_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("plans.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now, onupdate=_now)


class PlanRole(Base):
    """A person on the vendor's side of the project (the CSM and others)."""

    __tablename__ = "plan_roles"

    id: Mapped[int] = _int_id()
    plan_id: Mapped[str] = _plan_fk()
    role: Mapped[str] = mapped_column(sa.String(64))
    member_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("team_members.id", ondelete="SET NULL")
    )
    name: Mapped[str | None] = mapped_column(sa.String(200))


class PlanIssue(Base):
    """A row of purpose and problems: business issue → problem → solution → benefit."""

    __tablename__ = "plan_issues"

    id: Mapped[int] = _int_id()
    plan_id: Mapped[str] = _plan_fk()
    position: Mapped[int] = mapped_column(sa.Integer, default=0)
    business_issue: Mapped[str] = mapped_column(sa.Text)
    problem: Mapped[str | None] = mapped_column(sa.Text)
    solution: Mapped[str | None] = mapped_column(sa.Text)
    benefit: Mapped[str | None] = mapped_column(sa.Text)


class PlanInitiative(Base):
    """An initiative of the improvement roadmap, scored on impact and difficulty (1–5)."""

    __tablename__ = "plan_initiatives"
    __table_args__ = (
        sa.UniqueConstraint("plan_id", "key", name="uq_plan_initiatives_plan_key"),
        sa.CheckConstraint("impact BETWEEN 1 AND 5", name="impact_1_to_5"),
        sa.CheckConstraint("difficulty BETWEEN 1 AND 5", name="difficulty_1_to_5"),
    )

    id: Mapped[int] = _int_id()
    plan_id: Mapped[str] = _plan_fk()
    key: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(300))
    purpose: Mapped[str | None] = mapped_column(sa.Text)  # for what purpose
    approach: Mapped[str | None] = mapped_column(sa.Text)  # how
    extent: Mapped[str | None] = mapped_column(sa.Text)  # by how much
    impact: Mapped[int] = mapped_column(sa.SmallInteger)
    difficulty: Mapped[int] = mapped_column(sa.SmallInteger)
    tie_break: Mapped[int | None] = mapped_column(sa.Integer)  # the user's, lower first
    order_override: Mapped[int | None] = mapped_column(sa.Integer)  # the user's position


class PlanKpi(Base):
    """The plan's KGI (``initiative_id`` null, ``is_kgi``) or a KPI of an initiative."""

    __tablename__ = "plan_kpis"
    __table_args__ = (
        sa.UniqueConstraint("plan_id", "key", name="uq_plan_kpis_plan_key"),
        sa.CheckConstraint("target <> baseline", name="target_differs"),
    )

    id: Mapped[int] = _int_id()
    plan_id: Mapped[str] = _plan_fk()
    initiative_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("plan_initiatives.id", ondelete="CASCADE"), index=True
    )
    is_kgi: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    key: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(300))
    unit: Mapped[str | None] = mapped_column(sa.String(32))
    direction: Mapped[Direction] = mapped_column(
        _text_enum(Direction, "kpi_direction"), default=Direction.HIGHER
    )
    baseline: Mapped[float] = mapped_column(sa.Float)
    baseline_date: Mapped[date] = mapped_column(sa.Date)
    target: Mapped[float] = mapped_column(sa.Float)
    target_date: Mapped[date] = mapped_column(sa.Date)
    evaluation_method: Mapped[str | None] = mapped_column(sa.Text)
    metric: Mapped[str | None] = mapped_column(sa.String(128))  # None: manual check-ins


class PlanCheckin(Base):
    """A manual measurement of a KPI: value on a date, by whom, with a note."""

    __tablename__ = "plan_checkins"
    __table_args__ = (sa.Index("ix_plan_checkins_kpi_date", "kpi_id", "checkin_date"),)

    id: Mapped[int] = _int_id()
    kpi_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_kpis.id", ondelete="CASCADE"))
    value: Mapped[float] = mapped_column(sa.Float)
    checkin_date: Mapped[date] = mapped_column(sa.Date)
    checked_by: Mapped[str] = mapped_column(sa.String(200))
    note: Mapped[str | None] = mapped_column(sa.Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class PlanMilestone(Base):
    """A milestone of the plan, due on a date."""

    __tablename__ = "plan_milestones"

    id: Mapped[int] = _int_id()
    plan_id: Mapped[str] = _plan_fk()
    name: Mapped[str] = mapped_column(sa.String(300))
    due_date: Mapped[date] = mapped_column(sa.Date)
    state: Mapped[MilestoneState] = mapped_column(
        _text_enum(MilestoneState, "plan_milestone_state"), default=MilestoneState.OPEN
    )
    done_on: Mapped[date | None] = mapped_column(sa.Date)


class MeetingSeries(Base):
    """A recurring meeting of the plan (weekly with end users, monthly with the evaluator).

    Its id is a string so that activity imports can name it (``meeting_series_id``).
    """

    __tablename__ = "plan_meeting_series"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    plan_id: Mapped[str] = _plan_fk()
    name: Mapped[str] = mapped_column(sa.String(300))
    cadence: Mapped[Cadence] = mapped_column(_text_enum(Cadence, "meeting_cadence"))
    audience: Mapped[str | None] = mapped_column(sa.String(32))  # a success role
    first_date: Mapped[date] = mapped_column(sa.Date)
    last_date: Mapped[date | None] = mapped_column(sa.Date)


class PlanChecklistItem(Base):
    """A step of the flow after start, with the failure pattern it avoids; ticked with a note."""

    __tablename__ = "plan_checklist_items"

    id: Mapped[int] = _int_id()
    plan_id: Mapped[str] = _plan_fk()
    position: Mapped[int] = mapped_column(sa.Integer, default=0)
    label: Mapped[str] = mapped_column(sa.Text)
    failure_pattern: Mapped[str | None] = mapped_column(sa.Text)
    done: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    done_on: Mapped[date | None] = mapped_column(sa.Date)
    note: Mapped[str | None] = mapped_column(sa.Text)


class PlanStatusSnapshot(Base):
    """A plan's status as of a date (computed; the daily run writes one per date)."""

    __tablename__ = "plan_status_snapshots"

    plan_id: Mapped[str] = mapped_column(
        sa.ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True
    )
    as_of: Mapped[date] = mapped_column(sa.Date, primary_key=True, index=True)
    status: Mapped[str] = mapped_column(sa.String(16))
    kpis_on_track: Mapped[int] = mapped_column(sa.Integer, default=0)
    kpis_at_risk: Mapped[int] = mapped_column(sa.Integer, default=0)
    kpis_off_track: Mapped[int] = mapped_column(sa.Integer, default=0)
    kpis_achieved: Mapped[int] = mapped_column(sa.Integer, default=0)
    milestones_overdue: Mapped[int] = mapped_column(sa.Integer, default=0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
