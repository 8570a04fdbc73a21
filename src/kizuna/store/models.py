"""The operational store's tables, as SQLAlchemy 2 typed models.

Ids of customer data (accounts, contacts, contract lines, ...) are the ids of
the user's own systems (CRM, billing, helpdesk), so imports upsert on them.
All timestamps are stored in UTC (see :class:`UTCDateTime`); dates are
calendar dates in the business timezone.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and returned timezone-aware (UTC).

    Naive datetimes given to the store are taken to be UTC already; aware ones
    are converted. This keeps SQLite and PostgreSQL identical.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Money(TypeDecorator[Decimal]):
    """An amount with two decimals, exact on every backend.

    SQLite has no decimal type, so amounts are kept there as integer minor units
    (cents); PostgreSQL uses NUMERIC(18, 2). Python always sees ``Decimal``.
    """

    impl = sa.Numeric(18, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.Numeric(18, 2))

    def process_bind_param(self, value: Decimal | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value).quantize(Decimal("0.01"))
        if dialect.name == "sqlite":
            return int(value * 100)
        return value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 100).quantize(Decimal("0.01"))
        return Decimal(value).quantize(Decimal("0.01"))


class SuccessRole(enum.StrEnum):
    """A contact's role in the customer's success project (seed 001)."""

    EVALUATOR = "evaluator"  # 評価者: decides the renewal
    FINAL_EVALUATOR = "final_evaluator"  # 最終評価者
    PROMOTER = "promoter"  # 推進者: drives adoption inside the customer
    END_USER = "end_user"  # 実利用者
    CHAMPION = "champion"
    OTHER = "other"


class TeamRole(enum.StrEnum):
    """A vendor team member's role."""

    ADMIN = "admin"
    MANAGER = "manager"
    CSM = "csm"
    VIEWER = "viewer"
    SALES = "sales"  # an account executive: owns upsell and cross-sell opportunities


class ContractStatus(enum.StrEnum):
    ACTIVE = "active"
    ENDED = "ended"
    CANCELLED = "cancelled"
    PENDING = "pending"


class TicketPriority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketStatus(enum.StrEnum):
    OPEN = "open"
    PENDING = "pending"
    SOLVED = "solved"
    CLOSED = "closed"


class SurveyKind(enum.StrEnum):
    NPS = "nps"
    CSAT = "csat"


class ActivityKind(enum.StrEnum):
    MEETING = "meeting"
    CALL = "call"
    EMAIL = "email"
    NOTE = "note"


def _enum(cls: type[enum.StrEnum], name: str) -> sa.Enum:
    # Stored as text with a CHECK constraint: portable, readable in SQL, and
    # adding a value later is a small migration on both backends.
    return sa.Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=lambda: datetime.now(UTC), nullable=False
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(),
        default=lambda: datetime.now(UTC),
        onupdate=lambda: datetime.now(UTC),
        nullable=False,
    )


class TeamMember(TimestampMixin, Base):
    """A person on the vendor's side: CSM, manager, admin or viewer."""

    __tablename__ = "team_members"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(320), unique=True)
    role: Mapped[TeamRole] = mapped_column(_enum(TeamRole, "team_role"), default=TeamRole.CSM)
    manager_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("team_members.id", ondelete="SET NULL")
    )
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)


