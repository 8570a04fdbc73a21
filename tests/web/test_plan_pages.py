"""The success plan pages through the test client (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from .conftest import login


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def test_create_edit_and_overview(client: TestClient) -> None:
    login(client, "carl")
    page = client.get("/ui/accounts/acme")
    assert 'id="plan-link"' in page.text
    empty = client.get("/ui/accounts/acme/plan")
    assert empty.status_code == 200 and 'id="create-plan"' in empty.text
    csrf = _csrf(empty.text)
    created = client.post(
        "/ui/accounts/acme/plan",
        data={
            "csrf_token": csrf,
            "template": "enterprise_high_touch",
            "start_date": "2025-06-01",
            "language": "ja",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303, created.text
    plan = client.get("/ui/accounts/acme/plan").text
    assert "エンタープライズ・ハイタッチ成果支援計画(6か月)" in plan
    assert plan.count('<tr data-initiative="') == 3
    # a form with bad fields answers 422 with each field's error, nothing added
    bad = client.post(
        "/ui/accounts/acme/plan/initiatives",
        data={"csrf_token": csrf, "key": "x y", "name": "", "impact": "9", "difficulty": "2"},
    )
    assert bad.status_code == 422
    for name in ("key", "name", "impact"):
        assert f'data-error-for="{name}"' in bad.text
    assert bad.text.count('<tr data-initiative="') == 3
    ok = client.post(
        "/ui/accounts/acme/plan/initiatives",
        data={
            "csrf_token": csrf,
            "key": "sso",
            "name": "Single sign-on",
            "impact": "5",
            "difficulty": "1",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303
    plan = client.get("/ui/accounts/acme/plan").text
    first = re.search(r'<tr data-initiative="([^"]+)">\s*<td>1</td>', plan)
    assert first and first.group(1) == "sso"  # impact 5, difficulty 1: first
    overview = client.get("/ui/plans")
    assert overview.status_code == 200 and '<tr data-account="acme"' in overview.text
    assert client.get("/ui/plans?status=bogus").status_code == 200
    # another CSM's account can be read (csm_scope all)
    assert client.get("/ui/accounts/cirrus/plan").status_code == 200  # csm_scope all


def test_a_kpi_edit_with_target_equal_to_baseline_is_refused_with_the_field(
    client: TestClient,
) -> None:
    login(client, "carl")
    csrf = _csrf(client.get("/ui/accounts/acme/plan").text)
    client.post(
        "/ui/accounts/acme/plan",
        data={"csrf_token": csrf, "template": "mid_market", "start_date": "2025-06-01"},
    )
    page = client.get("/ui/accounts/acme/plan").text
    kpi_id = re.search(r'/plan/kpis/(\d+)"', page)
    assert kpi_id
    url = f"/ui/accounts/acme/plan/kpis/{kpi_id.group(1)}"
    bad = client.post(url, data={"csrf_token": csrf, "baseline": "5", "target": "5"})
    assert bad.status_code == 422
    assert "the target must differ from the baseline" in bad.text
    ok = client.post(url, data={"csrf_token": csrf, "target": "123"}, follow_redirects=False)
    assert ok.status_code == 303
    assert 'value="123.0"' in client.get("/ui/accounts/acme/plan").text
