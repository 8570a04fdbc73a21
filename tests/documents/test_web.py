"""Download buttons and "Share with customer" in the UI (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.documents.seed import HEALTH_MARKER, SECRET_NOTE, seed
from tests.web.conftest import login, web_platform  # noqa: F401 - fixtures

from kizuna.platform import Platform
from kizuna.server import create_server


@pytest.fixture
def client(web_platform: Platform) -> Iterator[TestClient]:  # noqa: F811
    """The server as ``kizuna serve`` builds it: the API (with the public share pages) and
    the UI at ``/ui``."""
    with TestClient(create_server(web_platform, background=False)) as c:
        yield c


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_download_and_share_from_the_plan_page(
    client: TestClient,
    web_platform: Platform,  # noqa: F811
) -> None:
    seed(web_platform)
    login(client, "carl")
    assert 'data-doc="ebr-pptx"' in client.get("/ui/accounts/acme").text
    plan = client.get("/ui/accounts/acme/plan").text
    for button in ("plan-pdf", "meeting-pptx", "ebr-pdf", "ebr-internal", "share-form"):
        assert button in plan
    pdf = client.get("/ui/accounts/acme/documents/ebr?format=pdf&as_of=2025-06-30")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert "attachment" in pdf.headers["content-disposition"]
    bad = client.get("/ui/accounts/acme/documents/ebr?format=docx")
    assert bad.status_code == 422

    made = client.post("/ui/accounts/acme/share", data={"csrf_token": _csrf(plan), "days": "14"})
    assert made.status_code == 201
    url = re.search(r'id="share-url" size="80"|value="(http[^"]+/share/[^"]+)"', made.text)
    assert url and url.group(1)
    token = url.group(1).rsplit("/", 1)[1]
    shared = client.get(f"/share/{token}")
    assert shared.status_code == 200
    assert HEALTH_MARKER not in shared.text and SECRET_NOTE not in shared.text
    share_id = re.search(r'data-share="([^"]+)"', made.text)
    assert share_id
    revoked = client.post(
        f"/ui/accounts/acme/share/{share_id.group(1)}/revoke", data={"csrf_token": _csrf(made.text)}
    )
    assert revoked.status_code == 200 and "Revoked" in revoked.text
    assert client.get(f"/share/{token}").status_code == 404
