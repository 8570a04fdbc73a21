"""Render a document of an account as of a date, keep it in the data folder, list them.

Rendered files live under ``<home>/documents/<account>/`` (so backups of the
data folder include them) and each is recorded, so the share page can list an
account's latest customer-edition documents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from kizuna.documents import build
from kizuna.documents.facts import SeriesCache, gather, previous_meeting
from kizuna.documents.i18n import LANGUAGES, Lang
from kizuna.documents.model import KIND_FORMATS, KINDS, Document
from kizuna.documents.render import render_html, render_pdf, render_pptx
from kizuna.errors import InvalidInput, NotFound, Problem
from kizuna.platform import Platform
from kizuna.store.documents_models import RenderedDocument

MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


@dataclass
class Rendered:
    kind: str
    fmt: str
    language: str
    internal: bool
    as_of: date
    account_id: str
    content: bytes

    @property
    def filename(self) -> str:
        edition = "internal" if self.internal else "customer"
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", self.account_id)
        return f"{safe}-{self.kind}-{self.as_of.isoformat()}-{self.language}-{edition}.{self.fmt}"

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.fmt]


def check_request(kind: str, fmt: str, lang: str | None) -> None:
    """Reject an unknown kind, format or language, naming each bad field."""
    problems = []
    if kind not in KINDS:
        problems.append(Problem(f"unknown document {kind!r}; use {', '.join(KINDS)}", field="kind"))
    elif fmt not in KIND_FORMATS[kind]:
        problems.append(
            Problem(
                f"a {kind} document comes as {', '.join(KIND_FORMATS[kind])}, not {fmt!r}",
                field="format",
            )
        )
    if lang is not None and lang not in LANGUAGES:
        problems.append(Problem(f"unknown language {lang!r}; use en or ja", field="lang"))
    if problems:
        raise InvalidInput("bad document request", problems)


def build_document(
    platform: Platform,
    kind: str,
    account_id: str,
    as_of: date,
    *,
    lang: str | None = None,
    internal: bool = False,
    series: SeriesCache | None = None,
) -> Document:
    """The document ``kind`` of ``account_id`` as of ``as_of`` (language: the plan's)."""
    check_request(kind, "html", lang)
    previous = None
    if kind == "meeting":
        previous = previous_meeting(platform, account_id, as_of)
        since = previous or as_of - timedelta(days=build.DEFAULT_MEETING_PERIOD_DAYS)
    elif kind == "ebr":
        since = as_of - timedelta(days=build.EBR_PERIOD_DAYS)
    else:
        since = as_of - timedelta(days=build.EBR_PERIOD_DAYS)
    facts = gather(platform, account_id, as_of, since=since, series=series, internal=internal)
    language = Lang(lang or facts.language)
    settings = platform.settings
    if kind == "plan":
        return build.plan_document(facts, language, internal, settings)
    if kind == "meeting":
        return build.meeting_report(facts, language, internal, settings, previous)
    return build.ebr(facts, language, internal, settings)


def render(
    platform: Platform,
    kind: str,
    account_id: str,
    *,
    fmt: str,
    as_of: date | None = None,
    lang: str | None = None,
    internal: bool = False,
    series: SeriesCache | None = None,
    keep: bool = True,
) -> Rendered:
    """Render one document; with ``keep`` it is also saved in the data folder and recorded."""
    check_request(kind, fmt, lang)
    day = as_of or platform.today()
    doc = build_document(
        platform, kind, account_id, day, lang=lang, internal=internal, series=series
    )
    if fmt == "html":
        content = render_html(doc, platform.settings).encode()
    elif fmt == "pdf":
        content = render_pdf(doc, platform.settings)
    else:
        content = render_pptx(doc, platform.settings)
    out = Rendered(kind, fmt, doc.language, internal, day, account_id, content)
    if keep:
        keep_document(platform, out)
    return out


def documents_dir(platform: Platform) -> Path:
    return platform.settings.home / "documents"


def keep_document(platform: Platform, doc: Rendered) -> Path:
    """Write ``doc`` under the data folder (atomically) and record it."""
    relative = Path("documents") / re.sub(r"[^A-Za-z0-9_.-]", "_", doc.account_id) / doc.filename
    target = platform.settings.home / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_suffix(target.suffix + ".part")
    temp.write_bytes(doc.content)
    temp.replace(target)
    with platform.store.session() as session:
        session.add(
            RenderedDocument(
                account_id=doc.account_id,
                kind=doc.kind,
                fmt=doc.fmt,
                language=doc.language,
                internal=doc.internal,
                as_of=doc.as_of,
                path=relative.as_posix(),
                created_at=platform.clock.now(),
            )
        )
    return target


@dataclass
class KeptDocument:
    id: int
    account_id: str
    kind: str
    fmt: str
    language: str
    internal: bool
    as_of: date
    created_at: datetime
    filename: str


def latest_documents(
    platform: Platform, account_id: str, *, customer_only: bool = True
) -> list[KeptDocument]:
    """The newest kept document of each kind, format and language of an account."""
    with platform.store.session() as session:
        query = sa.select(RenderedDocument).where(RenderedDocument.account_id == account_id)
        if customer_only:
            query = query.where(RenderedDocument.internal.is_(False))
        rows = session.scalars(
            query.order_by(RenderedDocument.created_at.desc(), RenderedDocument.id.desc())
        ).all()
    seen: set[tuple[str, str, str, bool]] = set()
    out = []
    for r in rows:
        key = (r.kind, r.fmt, r.language, r.internal)
        if key in seen or not (platform.settings.home / r.path).is_file():
            continue
        seen.add(key)
        out.append(
            KeptDocument(
                r.id,
                r.account_id,
                r.kind,
                r.fmt,
                r.language,
                r.internal,
                r.as_of,
                r.created_at,
                Path(r.path).name,
            )
        )
    return out


def kept_file(
    platform: Platform, account_id: str, document_id: int, *, customer_only: bool = True
) -> tuple[KeptDocument, bytes]:
    """One kept document of ``account_id`` (another account's id is simply not found)."""
    with platform.store.session() as session:
        r = session.get(RenderedDocument, document_id)
        if r is None or r.account_id != account_id or (customer_only and r.internal):
            raise NotFound(f"no document {document_id}")
        path = platform.settings.home / r.path
        kept = KeptDocument(
            r.id,
            r.account_id,
            r.kind,
            r.fmt,
            r.language,
            r.internal,
            r.as_of,
            r.created_at,
            Path(r.path).name,
        )
    if not path.is_file():
        raise NotFound(f"no document {document_id}")
    return kept, path.read_bytes()
