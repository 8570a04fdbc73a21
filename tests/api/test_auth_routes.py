"""Login with a session cookie and CSRF, personal tokens, admin-only routes, the audit log."""

from __future__ import annotations

from tests.api.conftest import PASSWORD, Api
from tests.api.test_accounts import audit_rows


def login(api: Api, email: str = "csm-a@vendor.example", password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return api.client.post("/auth/login", json={"email": email, "password": password})


def test_login_sets_a_secure_httponly_cookie_and_returns_csrf(api: Api) -> None:
    r = login(api)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"] == {
        "id": "csm-a",
        "name": "Csm-A",
        "email": "csm-a@vendor.example",
        "role": "csm",
        "csm_scope": "all",
    }
    cookie = r.headers["set-cookie"]
    for flag in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"):
        assert flag in cookie
    # reads work with the cookie alone
    assert api.client.get("/auth/me").json()["id"] == "csm-a"
    assert api.client.get("/accounts/acme").status_code == 200
    # a change needs the CSRF token too
    r = api.client.patch("/accounts/acme", json={"region": "EMEA"})
    assert r.status_code == 403
    assert "X-CSRF-Token" in r.json()["detail"]
    r = api.client.patch(
        "/accounts/acme", json={"region": "EMEA"}, headers={"X-CSRF-Token": body["csrf_token"]}
    )
    assert r.status_code == 200
    csrf = {"X-CSRF-Token": body["csrf_token"]}
    assert api.client.post("/auth/logout").status_code == 403  # CSRF (issue 13)
    assert api.client.post("/auth/logout", headers=csrf).status_code == 204
    api.client.cookies.clear()
    assert api.client.get("/auth/me").status_code == 401


def test_wrong_password_and_unknown_email_look_the_same(api: Api) -> None:
    wrong = login(api, password="not the password")
    unknown = login(api, email="nobody@vendor.example")
    assert (wrong.status_code, unknown.status_code) == (401, 401)  # as docs/api.md says
    assert wrong.json()["detail"] == unknown.json()["detail"] == "wrong e-mail or password"
    assert [row[1:] for row in audit_rows(api)] == [("login", "session", None, False)] * 2


def test_tampered_cookie_is_rejected(api: Api) -> None:
    api.client.cookies.set("kizuna_session", "forged.value", domain="testserver")
    assert api.client.get("/auth/me").status_code == 401


def test_token_create_use_and_revoke(api: Api) -> None:
    r = api.post("viewer", "/tokens", json={"name": "laptop"})
    assert r.status_code == 201
    token, token_id = r.json()["token"], r.json()["info"]["id"]
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/auth/me", headers=headers).json()["role"] == "viewer"
    listed = api.get("viewer", "/tokens").json()
    assert sorted(t["name"] for t in listed) == ["laptop", "tests"]
    assert "token" not in listed[0]
    # another user cannot revoke it (it does not exist for them)
    assert api.delete("csm-a", f"/tokens/{token_id}").status_code == 404
    assert api.delete("viewer", f"/tokens/{token_id}").status_code == 204
    r = api.client.get("/auth/me", headers=headers)
    assert (r.status_code, r.json()["detail"]) == (401, "this API token was revoked")


def test_users_sources_and_audit_are_admin_only(api: Api) -> None:
    for user in ("manager", "csm-a", "viewer"):
        assert api.get(user, "/users").status_code == 403
        assert api.post(user, "/sources", json={"name": "web"}).status_code == 403
        assert api.get(user, "/audit").status_code == 403
    r = api.post(
        "admin",
        "/users",
        json={"id": "new", "name": "New CSM", "email": "New@Vendor.example", "role": "csm"},
    )
    assert r.status_code == 201
    assert r.json() == {
        "id": "new",
        "name": "New CSM",
        "email": "new@vendor.example",
        "role": "csm",
        "active": True,
        "has_password": False,
    }
    assert [u["id"] for u in api.get("admin", "/users").json()] == [
        "admin",
        "csm-a",
        "csm-b",
        "manager",
        "new",
        "viewer",
    ]
    r = api.post("admin", "/users", json={"id": "x", "name": "X", "email": "bad", "role": "boss"})
    assert sorted(e["field"] for e in r.json()["errors"]) == ["email", "role"]
    log = api.get("admin", "/audit").json()
    assert [(e["actor_id"], e["action"], e["resource"], e["allowed"]) for e in log][:2] == [
        ("admin", "create", "users", True),
        ("viewer", "get", "/audit", False),
    ]
    assert log[0]["request_id"]


def test_unknown_route_and_method_are_problems(api: Api) -> None:
    r = api.get("admin", "/nowhere")
    assert (r.status_code, r.headers["content-type"]) == (404, "application/problem+json")
    r = api.client.put("/accounts/acme", headers=api.auth("admin"), json={})
    assert (r.status_code, r.json()["title"]) == (405, "Method not allowed")
