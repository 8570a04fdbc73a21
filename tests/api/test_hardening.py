"""Defects found by trying to break the API (issue 13): each test failed before its fix."""

from __future__ import annotations

import base64
from typing import Any

from tests.api.conftest import Api

from kizuna.auth.sources import add_source

CONTRACT = {
    "account_id": "globex",
    "product": "Core",
    "arr": 1000,
    "currency": "USD",
    "start_date": "2024-01-01",
    "end_date": "2024-12-31",
}


def _problem(r: Any) -> tuple[int, list[dict[str, Any]]]:
    body = r.json()
    return r.status_code, [{k: e.get(k) for k in ("field", "message")} for e in body["errors"]]


# -- 3. references across a CSM's scope ----------------------------------------


def test_a_parent_outside_the_csms_book_is_refused_like_a_missing_one(scoped_api: Api) -> None:
    api = scoped_api
    foreign = api.post(
        "csm-a", "/accounts", json={"id": "sub", "name": "Sub", "parent_id": "globex"}
    )
    missing = api.post("csm-a", "/accounts", json={"id": "sub", "name": "Sub", "parent_id": "nope"})
    assert _problem(foreign) == (
        422,
        [{"field": "parent_id", "message": "no accounts row globex"}],
    )
    assert _problem(missing) == (422, [{"field": "parent_id", "message": "no accounts row nope"}])
    # re-parenting an own account under another CSM's account: the same answer
    moved = api.patch("csm-a", "/accounts/acme", json={"parent_id": "globex"})
    assert _problem(moved) == (422, [{"field": "parent_id", "message": "no accounts row globex"}])
    assert api.get("admin", "/accounts/acme").json()["parent_id"] is None
    # a manager sees the whole book and may do it
    assert api.patch("manager", "/accounts/acme", json={"parent_id": "globex"}).status_code == 200


def test_contract_renewals_and_survey_contacts_do_not_cross_the_book(scoped_api: Api) -> None:
    api = scoped_api
    assert api.post("manager", "/contracts", json={"id": "g1", **CONTRACT}).status_code == 201
    assert (
        api.post(
            "manager",
            "/contacts",
            json={"id": "gc", "account_id": "globex", "name": "Gina", "success_role": "champion"},
        ).status_code
        == 201
    )
    renewal = {
        **CONTRACT,
        "account_id": "acme",
        "start_date": "2025-01-01",
        "end_date": "2025-12-31",
    }
    for target in ("g1", "zz"):
        r = api.post("csm-a", "/contracts", json={"id": "a1", **renewal, "renews_line_id": target})
        assert _problem(r) == (
            422,
            [{"field": "renews_line_id", "message": f"no contract_lines row {target}"}],
        )
    survey = {"id": "s1", "account_id": "acme", "kind": "nps", "score": 9}
    for target in ("gc", "zz"):
        r = api.post(
            "csm-a",
            "/surveys",
            json={**survey, "answered_at": "2025-06-01T00:00:00Z", "contact_id": target},
        )
        assert _problem(r) == (
            422,
            [{"field": "contact_id", "message": f"no contacts row {target}"}],
        )


# -- 8. events for a deleted account -------------------------------------------


def test_events_for_a_deleted_account_are_quarantined_at_once(api: Api) -> None:
    key = add_source(api.platform, "web").write_key
    auth = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}

    def track(mid: str) -> dict[str, Any]:
        body = {
            "messageId": mid,
            "userId": "u",
            "event": "login",
            "groupId": "initech",
            "timestamp": "2025-06-01T10:00:00Z",
        }
        return api.client.post("/v1/track", json=body, headers=auth).json()  # type: ignore[no-any-return]

    assert track("m1")["accepted"] == 1
    assert api.delete("admin", "/accounts/initech").status_code == 204
    after = track("m2")
    assert (after["accepted"], after["quarantined"]) == (0, 1)


# -- 10. one lone surrogate rejects one event, not the batch -------------------


def test_a_lone_surrogate_in_a_batch_quarantines_that_event_only(api: Api) -> None:
    key = add_source(api.platform, "web").write_key
    auth = {
        "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
        "Content-Type": "application/json",
    }
    body = (
        b'{"batch": ['
        b'{"type": "track", "messageId": "a", "userId": "u", "groupId": "acme",'
        b' "event": "bad\\ud800", "timestamp": "2025-06-01T10:00:00Z"},'
        b'{"type": "track", "messageId": "b", "userId": "u", "groupId": "acme",'
        b' "event": "login", "timestamp": "2025-06-01T10:00:00Z"}]}'
    )
    r = api.client.post("/v1/batch", content=body, headers=auth)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["accepted"], out["quarantined"]) == (1, 1)
    assert out["errors"][0]["message"] == "bad_text: event is not valid Unicode (a lone surrogate)"


def test_segment_page_calls_land_through_the_api(api: Api) -> None:
    key = add_source(api.platform, "web").write_key
    auth = {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}
    body = {
        "messageId": "pg1",
        "userId": "u",
        "groupId": "acme",
        "name": "Pricing",
        "timestamp": "2025-06-01T10:00:00Z",
    }
    r = api.client.post("/v1/page", json=body, headers=auth)
    assert (r.status_code, r.json()["accepted"]) == (200, 1)
