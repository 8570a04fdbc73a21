"""Validation at the boundary: one definition of a valid row, ids without control characters,
and refusals that do not tell a scoped CSM which ids exist outside their book."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from tests.api.conftest import Api
from tests.api.test_accounts import audit_rows

from kizuna.customers import schemas
from kizuna.dataio.schemas import ROW_MODELS
from kizuna.dataio.validate import error_message

LINE = {
    "id": "l1",
    "account_id": "acme",
    "product": "Core",
    "arr": 100,
    "currency": "jpy",
    "start_date": "2025-01-01",
    "end_date": "2025-12-31",
}


def test_the_api_models_are_the_import_row_models() -> None:
    for resource, table in schemas.TABLE_OF.items():
        model_in = getattr(schemas, f"{_stem(resource)}In")
        patch = getattr(schemas, f"{_stem(resource)}Patch")
        assert issubclass(model_in, ROW_MODELS[table])
        assert set(patch.model_fields) == set(ROW_MODELS[table].model_fields) - {"id"}


def _stem(resource: str) -> str:
    return {"activities": "Activity", "surveys": "Survey", "contracts": "Contract"}.get(
        resource, resource.title().removesuffix("s")
    )


def test_a_value_reads_the_same_in_an_import_and_in_the_api(api: Api) -> None:
    # the import upper-cases a currency and refuses one that ISO 4217 does not know
    r = api.post("manager", "/contracts", json=LINE)
    assert (r.status_code, r.json()["currency"]) == (201, "JPY")
    r = api.post("manager", "/contracts", json={**LINE, "id": "l2", "currency": "yen"})
    try:
        ROW_MODELS["contracts"].model_validate({**LINE, "id": "l2", "currency": "yen"})
    except Exception as exc:  # the import's message for the same value
        expected = error_message(exc.errors()[0])  # type: ignore[attr-defined]
    assert r.json()["errors"] == [
        {"message": expected, "where": "request body currency", "field": "currency"}
    ]
    assert expected == "'yen' is not a 3-letter currency code (ISO 4217, e.g. USD)"


def test_a_patch_keeps_stored_values_for_null_defaults_and_checks_the_whole_row(api: Api) -> None:
    api.post("manager", "/contracts", json={**LINE, "status": "cancelled"})
    r = api.patch("manager", "/contracts/l1", json={"status": None, "quantity": 3})
    assert (r.json()["status"], r.json()["quantity"]) == ("cancelled", 3)
    r = api.patch("manager", "/contracts/l1", json={"start_date": "2026-01-01"})
    assert r.json()["errors"] == [
        {"message": "end_date 2025-12-31 is before start_date 2026-01-01", "field": "end_date"}
    ]


@pytest.mark.parametrize("bad", ["a\x00b", "a\nb", "\x1b[31m", "a\x7fb"])
@pytest.mark.parametrize(
    "path",
    [
        "/accounts/{}",
        "/contacts/{}",
        "/health/accounts/{}",
        "/metrics/accounts/{}",
        "/lifecycle/accounts/{}",
        "/lifecycle/accounts/{}/history",
    ],
)
def test_control_characters_in_path_ids_are_422(api: Api, path: str, bad: str) -> None:
    r = api.get("admin", path.format(quote(bad, safe="")))
    assert (r.status_code, r.headers["content-type"]) == (422, "application/problem+json")
    (error,) = r.json()["errors"]
    assert error["where"] in ("path parameter record_id", "path parameter account_id")


def test_control_characters_in_body_ids_and_nul_in_text_are_422(api: Api) -> None:
    r = api.post(
        "manager",
        "/accounts",
        json={"id": "new\x00", "name": "N\x00", "owner_id": "csm\ta", "attributes": {"k": "\x00"}},
    )
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {
            "message": "an id must not contain control characters (such as NUL or newline)",
            "where": "request body id",
            "field": "id",
        },
        {
            "message": "text must not contain NUL characters",
            "where": "request body name",
            "field": "name",
        },
        {
            "message": "an id must not contain control characters (such as NUL or newline)",
            "where": "request body owner_id",
            "field": "owner_id",
        },
        {
            "message": "text must not contain NUL characters",
            "where": "request body attributes",
            "field": "attributes",
        },
    ]
    r = api.get("manager", "/contacts", params={"account_id": "acme\x00"})
    assert r.status_code == 422
    r = api.post(
        "manager", "/lifecycle/accounts/acme/milestones/kickoff_held", json={"note": "\x00"}
    )
    assert r.status_code == 422


def _refusal(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("request_id", "instance")}


def test_a_taken_id_outside_a_scoped_csms_book_is_refused_like_any_create(scoped_api: Api) -> None:
    api = scoped_api
    taken = api.post("csm-a", "/accounts", json={"id": "globex", "name": "Mine now"})
    # the same answer a viewer gets for a create it may not make, and no "already exists"
    refused = api.post("viewer", "/accounts", json={"id": "globex", "name": "Mine now"})
    assert (taken.status_code, refused.status_code) == (403, 403)
    assert _refusal(taken.json()) == {
        "type": "about:blank",
        "title": "Permission denied",
        "status": 403,
        "detail": "csm csm-a may not create account globex",
    }
    assert _refusal(refused.json())["detail"] == "viewer viewer may not create account globex"
    # an id in the caller's own book still conflicts: nothing to hide there
    r = api.post("csm-a", "/accounts", json={"id": "acme", "name": "Again"})
    assert r.status_code == 409
    # the same for records under an account the caller can write
    api.post("csm-b", "/contacts", json={"id": "k1", "account_id": "globex", "name": "Kim"})
    r = api.post("csm-a", "/contacts", json={"id": "k1", "account_id": "acme", "name": "Kim"})
    assert (r.status_code, r.json()["detail"]) == (403, "csm csm-a may not create contact k1")
    denied = [row for row in audit_rows(api) if not row[4]]
    assert denied == [
        ("csm-a", "create", "accounts", "globex", False),
        ("viewer", "create", "accounts", "globex", False),
        ("csm-a", "create", "contacts", "k1", False),
    ]
