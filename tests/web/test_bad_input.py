"""Bad input never shows a stack trace: pages report bad parameters, forms their fields.

On SQLite and PostgreSQL (PostgreSQL refuses NUL characters in text: they must
never reach it).
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from .conftest import login

SCRIPT = "<script>alert(1)</script>"
SQL = "'; DROP TABLE accounts; --"
PAGES = ["/ui/portfolio", "/ui/accounts", "/ui/retention", "/ui/onboarding", "/ui/admin"]


def _clean(response_text: str) -> None:
    assert "Traceback" not in response_text
    assert SCRIPT not in response_text  # escaped wherever it is echoed


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("path", PAGES)
def test_bad_query_parameters_are_reported_not_crashing(client: TestClient, path: str) -> None:
    login(client, "ada")
    bad = {
        "segment": "no-such-segment",
        "owner": SCRIPT,
        "region": SQL,
        "period": "fortnight",
        "page": "99999999999999999999999999",
        "sort": SQL,
        "band": SCRIPT,
        "q": SCRIPT,
        "as_of": "2025-13-45",  # not a parameter of any page: ignored
        "from": "yesterday",
    }
    response = client.get(path, params=bad)
    assert response.status_code == 200, response.text[:300]
    _clean(response.text)
    if path != "/ui/admin":  # the admin page has no filters
        for field in ("segment", "owner", "region"):
            assert f'data-error-for="{field}"' in response.text, field
    # Every page still works with its good parameters after bad ones.
    assert client.get(path).status_code == 200


def test_account_list_escapes_and_bounds_its_parameters(client: TestClient) -> None:
    login(client, "ada")
    for q in (SCRIPT, SQL, "Acme' OR '1'='1"):
        response = client.get("/ui/accounts", params={"q": q})
        assert response.status_code == 200
        _clean(response.text)
        assert re.findall(r'<tr data-account="([^"]+)"', response.text) == []
    echoed = client.get("/ui/accounts", params={"q": SCRIPT}).text
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in echoed
    huge = client.get("/ui/accounts", params={"page": "99999999"}).text
    assert "Page" not in huge or "of 1" in huge  # one page of four accounts: the last one
    assert re.findall(r'<tr data-account="([^"]+)"', huge) == ["acme", "bolt", "cirrus", "delta"]
    for value in ("1e5", "-3", "0", "99999999999999999999"):
        response = client.get("/ui/accounts", params={"page": value})
        assert 'data-error-for="page"' in response.text, value
    nul = client.get("/ui/accounts?q=ac%00me&segment=smb%00")
    assert nul.status_code == 200
    assert 'data-error-for="q"' in nul.text and 'data-error-for="segment"' in nul.text
    long = client.get("/ui/accounts", params={"q": "a" * 5000})
    assert long.status_code == 200 and 'data-error-for="q"' in long.text


def test_csv_download_refuses_bad_parameters(client: TestClient) -> None:
    login(client, "ada")
    response = client.get("/ui/accounts.csv", params={"segment": SCRIPT, "sort": "shoe_size"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "bad download parameters: segment, sort" in response.text
    _clean(response.text)


@pytest.mark.parametrize(
    "account_id", [SCRIPT, SQL, "%00", "x" * 300, "acme%2F..%2Fbolt", "🙂", "acme'--"]
)
def test_unknown_account_ids_are_not_found(client: TestClient, account_id: str) -> None:
    login(client, "ada")
    response = client.get(f"/ui/accounts/{account_id}")
    assert response.status_code == 404
    _clean(response.text)
    assert "Not found" in response.text


def test_login_form_with_odd_input(client: TestClient) -> None:
    for data in (
        {"email": SCRIPT, "password": SQL},
        {"email": "a" * 10_000, "password": "b" * 10_000},
        {"email": "carl@example.com\x00", "password": "x"},
    ):
        response = client.post("/ui/login", data=data)
        assert response.status_code == 401
        _clean(response.text)
        assert "Wrong e-mail or password." in response.text
    login_page = client.get("/ui/login", params={"next": "javascript:alert(1)"})
    assert 'value="javascript' not in login_page.text
    switch = client.get(
        "/ui/lang/xx", params={"next": "https://evil.example/"}, follow_redirects=False
    )
    assert switch.status_code == 303 and switch.headers["location"] == "/ui/portfolio"
    assert "kizuna_lang" not in switch.headers.get("set-cookie", "")


def test_milestone_form_reports_every_problem(client: TestClient) -> None:
    login(client, "carl")
    csrf = _csrf(client.get("/ui/accounts/acme").text)
    url = "/ui/accounts/acme/milestones/kickoff_held/done"
    bad_date = client.post(url, data={"csrf_token": csrf, "done_on": "2025-13-45"})
    assert bad_date.status_code == 422
    assert 'data-error-for="done_on">use a date like 2025-06-30' in bad_date.text
    future = client.post(url, data={"csrf_token": csrf, "done_on": "2031-01-01"})
    assert future.status_code == 422 and "the date is in the future" in future.text
    unknown = client.post(
        "/ui/accounts/acme/milestones/no_such_step/done",
        data={"csrf_token": csrf, "done_on": "tomorrow"},
    )
    assert unknown.status_code == 422
    problems = unknown.text.split('id="milestone-problems"')[1].split("</ul>")[0]
    assert "no such onboarding milestone" in problems
    no_token = client.post(url, data={"done_on": "2025-06-01"})
    assert no_token.status_code == 403 and "the form expired" in no_token.text
    for response in (bad_date, future, unknown, no_token):
        _clean(response.text)
    # Nothing was marked done.
    html = client.get("/ui/accounts/acme").text
    assert 'data-milestone="kickoff_held" data-status="overdue"' in html


def test_admin_forms_report_field_errors(client: TestClient) -> None:
    login(client, "ada")
    csrf = _csrf(client.get("/ui/admin").text)
    token = client.post("/ui/admin/tokens", data={"csrf_token": csrf})
    assert token.status_code == 422
    assert 'data-error-for="member_id"' in token.text and 'data-error-for="name"' in token.text
    nobody = client.post(
        "/ui/admin/tokens", data={"csrf_token": csrf, "member_id": SCRIPT, "name": "ci"}
    )
    assert nobody.status_code == 422 and "No such user." in nobody.text
    source = client.post("/ui/admin/sources", data={"csrf_token": csrf, "name": "  "})
    assert source.status_code == 422 and 'data-error-for="source_name"' in source.text
    upload = client.post(
        "/ui/admin/import",
        data={"csrf_token": csrf, "table": "accounts"},
        files={"file": ("evil.exe", b"MZ\x90\x00", "application/octet-stream")},
    )
    assert upload.status_code == 422 and "Use a .csv or .jsonl file." in upload.text
    for response in (token, nobody, source, upload):
        _clean(response.text)
    revoke = client.post(f"/ui/admin/tokens/{SCRIPT}/revoke", data={"csrf_token": csrf})
    assert revoke.status_code in (200, 404)
    _clean(revoke.text)
