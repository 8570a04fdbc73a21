"""Contacts, contracts, tickets, surveys and activities: one table of cases per resource."""

from __future__ import annotations

from typing import Any

import pytest
from tests.api.conftest import Api
from tests.api.test_accounts import audit_rows, strip

# resource -> (a valid new record under acme, a patch, the patched field's expected value,
#              a bad record with the fields expected in the errors)
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], Any, dict[str, Any], list[str]]] = {
    "contacts": (
        {"id": "c1", "account_id": "acme", "name": "Aiko Sato", "success_role": "evaluator"},
        {"title": "CIO"},
        "CIO",
        {"id": "c9", "account_id": "acme", "success_role": "boss", "email": 5},
        ["email", "name", "success_role"],
    ),
    "contracts": (
        {
            "id": "l1",
            "account_id": "acme",
            "product": "Core",
            "arr": 12000.5,
            "currency": "JPY",
            "start_date": "2025-01-01",
            "end_date": "2025-12-31",
        },
        {"quantity": 25},
        25,
        {
            "id": "l9",
            "account_id": "acme",
            "product": "Core",
            "arr": -1,
            "currency": "yen",
            "start_date": "2025-01-01",
        },
        ["arr", "currency", "end_date"],
    ),
    "tickets": (
        {"id": "t1", "account_id": "acme", "opened_at": "2025-06-01T09:00:00Z", "priority": "high"},
        {"status": "solved"},
        "solved",
        {"id": "t9", "account_id": "acme", "priority": "meh", "csat": 9},
        ["csat", "opened_at", "priority"],
    ),
    "surveys": (
        {
            "id": "s1",
            "account_id": "acme",
            "kind": "nps",
            "score": 9,
            "answered_at": "2025-06-02T00:00:00Z",
        },
        {"comment": "great"},
        "great",
        {"id": "s9", "account_id": "acme", "kind": "ces", "score": 11},
        ["answered_at", "kind", "score"],
    ),
    "activities": (
        {
            "id": "a1",
            "account_id": "acme",
            "kind": "meeting",
            "activity_date": "2025-06-03",
            "author_id": "csm-a",
        },
        {"text": "kick-off held"},
        "kick-off held",
        {"id": "a9", "account_id": "acme", "kind": "lunch", "activity_date": "06/03"},
        ["activity_date", "kind"],
    ),
}
RESOURCES = list(CASES)


@pytest.mark.parametrize("resource", RESOURCES)
def test_happy_path_create_get_list_patch_delete(api: Api, resource: str) -> None:
    record, patch, patched, _, _ = CASES[resource]
    r = api.post("csm-a", f"/{resource}", json=record)
    assert r.status_code == 201, r.text
    created = strip(r.json())
    for key, value in record.items():
        if key not in ("opened_at", "answered_at"):
            assert created[key] == value, key
    rid = record["id"]
    assert strip(api.get("viewer", f"/{resource}/{rid}").json()) == created
    listing = api.get("viewer", f"/{resource}", params={"account_id": "acme"}).json()
    assert [strip(i) for i in listing["items"]] == [created]
    assert api.get("viewer", f"/{resource}", params={"account_id": "globex"}).json()["total"] == 0
    r = api.patch("csm-a", f"/{resource}/{rid}", json=patch)
    assert r.status_code == 200, r.text
    assert r.json()[next(iter(patch))] == patched
    assert api.delete("csm-a", f"/{resource}/{rid}").status_code == 204
    assert api.get("csm-a", f"/{resource}/{rid}").status_code == 404
    assert audit_rows(api) == [
        ("csm-a", action, resource, rid, True) for action in ("create", "update", "delete")
    ]


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize(
    ("user", "expected"),
    [("admin", 201), ("manager", 201), ("csm-a", 201), ("csm-b", 403), ("viewer", 403)],
)
def test_each_role_creating_under_acme(api: Api, resource: str, user: str, expected: int) -> None:
    record = CASES[resource][0]
    r = api.post(user, f"/{resource}", json=record)
    assert r.status_code == expected, r.text
    if expected == 403:
        assert audit_rows(api) == [(user, "create", resource, record["id"], False)]


@pytest.mark.parametrize("resource", RESOURCES)
def test_cross_account_access_is_denied(scoped_api: Api, resource: str) -> None:
    api = scoped_api
    record = CASES[resource][0]
    assert api.post("csm-a", f"/{resource}", json=record).status_code == 201
    rid = record["id"]
    # csm-b cannot see acme's records under csm_scope=own: not found, not forbidden
    assert api.get("csm-b", f"/{resource}/{rid}").status_code == 404
    assert api.get("csm-b", f"/{resource}").json()["total"] == 0
    assert api.patch("csm-b", f"/{resource}/{rid}", json=CASES[resource][1]).status_code == 404
    assert api.delete("csm-b", f"/{resource}/{rid}").status_code == 404
    # ... and cannot put a record under an account outside their book: same as unknown
    moved = {**record, "id": "x2", "account_id": "acme"}
    r = api.post("csm-b", f"/{resource}", json=moved)
    assert r.status_code == 422
    assert {"message": "no account acme", "field": "account_id"} in r.json()["errors"]
    denied = [row for row in audit_rows(api) if not row[4]]
    assert [(row[0], row[1]) for row in denied] == [
        ("csm-b", "read"),
        ("csm-b", "update"),
        ("csm-b", "delete"),
        ("csm-b", "create"),
    ]


@pytest.mark.parametrize("resource", RESOURCES)
def test_bad_input_lists_each_field(api: Api, resource: str) -> None:
    bad, fields = CASES[resource][3], CASES[resource][4]
    r = api.post("manager", f"/{resource}", json=bad)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert sorted(e["field"] for e in r.json()["errors"]) == fields


def test_rules_over_the_whole_record(api: Api) -> None:
    r = api.post(
        "manager",
        "/surveys",
        json={
            "id": "s2",
            "account_id": "acme",
            "kind": "csat",
            "score": 9,
            "answered_at": "2025-06-02T00:00:00Z",
        },
    )
    # the import's rule over the whole row, with the import's message
    assert r.json()["errors"] == [
        {
            "message": "csat score must be between 1 and 5, got 9",
            "where": "request body score",
            "field": "score",
        }
    ]
    api.post("manager", "/contracts", json=CASES["contracts"][0])
    # a patch is merged into the stored line and the whole line checked again
    r = api.patch("manager", "/contracts/l1", json={"end_date": "2024-12-31"})
    assert r.json()["errors"] == [
        {"message": "end_date 2024-12-31 is before start_date 2025-01-01", "field": "end_date"}
    ]
    r = api.post("manager", "/contacts", json={"id": "c5", "account_id": "nope", "name": "N"})
    assert r.json()["errors"] == [{"message": "no account nope", "field": "account_id"}]
