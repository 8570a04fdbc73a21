"""Defects found by trying to break the web UI (issue 13): each test failed before its fix."""

from __future__ import annotations

import csv
import io
import re

from fastapi.testclient import TestClient
from tests.web.conftest import login

from kizuna.platform import Platform
from kizuna.store.models import Account


def _csrf(client: TestClient, path: str = "/ui/portfolio") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert match is not None
    return match.group(1)


# -- 5. CSV formula injection ----------------------------------------------------


def test_csv_download_neutralises_formulas(client: TestClient, web_platform: Platform) -> None:
    with web_platform.store.session() as session:
        session.add_all(
            [
                Account(
                    id="evil1",
                    name='=HYPERLINK("http://evil.example","x")',
                    segment="smb",
                    owner_id="carl",
                ),
                Account(id="evil2", name="+1+cmd|' /C calc'!A0", segment="smb", owner_id="carl"),
                Account(id="evil3", name="-2+3", segment="smb", owner_id="carl"),
                Account(id="evil4", name="@SUM(A1)", segment="smb", owner_id="carl"),
                Account(id="fine", name="Plain - Name", segment="smb", owner_id="carl"),
            ]
        )
    login(client, "ada")
    response = client.get("/ui/accounts.csv?segment=smb")
    # UTF-8 with a byte order mark, so that Excel opens Japanese names correctly
    assert response.content.startswith("\ufeff".encode())
    text = response.content.decode("utf-8-sig")
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["evil1"]["name"] == '\'=HYPERLINK("http://evil.example","x")'
    assert rows["evil2"]["name"] == "'+1+cmd|' /C calc'!A0"
    assert rows["evil3"]["name"] == "'-2+3"
    assert rows["evil4"]["name"] == "'@SUM(A1)"
    assert rows["fine"]["name"] == "Plain - Name"


# -- 9. odd upload names ---------------------------------------------------------


def test_uploads_with_long_or_nul_file_names_are_handled(client: TestClient) -> None:
    login(client, "ada")
    csrf = _csrf(client, "/ui/admin")
    good = b"id,name,segment,region,owner_id\ne1,Echo,enterprise,APAC,carl\n"
    for name in ("a" * 300 + ".csv", "acc\x00ounts.csv", "../../etc/passwd.csv", "..csv"):
        response = client.post(
            "/ui/admin/import",
            data={"csrf_token": csrf, "table": "accounts"},
            files={"file": (name, good, "text/csv")},
        )
        assert response.status_code == 200, (name[:20], response.status_code)
        assert "Traceback" not in response.text
    # a name so long the multipart parser refuses the request: a clean 400, not a 500
    response = client.post(
        "/ui/admin/import",
        data={"csrf_token": csrf, "table": "accounts"},
        files={"file": ("a" * 5000 + ".csv", good, "text/csv")},
    )
    assert response.status_code == 400


# -- 12. security headers, logout ends the session ------------------------------


def test_pages_send_security_headers(client: TestClient) -> None:
    for path in ("/ui/login", "/ui/static/kizuna.css"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"


def test_logging_out_of_the_ui_ends_the_session_on_the_server(client: TestClient) -> None:
    login(client, "carl")
    stolen = client.cookies["kizuna_session"]
    client.post("/ui/logout", data={"csrf_token": _csrf(client)})
    page = client.get(
        "/ui/portfolio", headers={"Cookie": f"kizuna_session={stolen}"}, follow_redirects=False
    )
    assert page.status_code == 303
