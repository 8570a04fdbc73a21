"""Notifications: what goes into the outbox, and the sender that delivers it.

Channels (configured in settings; secrets from the environment or the encrypted store,
:mod:`kizuna.auth.vault`, never logged):

* ``webhook`` — JSON POSTed to ``notify_webhook_url``, signed with HMAC-SHA256 of the
  body under ``notify_webhook_secret`` (header ``X-Kizuna-Signature: sha256=<hex>``),
  with the delivery id in ``X-Kizuna-Delivery`` so a receiver drops repeats;
* ``slack`` — a Slack-compatible incoming-webhook message (``{"text": ...}``);
* ``email`` — over SMTP (a CSM's daily digest of new and overdue CTAs, in their
  language, :func:`enqueue_digests`; a digital CTA's tech-touch e-mail to the
  account's contacts, :mod:`kizuna.actions.techtouch`, cancelled instead of sent
  when the contact opted out after it was queued).

:func:`deliver_pending` sends the messages that are due, one at a time: a message
is marked sent only after the receiver accepted it, so a crash re-sends it with the
same delivery id (at least once to the wire, exactly once to a receiver that dedupes
on the id). A failure is retried with exponential backoff; after
:data:`MAX_ATTEMPTS` the message is ``failed`` and stays in ``kizuna outbox list``
until ``kizuna outbox retry``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session

from kizuna.actions.outbox import enqueue
from kizuna.actions.techtouch import still_wanted
from kizuna.auth.vault import open_target, resolve_secret, target_reference
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.actions_models import (
    CallToAction,
    MemberPreference,
    OutboxMessage,
    StoredSecret,
)
from kizuna.store.models import Account, TeamMember

__all__ = [
    "MAX_ATTEMPTS",
    "DeliveryReport",
    "deliver_pending",
    "enqueue_cta_opened",
    "enqueue_digests",
    "sign",
]

MAX_ATTEMPTS = 6
#: Seconds before retry n (1-based): 30 s, 1 min, 2 min, 4 min, 8 min.
BACKOFF_SECONDS = 30


def sign(secret: str, body: bytes) -> str:
    """The ``X-Kizuna-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def enqueue_cta_opened(
    session: Session, settings: Settings, cta: CallToAction, now: datetime
) -> int:
    """Queue the configured webhook and Slack messages for a newly opened CTA.

    The Slack URL is a credential: the outbox row names it (resolved when sending)
    rather than holding it; it comes from the environment or the encrypted store.
    """
    count = 0
    payload = {
        "event": "cta.opened",
        "cta": {
            "id": cta.id, "account_id": cta.account_id, "rule_id": cta.rule_id,
            "type": cta.type, "priority": cta.priority, "title": cta.title,
            "reason": cta.reason, "owner_id": cta.owner_id,
            "due_date": cta.due_date.isoformat() if cta.due_date else None,
        },
    }  # fmt: skip
    if settings.notify_webhook_url:
        enqueue(session, "webhook", settings.notify_webhook_url, payload, now)
        count += 1
    if settings.notify_slack_url or session.get(StoredSecret, "notify_slack_url") is not None:
        text = f"New CTA for {cta.account_id}: {cta.title} — {cta.reason}"
        enqueue(session, "slack", target_reference("notify_slack_url"), {"text": text}, now)
        count += 1
    return count


_DIGEST = {
    "en": {
        "subject": "Kizuna: {new} new and {overdue} overdue calls to action",
        "new": "New today",
        "overdue": "Overdue",
        "due": "due",
    },
    "ja": {
        "subject": "Kizuna: 新しいCTA {new}件、期限切れ {overdue}件",
        "new": "本日の新着",
        "overdue": "期限切れ",
        "due": "期限",
    },
}


def _language(session: Session, member_id: str) -> str:
    pref = session.get(MemberPreference, f"member:{member_id}")
    return pref.language if pref and pref.language in _DIGEST else "en"


