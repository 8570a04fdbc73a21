"""/accounts: happy path, every role, cross-account access, bad input — on both backends."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from tests.api.conftest import Api

from kizuna.store.auth_models import AuditRecord

TIMESTAMPS = ("created_at", "updated_at")


def strip(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in TIMESTAMPS}


def audit_rows(api: Api) -> list[tuple[str | None, str, str, str | None, bool]]:
    with api.platform.store.session() as s:
        rows = s.execute(
            sa.select(
                AuditRecord.actor_id,
                AuditRecord.action,
                AuditRecord.resource,
                AuditRecord.resource_id,
                AuditRecord.allowed,
            ).order_by(AuditRecord.id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_get_account_returns_the_whole_record(api: Api) -> None:
    r = api.get("viewer", "/accounts/acme")
    assert r.status_code == 200
    assert strip(r.json()) == {
        "id": "acme",
        "name": "Acme",
        "parent_id": None,
        "segment": "enterprise",
        "industry": None,
        "region": None,
        "owner_id": "csm-a",
        "created_date": None,
        "attributes": {},
    }
    assert r.headers["x-request-id"]


def test_list_filters_sorts_and_pages(api: Api) -> None:
    r = api.get("manager", "/accounts", params={"segment": "smb", "sort": "-name"})
    assert r.status_code == 200
    body = r.json()
    assert [a["id"] for a in body["items"]] == ["initech", "globex"]
    assert (body["total"], body["limit"], body["offset"]) == (2, 100, 0)
    r = api.get("manager", "/accounts", params={"sort": "name", "limit": 1, "offset": 1})
    assert [a["id"] for a in r.json()["items"]] == ["globex"]
    assert r.json()["total"] == 3
    r = api.get("manager", "/accounts", params={"q": "ACM"})
    assert [a["id"] for a in r.json()["items"]] == ["acme"]


def test_create_update_delete_round_trip_is_audited(api: Api) -> None:
    new = {"id": "hooli", "name": "Hooli", "segment": "mid", "owner_id": "csm-a"}
    r = api.post("manager", "/accounts", json=new)
    assert r.status_code == 201, r.text
    assert strip(r.json()) == {
        "id": "hooli",
        "name": "Hooli",
        "parent_id": None,
        "segment": "mid",
        "industry": None,
        "region": None,
        "owner_id": "csm-a",
        "created_date": None,
        "attributes": {},
    }
    r = api.patch("csm-a", "/accounts/hooli", json={"region": "APAC", "parent_id": "acme"})
    assert r.status_code == 200, r.text
    assert (r.json()["region"], r.json()["parent_id"]) == ("APAC", "acme")
    assert api.delete("manager", "/accounts/hooli").status_code == 204
    assert api.get("manager", "/accounts/hooli").status_code == 404
    assert audit_rows(api) == [
        ("manager", "create", "accounts", "hooli", True),
        ("csm-a", "update", "accounts", "hooli", True),
        ("manager", "delete", "accounts", "hooli", True),
    ]


@pytest.mark.parametrize(
    ("user", "own_update", "other_update", "create", "delete"),
    [
        ("admin", 200, 200, 201, 204),
        ("manager", 200, 200, 201, 204),
        ("csm-a", 200, 403, 201, 403),
        ("viewer", 403, 403, 403, 403),
    ],
)
def test_each_role_can_write_what_it_should(
    api: Api, user: str, own_update: int, other_update: int, create: int, delete: int
) -> None:
    assert api.patch(user, "/accounts/acme", json={"region": "EMEA"}).status_code == own_update
    assert api.patch(user, "/accounts/globex", json={"region": "EMEA"}).status_code == other_update
    assert api.post(user, "/accounts", json={"id": "new", "name": "New"}).status_code == create
    assert api.delete(user, "/accounts/acme").status_code == delete
    for reader in ("admin", "manager", "csm-a", "csm-b", "viewer"):
        assert api.get(reader, "/accounts/globex").status_code == 200


def test_a_csm_creates_accounts_in_their_own_book_only(api: Api) -> None:
    r = api.post("csm-a", "/accounts", json={"id": "mine", "name": "Mine"})
    assert r.json()["owner_id"] == "csm-a"
    r = api.post("csm-a", "/accounts", json={"id": "theirs", "name": "T", "owner_id": "csm-b"})
    assert r.status_code == 403
    r = api.patch("csm-a", "/accounts/acme", json={"owner_id": "csm-b"})
    assert r.status_code == 403
    assert r.headers["content-type"] == "application/problem+json"


def test_denied_write_is_403_problem_and_audited(api: Api) -> None:
    r = api.patch("csm-a", "/accounts/globex", json={"region": "EMEA"})
    assert r.status_code == 403
    body = r.json()
    assert body == {
        "type": "about:blank",
        "title": "Permission denied",
        "status": 403,
        "detail": "csm csm-a may not change records of account globex",
        "instance": "/accounts/globex",
        "request_id": r.headers["x-request-id"],
    }
    assert audit_rows(api) == [("csm-a", "update", "accounts", "globex", False)]


def test_scoped_csm_sees_only_their_book_and_others_do_not_leak(scoped_api: Api) -> None:
    api = scoped_api
    r = api.get("csm-a", "/accounts")
    assert [a["id"] for a in r.json()["items"]] == ["acme"]
    assert r.json()["total"] == 1
    outside = api.get("csm-a", "/accounts/globex")
    missing = api.get("csm-a", "/accounts/no-such")
    assert (outside.status_code, missing.status_code) == (404, 404)
    assert outside.json()["detail"] == "no account globex"
    assert api.patch("csm-a", "/accounts/globex", json={"region": "x"}).status_code == 404
    assert api.get("manager", "/accounts").json()["total"] == 3
    assert api.get("viewer", "/accounts").json()["total"] == 3
    assert audit_rows(api) == [
        ("csm-a", "read", "accounts", "globex", False),
        ("csm-a", "update", "accounts", "globex", False),
    ]


def test_bad_input_lists_every_field(api: Api) -> None:
    r = api.post(
        "manager",
        "/accounts",
        json={"id": "", "name": "x" * 301, "created_date": "not a date", "colour": "red"},
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["detail"] == "the request has 4 invalid fields"
    assert sorted(e["field"] for e in body["errors"]) == ["colour", "created_date", "id", "name"]
    assert all(e["where"].startswith("request body ") for e in body["errors"])


def test_semantic_problems_are_reported_together(api: Api) -> None:
    r = api.post(
        "manager",
        "/accounts",
        json={"id": "loop", "name": "L", "parent_id": "nope", "owner_id": "nobody"},
    )
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {"message": "no accounts row nope", "field": "parent_id"},
        {"message": "no team_members row nobody", "field": "owner_id"},
    ]
    r = api.patch("manager", "/accounts/acme", json={"name": None, "parent_id": "acme"})
    assert r.status_code == 422
    assert r.json()["errors"] == [{"message": "must not be null", "field": "name"}]
    r = api.patch("manager", "/accounts/acme", json={"parent_id": "acme"})
    assert r.json()["errors"] == [
        {"message": "the parent chain would loop back to this account", "field": "parent_id"}
    ]


def test_errors_for_unknown_sort_duplicate_and_missing_auth(api: Api) -> None:
    r = api.get("manager", "/accounts", params={"sort": "password"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "sort"
    r = api.post("manager", "/accounts", json={"id": "acme", "name": "Again"})
    assert (r.status_code, r.json()["detail"]) == (409, "account acme already exists")
    r = api.client.get("/accounts/acme")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    r = api.client.get("/accounts/acme", headers={"Authorization": "Bearer kzt_wrong"})
    assert (r.status_code, r.json()["detail"]) == (401, "unknown API token")
