"""Tech touch: the templated e-mail a digital CTA sends to the account's contacts of a role.

When the coverage model hands a new CTA to ``digital`` (``assign: {to: digital, role: ...,
subject: ..., body: ...}``), :func:`enqueue_tech_touch` writes one outbox e-mail per contact
of that success role who has an address and has not opted out, in the contact's language
(their preference, else the account's ``language`` attribute, else English; the tier's
``subject_ja``/``body_ja`` are the Japanese template). Every e-mail carries an unsubscribe
link: a signed token naming the contact (no login, no expiry — an opt-out must always work),
which :func:`opt_out` turns into ``notification_preferences.opted_out``. An opted-out
contact is never mailed again: the contact is skipped when the e-mail is queued, and a
message still waiting in the outbox is cancelled when it comes up for sending
(:func:`still_wanted`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from kizuna.actions.definitions import Assignment
from kizuna.auth.keys import session_secret
from kizuna.errors import InvalidInput, NotFound, Problem, not_one_of
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.actions_models import CallToAction, MemberPreference, OutboxMessage
from kizuna.store.models import Account, Contact, SuccessRole

__all__ = [
    "LANGUAGES",
    "UNSUBSCRIBE_PATH",
    "ContactPreference",
    "DigitalAction",
    "account_contact_preferences",
    "contact_language",
    "contact_of_token",
    "contact_preference",
    "enqueue_tech_touch",
    "opt_out",
    "set_contact_preference",
    "still_wanted",
    "unsubscribe_token",
    "unsubscribe_url",
]

LANGUAGES = ("en", "ja")
#: where the web UI answers an unsubscribe link (no login); the UI is mounted at /ui
UNSUBSCRIBE_PATH = "/ui/unsubscribe/"
_SALT = "kizuna.tech-touch.unsubscribe"

_FOOTER = {
    "en": "You receive this e-mail as a contact of {account}. To receive no more of "
    "these e-mails, open: {url}",
    "ja": "{account}のご担当者様としてお送りしています。今後このメールの配信を希望されない場合は、"
    "次のリンクを開いてください: {url}",
}


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(session_secret(settings), salt=_SALT)


def unsubscribe_token(settings: Settings, contact_id: str) -> str:
    """The signed token of ``contact_id``'s unsubscribe link."""
    return str(_serializer(settings).dumps({"c": contact_id}))


def unsubscribe_url(settings: Settings, contact_id: str) -> str:
    """The link a tech-touch e-mail carries (built on ``KIZUNA_PUBLIC_URL``)."""
    base = settings.public_url.rstrip("/")
    return f"{base}{UNSUBSCRIBE_PATH}{unsubscribe_token(settings, contact_id)}"


def contact_of_token(settings: Settings, token: str) -> str:
    """The contact an unsubscribe token names; a forged or damaged token is not found."""
    try:
        data = _serializer(settings).loads(token)
    except BadSignature:
        raise NotFound("unknown unsubscribe link") from None
    if not isinstance(data, dict) or not isinstance(data.get("c"), str):
        raise NotFound("unknown unsubscribe link")
    return str(data["c"])


@dataclass(frozen=True, slots=True)
class ContactPreference:
    """A contact's language for tech-touch e-mails and whether they opted out."""

    contact_id: str
    account_id: str
    name: str
    language: str
    opted_out: bool


def _party(contact_id: str) -> str:
    return f"contact:{contact_id}"


def contact_language(pref: MemberPreference | None, account: Account | None) -> str:
    """The contact's preference, else the account's ``language`` attribute, else English."""
    return _language(pref, account.attributes if account is not None else None)


def _language(pref: MemberPreference | None, attributes: dict[str, Any] | None) -> str:
    if pref is not None and pref.language in LANGUAGES:
        return pref.language
    own = (attributes or {}).get("language")
    return own if own in LANGUAGES else "en"


def contact_preference(platform: Platform, contact_id: str) -> ContactPreference:
    """The language and opt-out of ``contact_id``."""
    with platform.store.session() as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            raise NotFound(f"no contact {contact_id}", code="unknown",
                           params={"table": "contacts", "value": contact_id})  # fmt: skip
        pref = session.get(MemberPreference, _party(contact_id))
        account = session.get(Account, contact.account_id)
        return ContactPreference(
            contact.id, contact.account_id, contact.name, contact_language(pref, account),
            bool(pref and pref.opted_out),
        )  # fmt: skip


