"""Read-only links for the customer: create, list, revoke, open.

The token is 32 random bytes (URL-safe); only its SHA-256 is stored. Every
visit looks the link up again (no cache), so a revoked or expired link stops at
once, and every visit — refused ones too — goes to the audit log. An unknown,
expired and revoked token all get the same "not found", so a visitor learns
nothing about which links exist.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from kizuna.auth.audit import add_audit, record_audit
from kizuna.auth.policy import Caller
from kizuna.customers.service import authorise_account, readable_account_ids
from kizuna.documents.build import KIND_TITLES, STATUS
from kizuna.documents.i18n import Lang
from kizuna.documents.render import css_font_stack, template_environment
from kizuna.documents.service import (
    KeptDocument,
    Rendered,
    check_request,
    kept_file,
    latest_documents,
    render,
)
from kizuna.errors import InvalidInput, NotFound, Problem
from kizuna.plans import next_meeting, plan_of_account, plan_view
from kizuna.platform import Platform
from kizuna.store.documents_models import ShareLink
from kizuna.store.models import Contact

MAX_DAYS = 366
RESOURCE = "share_links"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def share_url(platform: Platform, token: str) -> str:
    return f"{platform.settings.public_url.rstrip('/')}/share/{token}"


@dataclass
class ShareInfo:
    id: str
    account_id: str
    contact_id: str | None
    created_by: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    active: bool


@dataclass
class NewShare:
    info: ShareInfo
    token: str
    url: str


def _info(link: ShareLink, now: datetime) -> ShareInfo:
    return ShareInfo(
        id=link.id,
        account_id=link.account_id,
        contact_id=link.contact_id,
        created_by=link.created_by,
        created_at=link.created_at,
        expires_at=link.expires_at,
        revoked_at=link.revoked_at,
        active=link.revoked_at is None and link.expires_at > now,
    )


def create_share(
    platform: Platform,
    account_id: str,
    days: int,
    *,
    contact_id: str | None = None,
    created_by: str | None = None,
    caller: Caller | None = None,
) -> NewShare:
    """A new link to ``account_id``'s page, valid ``days`` days; the token is shown once."""
    problems = []
    if not 1 <= days <= MAX_DAYS:
        problems.append(
            Problem(f"days must be 1 to {MAX_DAYS}, got {days}", field="days",
                    code="out_of_range", params={"value": days, "low": 1, "high": MAX_DAYS})
        )  # fmt: skip
    now = platform.clock.now()
    token = secrets.token_urlsafe(32)
    with platform.store.session() as session:
        if contact_id is not None:
            contact = session.get(Contact, contact_id)
            if contact is None or contact.account_id != account_id:
                problems.append(
                    Problem(
                        f"no contact {contact_id} at account {account_id}",
                        field="contact_id",
                        code="unknown",
                        params={"table": "contacts", "value": contact_id},
                    )
                )
        if problems:
            raise InvalidInput("bad share link", problems)
        plan_of_account(platform, account_id)  # a page needs a plan: NotFound otherwise
        link = ShareLink(
            id=f"share-{uuid.uuid4().hex[:12]}",
            token_hash=hash_token(token),
            account_id=account_id,
            contact_id=contact_id,
            created_by=caller.principal.member_id if caller else created_by,
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        session.add(link)
        add_audit(
            session,
            platform,
            caller,
            action="create",
            resource=RESOURCE,
            resource_id=link.id,
            account_id=account_id,
            actor_id=created_by,
            detail=f"{days} days" + (f", contact {contact_id}" if contact_id else ""),
        )
        session.flush()
        info = _info(link, now)
    return NewShare(info, token, share_url(platform, token))


def list_shares(
    platform: Platform, *, account_id: str | None = None, account_ids: set[str] | None = None
) -> list[ShareInfo]:
    """Links, newest first (``account_ids``: only those accounts, for a scoped caller)."""
    now = platform.clock.now()
    with platform.store.session() as session:
        query = sa.select(ShareLink).order_by(ShareLink.created_at.desc(), ShareLink.id)
        if account_id is not None:
            query = query.where(ShareLink.account_id == account_id)
        if account_ids is not None:
            query = query.where(ShareLink.account_id.in_(sorted(account_ids)))
        return [_info(link, now) for link in session.scalars(query)]


def revoke_share(
    platform: Platform, share_id: str, *, caller: Caller | None = None, actor: str | None = None
) -> ShareInfo:
    """Revoke a link now (revoking twice keeps the first time)."""
    now = platform.clock.now()
    with platform.store.session() as session:
        link = session.get(ShareLink, share_id)
        if link is None:
            raise NotFound(f"no share link {share_id}")
        if caller is not None:
            authorise_account(platform, caller, link.account_id, RESOURCE, write=True)
        if link.revoked_at is None:
            link.revoked_at = now
        add_audit(
            session,
            platform,
            caller,
            action="revoke",
            resource=RESOURCE,
            resource_id=share_id,
            account_id=link.account_id,
            actor_id=actor,
        )
        session.flush()
        return _info(link, now)


def _open(platform: Platform, token: str, what: str) -> ShareLink:
    """The live link of ``token``; every attempt is audited (refusals too, in their own
    transaction, so the refusal's rollback never loses the record)."""
    now = platform.clock.now()
    digest = hash_token(token) if 16 <= len(token) <= 128 else None
    with platform.store.session() as session:
        link = (
            session.scalar(sa.select(ShareLink).where(ShareLink.token_hash == digest))
            if digest
            else None
        )
        if link is not None:
            session.expunge(link)
    reason = None
    if link is None:
        reason = "unknown token"
    elif link.revoked_at is not None:
        reason = "revoked"
    elif link.expires_at <= now:
        reason = "expired"
    record_audit(
        platform,
        None,
        action="visit",
        resource=RESOURCE,
        resource_id=link.id if link else None,
        account_id=link.account_id if link else None,
        allowed=reason is None,
        actor_id="customer",
        detail=what if reason is None else f"{what}: refused, {reason}",
    )
    if reason is not None or link is None:
        raise NotFound("this link is not valid: it may have expired or been revoked")
    return link


@dataclass
class SharedPage:
    """What the customer sees: their plan, KPI progress, milestones, meetings, documents."""

    language: str
    account_name: str
    plan_title: str
    start_date: date
    end_date: date
    kgi: dict[str, Any] | None
    kpis: list[dict[str, Any]]
    milestones: list[dict[str, Any]]
    meetings: list[dict[str, Any]]
    documents: list[KeptDocument]
    expires_at: datetime


def _kpi(k: Any) -> dict[str, Any]:
    return {
        "name": k.name,
        "unit": k.unit,
        "baseline": k.baseline,
        "current": k.current,
        "target": k.target,
        "target_date": k.target_date,
        "progress": k.progress,
        "status": k.status.value,
    }


def shared_page(platform: Platform, token: str) -> SharedPage:
    """The page behind a link as of today (refused: :class:`NotFound`)."""
    link = _open(platform, token, "page")
    today = platform.today()
    plan = plan_of_account(platform, link.account_id)
    view = plan_view(platform, plan, today)
    meetings = []
    for m in view.meetings:
        day = next_meeting(m.first_date, m.cadence, today, m.last_date)
        if day is not None:
            meetings.append({"name": m.name, "cadence": m.cadence, "date": day})
    return SharedPage(
        language=plan.language,
        account_name=view.account_name,
        plan_title=plan.title,
        start_date=plan.start_date,
        end_date=plan.end_date,
        kgi=_kpi(view.kgi) if view.kgi else None,
        kpis=[_kpi(k) for k in view.kpis],
        milestones=[
            {
                "name": m["name"],
                "due_date": m["due_date"],
                "state": m["state"],
                "overdue": m["overdue"],
            }
            for m in view.milestones
        ],
        meetings=sorted(meetings, key=lambda m: m["date"]),
        documents=latest_documents(platform, link.account_id, customer_only=True),
        expires_at=link.expires_at,
    )


def shared_document(platform: Platform, token: str, document_id: int) -> tuple[KeptDocument, bytes]:
    """A customer-edition document of the link's account (others are not found)."""
    link = _open(platform, token, f"document {document_id}")
    return kept_file(platform, link.account_id, document_id, customer_only=True)


def render_shared_page(platform: Platform, page: SharedPage, token: str) -> str:
    """The shared page as HTML, in the plan's language."""

    lang = Lang(page.language)
    env = template_environment(platform.settings.documents_templates_dir)
    return env.get_template("share.html.j2").render(
        page=page,
        token=token,
        _=lang._,
        lang=lang,
        status=STATUS,
        kinds=KIND_TITLES,
        vendor=platform.settings.vendor_name,
        color=platform.settings.vendor_color,
        font=css_font_stack(page.language),
    )


def readable_shares(platform: Platform, caller: Caller, account_id: str | None) -> list[ShareInfo]:
    """Links of the accounts ``caller`` may read."""
    if account_id is not None:
        authorise_account(platform, caller, account_id, RESOURCE)
    return list_shares(
        platform, account_id=account_id, account_ids=readable_account_ids(platform, caller)
    )


def render_for(
    platform: Platform,
    caller: Caller,
    kind: str,
    account_id: str,
    *,
    fmt: str,
    as_of: date | None,
    lang: str | None,
    internal: bool,
) -> Rendered:
    """Render a document for a caller who may read the account; audited."""
    check_request(kind, fmt, lang)
    authorise_account(platform, caller, account_id, "documents")
    doc = render(platform, kind, account_id, fmt=fmt, as_of=as_of, lang=lang, internal=internal)
    record_audit(
        platform,
        caller,
        action="render",
        resource="documents",
        resource_id=doc.filename,
        account_id=account_id,
    )
    return doc


def share_for(
    platform: Platform, caller: Caller, account_id: str, days: int, contact_id: str | None
) -> NewShare:
    """Create a link for a caller who may change the account."""
    authorise_account(platform, caller, account_id, RESOURCE, write=True)
    return create_share(platform, account_id, days, contact_id=contact_id, caller=caller)