class Account(TimestampMixin, Base):
    """A customer (or a unit of one: ``parent_id`` builds hierarchies)."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(300))
    parent_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="RESTRICT"), index=True
    )
    segment: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    industry: Mapped[str | None] = mapped_column(sa.String(128))
    region: Mapped[str | None] = mapped_column(sa.String(64))
    owner_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("team_members.id", ondelete="SET NULL"), index=True
    )
    created_date: Mapped[date | None] = mapped_column(sa.Date)
    attributes: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


class Contact(TimestampMixin, Base):
    """A person at a customer, with their role in the success project."""

    __tablename__ = "contacts"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str | None] = mapped_column(sa.String(320))
    title: Mapped[str | None] = mapped_column(sa.String(200))
    success_role: Mapped[SuccessRole] = mapped_column(
        _enum(SuccessRole, "success_role"), default=SuccessRole.OTHER
    )


class ContractLine(TimestampMixin, Base):
    """One subscription line: a product at an annual value over [start, end].

    ``end_date`` is inclusive: a one-year line starting 2025-01-01 ends 2025-12-31.
    """

    __tablename__ = "contract_lines"
    __table_args__ = (
        sa.CheckConstraint("end_date >= start_date", name="end_after_start"),
        sa.CheckConstraint("arr >= 0", name="arr_not_negative"),
        sa.Index("ix_contract_lines_account_dates", "account_id", "start_date", "end_date"),
    )

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    product: Mapped[str] = mapped_column(sa.String(128))
    arr: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(sa.String(3))
    quantity: Mapped[int | None] = mapped_column(sa.Integer)
    start_date: Mapped[date] = mapped_column(sa.Date)
    end_date: Mapped[date] = mapped_column(sa.Date)
    status: Mapped[ContractStatus] = mapped_column(
        _enum(ContractStatus, "contract_status"), default=ContractStatus.ACTIVE
    )
    renews_line_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("contract_lines.id", ondelete="SET NULL")
    )


class Ticket(TimestampMixin, Base):
    """A support ticket."""

    __tablename__ = "tickets"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str | None] = mapped_column(sa.String(500))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    priority: Mapped[TicketPriority] = mapped_column(
        _enum(TicketPriority, "ticket_priority"), default=TicketPriority.NORMAL
    )
    status: Mapped[TicketStatus] = mapped_column(
        _enum(TicketStatus, "ticket_status"), default=TicketStatus.OPEN
    )
    csat: Mapped[int | None] = mapped_column(sa.SmallInteger)


class SurveyResponse(TimestampMixin, Base):
    """An NPS (0–10) or CSAT (1–5) answer."""

    __tablename__ = "survey_responses"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="SET NULL")
    )
    kind: Mapped[SurveyKind] = mapped_column(_enum(SurveyKind, "survey_kind"))
    score: Mapped[int] = mapped_column(sa.SmallInteger)
    comment: Mapped[str | None] = mapped_column(sa.Text)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Activity(TimestampMixin, Base):
    """A CS activity on the account's timeline: meeting, call, e-mail or note."""

    __tablename__ = "activities"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[ActivityKind] = mapped_column(_enum(ActivityKind, "activity_kind"))
    author_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("team_members.id", ondelete="SET NULL")
    )
    activity_date: Mapped[date] = mapped_column(sa.Date)
    text: Mapped[str | None] = mapped_column(sa.Text)
    # Who on the customer's side it was with, and (a meeting) the plan's meeting
    # series it belongs to (issue 14): both optional, older imports leave them empty.
    contact_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="SET NULL"), index=True
    )
    meeting_series_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("plan_meeting_series.id", ondelete="SET NULL"), index=True
    )
    # An action agreed with the customer (issue 16): shown in their meeting reports.
    shared_with_customer: Mapped[bool] = mapped_column(
        sa.Boolean, default=False, server_default=sa.false()
    )


class FxRate(TimestampMixin, Base):
    """How many units of the reporting currency one unit of ``currency`` is worth
    from ``valid_from`` until the next rate for that currency."""

    __tablename__ = "fx_rates"

    currency: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    valid_from: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    rate: Mapped[float] = mapped_column(sa.Float)


ALL_MODELS: tuple[type[Base], ...] = (
    TeamMember,
    Account,
    Contact,
    ContractLine,
    Ticket,
    SurveyResponse,
    Activity,
    FxRate,
)

# CTAs, tasks, rule firings, teams and the notification outbox (issue 17, actions).
from kizuna.store import actions_models as _actions_models  # noqa: E402, F401

# Tables of users' credentials, tokens, event sources and the audit log (issue 7)
# live in their own module; importing it registers them in Base.metadata.
from kizuna.store import auth_models as _auth_models  # noqa: E402, F401

# Share links and rendered documents (issue 16, documents).
from kizuna.store import documents_models as _documents_models  # noqa: E402, F401

# UI sessions and login throttling (issue 13, hardening).
from kizuna.store import hardening_models as _hardening_models  # noqa: E402, F401

# A CSM's manual sentiment (issue 4, health) lives in its own module likewise.
from kizuna.store import health_models as _health_models  # noqa: E402, F401

# Milestone completions, stage transitions and lifecycle runs (issue 6, lifecycle).
from kizuna.store import lifecycle_models as _lifecycle_models  # noqa: E402, F401

# The daily run's log and the locks between processes (issue 19, operability).
from kizuna.store import ops_models as _ops_models  # noqa: E402, F401

# Success plans and their parts (issue 14, plans).
from kizuna.store import plans_models as _plans_models  # noqa: E402, F401

# Opportunities and their stage history (issue 18, revenue).
from kizuna.store import revenue_models as _revenue_models  # noqa: E402, F401