def account_contact_preferences(
    platform: Platform, account_id: str
) -> dict[str, ContactPreference]:
    """The language and opt-out of each contact of ``account_id``, by contact id."""
    with platform.store.session() as session:
        account = session.get(Account, account_id)
        contacts = session.scalars(
            sa.select(Contact).where(Contact.account_id == account_id).order_by(Contact.id)
        ).all()
        prefs = {
            p.party: p
            for p in session.scalars(
                sa.select(MemberPreference).where(
                    MemberPreference.party.in_([_party(c.id) for c in contacts])
                )
            )
        }
        out = {}
        for c in contacts:
            pref = prefs.get(_party(c.id))
            out[c.id] = ContactPreference(
                c.id, account_id, c.name, contact_language(pref, account),
                bool(pref and pref.opted_out),
            )  # fmt: skip
        return out


def set_contact_preference(
    platform: Platform,
    contact_id: str,
    *,
    language: str | None = None,
    opted_out: bool | None = None,
) -> ContactPreference:
    """Change a contact's language and/or opt them out (``None`` leaves it as it is).

    Nobody but the contact undoes an opt-out: ``opted_out=False`` for a contact who
    opted out is refused (their choice is always honoured).
    """
    if language is not None and language not in LANGUAGES:
        raise InvalidInput(
            "invalid language",
            [not_one_of("language", language, LANGUAGES)],
        )
    with platform.store.session() as session:
        contact = session.get(Contact, contact_id)
        if contact is None:
            raise NotFound(f"no contact {contact_id}", code="unknown",
                           params={"table": "contacts", "value": contact_id})  # fmt: skip
        pref = session.get(MemberPreference, _party(contact_id))
        if opted_out is False and pref is not None and pref.opted_out:
            raise InvalidInput(
                "the contact opted out",
                [Problem("a contact's opt-out is always honoured; only they can undo it",
                         field="opted_out", code="opt_out_kept")],
            )  # fmt: skip
        if pref is None:
            account = session.get(Account, contact.account_id)
            pref = MemberPreference(
                party=_party(contact_id), language=contact_language(None, account), opted_out=False
            )
            session.add(pref)
        if language is not None:
            pref.language = language
        if opted_out is not None:
            pref.opted_out = opted_out
    return contact_preference(platform, contact_id)


def opt_out(platform: Platform, token: str) -> ContactPreference:
    """Record the opt-out an unsubscribe link asks for (idempotent)."""
    contact_id = contact_of_token(platform.settings, token)
    try:
        return set_contact_preference(platform, contact_id, opted_out=True)
    except NotFound:  # the contact was deleted since: nothing will be sent to it anyway
        raise NotFound("unknown unsubscribe link") from None


def _roles(role: str) -> tuple[str, ...]:
    # as for days_since_touch: the evaluator's role includes the final evaluator
    if role == SuccessRole.EVALUATOR.value:
        return (SuccessRole.EVALUATOR.value, SuccessRole.FINAL_EVALUATOR.value)
    return (role,)


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _fill(template: str, values: dict[str, str]) -> str:
    return template.format_map(_Blank(values))


@dataclass(frozen=True, slots=True)
class DigitalAction:
    """A digital CTA just opened, its tier's e-mail action, and its reason per language."""

    cta: CallToAction
    action: Assignment
    reasons: dict[str, str]


_CHUNK = 500  # ids per IN (...) list: well under every backend's parameter limit


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i : i + _CHUNK]


