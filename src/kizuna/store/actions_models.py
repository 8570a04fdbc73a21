"""Store tables of the actions capability (issue 17): CTAs, their tasks and events,
rule firings, teams and the notification outbox.

* :class:`CallToAction` — user data once opened (a CSM works it). ``dedupe_key``
  is ``rule|account`` while the CTA is active (queued, open, in progress or
  snoozed) and NULL once closed, so the store itself refuses a second active CTA
  of one rule for one account (a unique column allows many NULLs on both backends).
* :class:`CtaTask` — a playbook step of a CTA.
* :class:`CtaEvent` — everything done to a CTA or task, for the account's timeline.
* :class:`RuleFiring` — what a rule run decided for an account on a date (also what
  a dry run for a past date *would* have done): the history "did it work?" reads.
* :class:`Team` / :class:`TeamMembership` — pooled teams CTAs can be assigned to.
* :class:`OutboxMessage` — a notification waiting to be (or already) delivered.
* :class:`StoredSecret` — a secret Kizuna must use (SMTP password, webhook signing key),
  Fernet-encrypted with the key from settings (:mod:`kizuna.auth.vault`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.store.models import Base, UTCDateTime


def _now() -> datetime:
    return datetime.now(UTC)


_BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Team(Base):
    """A pooled team (e.g. the SMB pool) CTAs can be assigned to."""

    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class TeamMembership(Base):
    __tablename__ = "team_memberships"

    team_id: Mapped[str] = mapped_column(
        sa.ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[str] = mapped_column(
        sa.ForeignKey("team_members.id", ondelete="CASCADE"), primary_key=True
    )
    #: lead | member — a lead manages the team's pool (sees its queue, reassigns its tasks)
    role: Mapped[str] = mapped_column(sa.String(16), default="member", server_default="member")


class CallToAction(Base):
    """A call to action on an account: opened by a rule or by hand."""

    __tablename__ = "ctas"
    __table_args__ = (
        sa.Index("ix_ctas_owner_status", "owner_id", "status"),
        sa.Index("ix_ctas_rule_status", "rule_id", "status"),
    )

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    rule_id: Mapped[str | None] = mapped_column(sa.String(64))
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    type: Mapped[str] = mapped_column(sa.String(32))
    priority: Mapped[int] = mapped_column(sa.SmallInteger)
    title: Mapped[str] = mapped_column(sa.String(300))
    reason: Mapped[str] = mapped_column(sa.Text)
    facts: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    status: Mapped[str] = mapped_column(sa.String(32), index=True)
    outcome: Mapped[str | None] = mapped_column(sa.Text)
    tier: Mapped[str | None] = mapped_column(sa.String(64))
    owner_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("team_members.id", ondelete="SET NULL")
    )
    team_id: Mapped[str | None] = mapped_column(sa.ForeignKey("teams.id", ondelete="SET NULL"))
    #: "digital" for a tech-touch CTA handled by an automatic e-mail
    assignee_kind: Mapped[str] = mapped_column(sa.String(16), default="owner")
    playbook_id: Mapped[str | None] = mapped_column(sa.String(64))
    queued_on: Mapped[date | None] = mapped_column(sa.Date)
    opened_on: Mapped[date | None] = mapped_column(sa.Date)
    due_date: Mapped[date | None] = mapped_column(sa.Date)
    snoozed_until: Mapped[date | None] = mapped_column(sa.Date)
    snooze_reason: Mapped[str | None] = mapped_column(sa.Text)
    closed_on: Mapped[date | None] = mapped_column(sa.Date)
    closed_by: Mapped[str | None] = mapped_column(sa.String(200))
    created_by: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class CtaTask(Base):
    """One step of a CTA's playbook."""

    __tablename__ = "cta_tasks"

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True, autoincrement=True)
    cta_id: Mapped[int] = mapped_column(sa.ForeignKey("ctas.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    title: Mapped[str] = mapped_column(sa.String(300))
    due_date: Mapped[date] = mapped_column(sa.Date)
    owner_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("team_members.id", ondelete="SET NULL")
    )
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    done_on: Mapped[date | None] = mapped_column(sa.Date)
    done_by: Mapped[str | None] = mapped_column(sa.String(200))
    note: Mapped[str | None] = mapped_column(sa.Text)


class CtaEvent(Base):
    """Something done to a CTA or one of its tasks; shown on the account's timeline."""

    __tablename__ = "cta_events"

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    cta_id: Mapped[int] = mapped_column(sa.ForeignKey("ctas.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[int | None] = mapped_column(sa.ForeignKey("cta_tasks.id", ondelete="SET NULL"))
    on_date: Mapped[date] = mapped_column(sa.Date)
    kind: Mapped[str] = mapped_column(sa.String(32))
    actor: Mapped[str | None] = mapped_column(sa.String(200))
    text: Mapped[str] = mapped_column(sa.Text)
    #: The values ``text`` names (task title, new owner, snooze date, note), so that each
    #: edge words the event by its ``kind`` in its own language; None for events stored
    #: before revision 0016 (their ``text`` is all there is).
    params: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class RuleFiring(Base):
    """What a run of ``rule_id`` decided for ``account_id`` on ``as_of`` (first decision kept)."""

    __tablename__ = "rule_firings"
    __table_args__ = (
        sa.UniqueConstraint("as_of", "rule_id", "account_id", name="uq_rule_firings_key"),
        sa.Index("ix_rule_firings_rule", "rule_id", "as_of"),
    )

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True, autoincrement=True)
    as_of: Mapped[date] = mapped_column(sa.Date)
    rule_id: Mapped[str] = mapped_column(sa.String(64))
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id", ondelete="CASCADE"))
    #: opened | updated | queued | released | snoozed | closed | fired (dry: a past date)
    outcome: Mapped[str] = mapped_column(sa.String(16))
    dry: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    cta_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ctas.id", ondelete="SET NULL"))
    priority: Mapped[int] = mapped_column(sa.SmallInteger)
    facts: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class OutboxMessage(Base):
    """A notification to deliver exactly once per ``delivery_id`` (webhook, Slack or e-mail)."""

    __tablename__ = "outbox"
    __table_args__ = (
        sa.Index("ix_outbox_status_next", "status", "next_attempt_at"),
        # "was this contact already mailed for this CTA / this CSM's digest of the day?"
        sa.Index("ix_outbox_channel_target", "channel", "target"),
    )

    id: Mapped[int] = mapped_column(_BIGID, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    channel: Mapped[str] = mapped_column(sa.String(32))
    target: Mapped[str] = mapped_column(sa.String(500))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    #: pending | sent | failed (gave up after the last attempt; ``kizuna outbox retry``)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)


class MemberPreference(Base):
    """A team member's (or a contact's) preferred language for notifications and digests."""

    __tablename__ = "notification_preferences"

    #: "member:<team member id>" or "contact:<contact id>"
    party: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    language: Mapped[str] = mapped_column(sa.String(8), default="en")
    #: a contact who opted out of tech-touch e-mails (always honoured)
    opted_out: Mapped[bool] = mapped_column(sa.Boolean, default=False)


class StoredSecret(Base):
    """A secret Kizuna must *use* (so it cannot be hashed), encrypted at rest with Fernet."""

    __tablename__ = "stored_secrets"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    #: a Fernet token (AES-128-CBC + HMAC-SHA256) under the first key of KIZUNA_SECRETS_KEY
    ciphertext: Mapped[str] = mapped_column(sa.Text)
    updated_by: Mapped[str | None] = mapped_column(sa.String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=_now)