def enqueue_digests(platform: Platform, as_of: date) -> int:
    """Queue each CSM's daily digest (their CTAs opened on ``as_of`` and overdue ones).

    Skipped without an SMTP host, for a CSM without an e-mail address or with nothing
    to report, and when that CSM's digest of the date is already in the outbox.
    """
    if not platform.settings.smtp_host:
        return 0
    now = platform.clock.now()
    count = 0
    with platform.store.session() as session:
        rows = session.execute(
            sa.select(CallToAction, Account.name)
            .join(Account, Account.id == CallToAction.account_id)
            .where(
                CallToAction.owner_id.is_not(None),
                CallToAction.status.in_(("open", "in_progress")),
                sa.or_(CallToAction.opened_on == as_of, CallToAction.due_date < as_of),
            )
            .order_by(CallToAction.priority.desc(), CallToAction.due_date)
        ).all()
        by_owner: dict[str, list[tuple[CallToAction, str]]] = {}
        for cta, name in rows:
            by_owner.setdefault(cta.owner_id or "", []).append((cta, name))
        for owner, items in sorted(by_owner.items()):
            member = session.get(TeamMember, owner)
            if member is None or not member.email:
                continue
            target = f"{member.email}#digest={as_of.isoformat()}"
            known = session.scalar(
                sa.select(OutboxMessage.id).where(
                    OutboxMessage.channel == "email", OutboxMessage.target == target
                )
            )
            if known is not None:
                continue
            words = _DIGEST[_language(session, owner)]
            new = [(c, n) for c, n in items if c.opened_on == as_of]
            late = [(c, n) for c, n in items if c.due_date and c.due_date < as_of]
            lines = [f"{words['new']} ({len(new)})"]
            lines += [f"- {n}: {c.title} ({words['due']} {c.due_date})" for c, n in new]
            lines += ["", f"{words['overdue']} ({len(late)})"]
            lines += [f"- {n}: {c.title} ({words['due']} {c.due_date})" for c, n in late]
            enqueue(
                session,
                "email",
                target,
                {
                    "to": member.email,
                    "subject": words["subject"].format(new=len(new), overdue=len(late)),
                    "body": "\n".join(lines),
                },
                now,
            )
            count += 1
    return count


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0


Sender = Callable[[OutboxMessage], None]


def _webhook(platform: Platform, client: httpx.Client) -> Sender:
    def send(message: OutboxMessage) -> None:
        body = json.dumps(
            {"delivery_id": message.delivery_id, **message.payload}, ensure_ascii=False
        ).encode()
        headers = {"Content-Type": "application/json", "X-Kizuna-Delivery": message.delivery_id}
        if message.channel == "webhook":
            secret = resolve_secret(platform, "notify_webhook_secret")
            if secret is not None:
                headers["X-Kizuna-Signature"] = sign(secret, body)
        response = client.post(open_target(platform, message.target), content=body, headers=headers)
        if response.status_code >= 300:
            raise RuntimeError(f"HTTP {response.status_code} from the receiver")

    return send


def _email(platform: Platform) -> Sender:
    settings = platform.settings

    def send(message: OutboxMessage) -> None:
        if not settings.smtp_host:
            raise RuntimeError("no SMTP host configured (KIZUNA_SMTP_HOST)")
        email = EmailMessage()
        email["From"] = settings.smtp_from
        email["To"] = message.payload["to"]
        email["Subject"] = message.payload["subject"]
        email["Message-ID"] = f"<{message.delivery_id}@kizuna>"
        email["X-Kizuna-Delivery"] = message.delivery_id
        unsubscribe = message.payload.get("list_unsubscribe")
        if unsubscribe:  # RFC 2369 / RFC 8058: the mail client's own "unsubscribe" button
            email["List-Unsubscribe"] = f"<{unsubscribe}>"
            email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        email.set_content(message.payload["body"])
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                password = resolve_secret(platform, "smtp_password")
                if password is None:
                    raise RuntimeError("KIZUNA_SMTP_USER is set but no SMTP password is")
                smtp.login(settings.smtp_user, password)
            smtp.send_message(email)

    return send


def deliver_pending(
    platform: Platform,
    *,
    limit: int = 1000,
    senders: Mapping[str, Sender] | None = None,
) -> DeliveryReport:
    """Send the outbox messages that are due, oldest first; see the module docstring."""
    report = DeliveryReport()
    with httpx.Client(timeout=30) as client:
        chosen: dict[str, Sender] = {
            "webhook": _webhook(platform, client),
            "slack": _webhook(platform, client),
            "email": _email(platform),
            **(senders or {}),
        }
        with platform.store.session() as session:
            due = session.scalars(
                sa.select(OutboxMessage.id)
                .where(
                    OutboxMessage.status == "pending",
                    OutboxMessage.next_attempt_at <= platform.clock.now(),
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
            ).all()
        for message_id in due:
            with platform.store.session() as session:
                message = session.get(OutboxMessage, message_id)
                if message is None or message.status != "pending":
                    continue
                if not still_wanted(session, message):  # the contact opted out meanwhile
                    message.status, message.last_error = "cancelled", "the contact opted out"
                    report.cancelled += 1
                    continue
                session.expunge(message)
            error: str | None = None
            try:
                chosen[message.channel](message)
            except Exception as exc:  # any failure of the receiver or the network
                # the type and status only: a message may carry a URL with a token
                error = f"{type(exc).__name__}: {str(exc)[:200]}"
            now = platform.clock.now()
            with platform.store.session() as session:
                stored = session.get(OutboxMessage, message_id)
                assert stored is not None
                stored.attempts += 1
                if error is None:
                    stored.status, stored.sent_at, stored.last_error = "sent", now, None
                    report.sent += 1
                else:
                    stored.last_error = error
                    if stored.attempts >= MAX_ATTEMPTS:
                        stored.status = "failed"
                        report.failed += 1
                    else:
                        delay = BACKOFF_SECONDS * 2 ** (stored.attempts - 1)
                        stored.next_attempt_at = now + timedelta(seconds=delay)
                        report.retried += 1
    return report