def enqueue_tech_touch(
    session: Session, settings: Settings, items: list[DigitalAction], now: datetime
) -> int:
    """Queue each digital CTA's e-mail to its account's contacts of the action's role.

    Nothing without an SMTP host (``KIZUNA_SMTP_HOST``), as for the digests. Skips
    contacts without an address or who opted out, and a contact already mailed for
    that CTA (a re-run). The accounts, contacts, preferences and earlier e-mails
    are read in a few batched queries, not per CTA: a first run over a large book opens
    tens of thousands of tech-touch CTAs at once. Returns how many e-mails were queued.
    """
    items = [i for i in items if i.action.role and i.action.subject and i.action.body]
    if not items or not settings.smtp_host:  # like the digests: no e-mail configured, none queued
        return 0
    account_ids = sorted({i.cta.account_id for i in items})
    roles = sorted({r for i in items for r in _roles(i.action.role or "")})
    accounts: dict[str, tuple[str, dict[str, Any] | None]] = {}
    contacts: dict[str, list[tuple[str, str, str, str]]] = {}  # id, name, e-mail, role
    for chunk in _chunks(account_ids):
        for account_id, name, attributes in session.execute(
            sa.select(Account.id, Account.name, Account.attributes).where(Account.id.in_(chunk))
        ):
            accounts[account_id] = (name, attributes)
        for contact_id, account_id, name, email, role in session.execute(
            sa.select(
                Contact.id, Contact.account_id, Contact.name, Contact.email, Contact.success_role
            )
            .where(
                Contact.account_id.in_(chunk),
                Contact.email.is_not(None),
                Contact.success_role.in_([SuccessRole(r) for r in roles]),
            )
            .order_by(Contact.id)
        ):
            role_id = str(getattr(role, "value", role))
            contacts.setdefault(account_id, []).append((contact_id, name, str(email), role_id))
    parties = [_party(c[0]) for cs in contacts.values() for c in cs]
    prefs: dict[str, MemberPreference] = {}
    for chunk in _chunks(parties):
        for pref in session.scalars(
            sa.select(MemberPreference).where(MemberPreference.party.in_(chunk))
        ):
            prefs[pref.party] = pref
    wanted: list[tuple[DigitalAction, tuple[str, str, str, str], str]] = []
    for item in items:
        mine = _roles(item.action.role or "")
        for contact in contacts.get(item.cta.account_id, []):
            if contact[3] in mine:
                wanted.append((item, contact, f"{contact[2]}#cta={item.cta.id}"))
    known: set[str] = set()
    for chunk in _chunks([t for _, _, t in wanted]):
        known.update(
            session.scalars(
                sa.select(OutboxMessage.target).where(
                    OutboxMessage.channel == "email", OutboxMessage.target.in_(chunk)
                )
            )
        )
    serializer = _serializer(settings)
    base = settings.public_url.rstrip("/") + UNSUBSCRIBE_PATH
    rows: list[dict[str, Any]] = []
    for item, (contact_id, contact_name, email, _), target in wanted:
        chosen = prefs.get(_party(contact_id))
        if (chosen is not None and chosen.opted_out) or target in known:
            continue
        known.add(target)
        cta, action = item.cta, item.action
        account_name, attributes = accounts.get(cta.account_id, (cta.account_id, None))
        lang = _language(chosen, attributes)
        subject = (action.subject_ja if lang == "ja" else None) or action.subject or ""
        body = (action.body_ja if lang == "ja" else None) or action.body or ""
        url = base + str(serializer.dumps({"c": contact_id}))
        values = {
            "account": account_name,
            "contact": contact_name,
            "reason": item.reasons.get(lang) or item.reasons.get("en", cta.reason),
            "unsubscribe": url,
        }
        text = (
            _fill(body, values).rstrip()
            + "\n\n-- \n"
            + _FOOTER[lang].format(account=account_name, url=url)
        )
        payload: dict[str, Any] = {
            "to": email,
            "subject": _fill(subject, values),
            "body": text,
            "contact_id": contact_id,
            "language": lang,
            "list_unsubscribe": url,
        }
        rows.append(
            {"delivery_id": uuid.uuid4().hex, "channel": "email", "target": target,
             "payload": payload, "status": "pending", "attempts": 0, "next_attempt_at": now,
             "created_at": now}
        )  # fmt: skip
    if rows:  # one multi-row insert, in the caller's transaction
        session.execute(sa.insert(OutboxMessage), rows)
    return len(rows)


def still_wanted(session: Session, message: OutboxMessage) -> bool:
    """False for a tech-touch e-mail whose contact opted out after it was queued."""
    contact_id = (message.payload or {}).get("contact_id")
    if not contact_id:
        return True
    pref = session.get(MemberPreference, _party(str(contact_id)))
    return not (pref is not None and pref.opted_out)
