"""Read-only links: created, opened, refused when expired or revoked, audited, scoped.

Runs on SQLite and PostgreSQL (the ``platform`` fixture), in the domain and over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from tests.api.conftest import Api, make_api
from tests.documents.seed import (
    AS_OF,
    HEALTH_MARKER,
    RIVAL_NAME,
    SECRET_NOTE,
    SHARED_ACTION,
    seed,
)

from kizuna.clock import FixedClock
from kizuna.documents import render
from kizuna.documents.sharing import (
    create_share,
    hash_token,
    list_shares,
    render_shared_page,
    revoke_share,
    shared_document,
    shared_page,
)
from kizuna.errors import InvalidInput, NotFound
from kizuna.platform import Platform
from kizuna.store.auth_models import AuditRecord
from kizuna.store.documents_models import ShareLink

MARKERS = (HEALTH_MARKER, SECRET_NOTE, RIVAL_NAME)


def visits(platform: Platform, share_id: str | None) -> list[tuple[bool, str | None]]:
    with platform.store.session() as s:
        return [
            (r.allowed, r.detail)
            for r in s.scalars(
                sa.select(AuditRecord)
                .where(AuditRecord.action == "visit", AuditRecord.resource_id == share_id)
                .order_by(AuditRecord.id)
            )
        ]


def test_a_shared_page_shows_only_the_customers_plan(platform: Platform) -> None:
    seed(platform)
    assert isinstance(platform.clock, FixedClock)
    customer = render(platform, "ebr", "acme", fmt="pdf", as_of=AS_OF)
    internal = render(platform, "meeting", "acme", fmt="html", as_of=AS_OF, internal=True)
    assert SECRET_NOTE.encode() in internal.content  # the internal edition has the note

    new = create_share(platform, "acme", 7, contact_id="eve", created_by="carl")
    assert new.url == f"http://127.0.0.1:8000/share/{new.token}"
    with platform.store.session() as s:
        stored = s.get(ShareLink, new.info.id)
        assert stored is not None
        assert stored.token_hash == hash_token(new.token) and new.token not in stored.token_hash

    page = shared_page(platform, new.token)
    html = render_shared_page(platform, page, new.token)
    for expected in (
        "Acme Corp",
        "Acme success plan",
        "Support tickets per month",
        "Weekly logins",
        "Hours saved",
        "Reports live",
        "API in production",
        "Monthly review",
    ):
        assert expected in html, expected
    for marker in (*MARKERS, SHARED_ACTION, "Health", "health"):
        assert marker not in html, marker
    # only the customer edition is listed and served
    assert [(d.kind, d.fmt, d.internal) for d in page.documents] == [("ebr", "pdf", False)]
    kept, content = shared_document(platform, new.token, page.documents[0].id)
    assert content == customer.content and kept.filename == customer.filename
    with platform.store.session() as s:
        internal_id = s.scalar(sa.text("select max(id) from rendered_documents"))
    with pytest.raises(NotFound):
        shared_document(platform, new.token, int(internal_id))
    assert visits(platform, new.info.id) == [
        (True, "page"),
        (True, f"document {page.documents[0].id}"),
        (True, f"document {internal_id}"),
    ]


def test_expired_and_revoked_links_are_refused(platform: Platform) -> None:
    seed(platform)
    clock = platform.clock
    assert isinstance(clock, FixedClock)
    start = clock.now()
    short = create_share(platform, "acme", 1)
    other = create_share(platform, "acme", 30)
    shared_page(platform, short.token)
    clock.set(start + timedelta(days=1, seconds=1))
    with pytest.raises(NotFound):
        shared_page(platform, short.token)
    shared_page(platform, other.token)
    revoke_share(platform, other.info.id, actor="carl")
    with pytest.raises(NotFound):  # at once: no cache
        shared_page(platform, other.token)
    with pytest.raises(NotFound):
        shared_page(platform, "x" * 43)
    assert visits(platform, short.info.id) == [(True, "page"), (False, "page: refused, expired")]
    assert visits(platform, other.info.id) == [(True, "page"), (False, "page: refused, revoked")]
    assert visits(platform, None) == [(False, "page: refused, unknown token")]
    states = {(i.id, i.active) for i in list_shares(platform, account_id="acme")}
    assert states == {(short.info.id, False), (other.info.id, False)}


def test_bad_share_requests(platform: Platform) -> None:
    seed(platform)
    with pytest.raises(InvalidInput) as err:
        create_share(platform, "acme", 0, contact_id="nobody")
    assert {p.field for p in err.value.problems} == {"days", "contact_id"}
    with pytest.raises(NotFound):
        create_share(platform, "rival", 5)  # no plan, no page


@pytest.fixture
def scoped(platform: Platform) -> Iterator[Api]:
    yield from make_api(platform, csm_scope="own")


def test_share_links_and_documents_over_http(scoped: Api) -> None:
    api = scoped
    seed(api.platform)
    clock = api.platform.clock
    assert isinstance(clock, FixedClock)
    clock.set(datetime(2025, 6, 30, 12, tzinfo=UTC))
    url = "/accounts/acme/documents/ebr?format=pdf&as_of=2025-06-30"
    assert api.get("csm-b", url).status_code == 404  # outside csm-b's book
    r = api.get("csm-a", url)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    assert api.get("csm-a", "/accounts/acme/documents/plan?format=docx").status_code == 422

    body = {"days": 10, "contact_id": "eve"}
    assert api.post("viewer", "/accounts/acme/share-links", body).status_code == 403
    assert api.post("csm-b", "/accounts/acme/share-links", body).status_code == 404
    assert api.post("csm-a", "/accounts/acme/share-links", {"days": 0}).status_code == 422
    created = api.post("csm-a", "/accounts/acme/share-links", body)
    assert created.status_code == 201, created.text
    link = created.json()
    token = link["url"].rsplit("/", 1)[1]
    assert [s["id"] for s in api.get("csm-a", "/share-links").json()] == [link["id"]]
    assert api.get("csm-b", "/share-links").json() == []

    page = api.client.get(f"/share/{token}")  # no credentials: the customer
    assert page.status_code == 200 and "Acme success plan" in page.text
    assert page.headers["cache-control"] == "no-store"
    for marker in MARKERS:
        assert marker not in page.text
    doc_link = page.text.split(f'href="/share/{token}/documents/')[1].split('"')[0]
    download = api.client.get(f"/share/{token}/documents/{doc_link}")
    assert download.status_code == 200 and download.content.startswith(b"%PDF")

    assert api.delete("csm-b", f"/share-links/{link['id']}").status_code == 404
    assert api.delete("csm-a", f"/share-links/{link['id']}").status_code == 200
    assert api.client.get(f"/share/{token}").status_code == 404
    assert visits(api.platform, link["id"]) == [
        (True, "page"),
        (True, f"document {doc_link}"),
        (False, "page: refused, revoked"),
    ]
