"""``/revenue`` routes: roles, per-account scope, audit and problem+json (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.api.conftest import Api, make_api

from kizuna.auth.audit import list_audit
from kizuna.auth.tokens import create_token
from kizuna.auth.users import add_user
from kizuna.platform import Platform
from kizuna.store.models import TeamRole

UPSELL = {
    "account_id": "acme",
    "type": "upsell",
    "expected_close_date": "2025-09-30",
    "arr_change": 2500,
    "products": ["analytics"],
    "stage": "proposal",
}


def _with_sales(api: Api) -> Api:
    add_user(
        api.platform, member_id="ae", name="AE", email="ae@vendor.example", role=TeamRole.SALES
    )
    api.tokens["ae"] = create_token(api.platform, "ae", "tests").token
    return api


@pytest.fixture
def rapi(platform: Platform) -> Iterator[Api]:
    for api in make_api(platform):
        yield _with_sales(api)


@pytest.fixture
def scoped(platform: Platform) -> Iterator[Api]:
    for api in make_api(platform, csm_scope="own"):
        yield _with_sales(api)


def test_who_may_open_and_close_opportunities(rapi: Api) -> None:
    r = rapi.post("csm-a", "/revenue/opportunities", UPSELL)
    assert r.status_code == 201, r.text
    body = r.json()
    assert {
        k: body[k] for k in ("account_id", "type", "stage", "probability", "weighted_arr", "source")
    } == {
        "account_id": "acme",
        "type": "upsell",
        "stage": "proposal",
        "probability": 0.5,
        "weighted_arr": 1250.0,
        "source": "manual",
    }
    assert rapi.post("csm-b", "/revenue/opportunities", UPSELL).status_code == 403
    assert rapi.post("viewer", "/revenue/opportunities", UPSELL).status_code == 403
    assert rapi.post("ae", "/revenue/opportunities", UPSELL).status_code == 201
    missing = rapi.post("admin", "/revenue/opportunities", {**UPSELL, "account_id": "nope"})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    bad = rapi.post("admin", "/revenue/opportunities", {**UPSELL, "type": "downsell"})
    assert bad.status_code == 422 and "downsell" in bad.text

    opp_id = body["id"]
    moved = rapi.post(
        "csm-a",
        f"/revenue/opportunities/{opp_id}/stage",
        {"stage": "commit", "on": "2025-07-01"},
    )
    assert (moved.status_code, moved.json()["probability"]) == (200, 0.9)
    assert (
        rapi.post("csm-a", f"/revenue/opportunities/{opp_id}/lost", {"reason": ""}).status_code
        == 422
    )
    won = rapi.post("ae", f"/revenue/opportunities/{opp_id}/won", {"on": "2025-07-05"})
    assert (won.status_code, won.json()["status"]) == (200, "won")
    again = rapi.post("admin", f"/revenue/opportunities/{opp_id}/lost", {"reason": "x"})
    assert again.status_code == 409
    shown = rapi.get("viewer", f"/revenue/opportunities/{opp_id}").json()
    assert [h["to_stage"] for h in shown["history"]] == ["proposal", "commit", "closed_won"]
    actions = [(e.actor_id, e.action, e.resource) for e in list_audit(rapi.platform, limit=20)]
    assert ("ae", "won", "opportunities") in actions
    assert ("csm-a", "create", "opportunities") in actions
    assert ("csm-a", "stage", "opportunities") in actions


def test_reassigning_an_opportunity(rapi: Api) -> None:
    opp_id = rapi.post("csm-a", "/revenue/opportunities", UPSELL).json()["id"]
    given = rapi.post("csm-a", f"/revenue/opportunities/{opp_id}/owner", {"owner_id": "ae"})
    assert (given.status_code, given.json()["owner_id"]) == (200, "ae")
    assert (
        rapi.post("csm-b", f"/revenue/opportunities/{opp_id}/owner", {"owner_id": "csm-b"})
    ).status_code == 403
    unknown = rapi.post("admin", f"/revenue/opportunities/{opp_id}/owner", {"owner_id": "zed"})
    assert unknown.status_code == 422 and "zed" in unknown.text
    entry = next(e for e in list_audit(rapi.platform, limit=20) if e.action == "owner")
    assert (entry.actor_id, entry.resource, entry.resource_id) == ("csm-a", "opportunities", opp_id)


def test_a_scoped_csm_sees_only_their_book(scoped: Api) -> None:
    acme = scoped.post("csm-a", "/revenue/opportunities", UPSELL).json()["id"]
    globex = scoped.post(
        "csm-b", "/revenue/opportunities", {**UPSELL, "account_id": "globex", "owner_id": "csm-b"}
    ).json()["id"]
    assert [o["id"] for o in scoped.get("csm-b", "/revenue/opportunities").json()] == [globex]
    assert {o["id"] for o in scoped.get("manager", "/revenue/opportunities").json()} == {
        acme,
        globex,
    }
    hidden = scoped.get("csm-b", f"/revenue/opportunities/{acme}")
    assert hidden.status_code == 404
    assert scoped.post("csm-b", f"/revenue/opportunities/{acme}/won", {}).status_code == 404
    assert scoped.get("csm-b", "/revenue/accounts/acme/growth-plan").status_code == 404
    assert scoped.get("csm-a", "/revenue/accounts/acme/growth-plan").status_code == 200
    # the fifteen metrics of a scoped CSM: their own book's, never the book-wide figures
    scoped.post("csm-b", f"/revenue/opportunities/{globex}/won", {"on": "2025-03-01"})
    scoped.post("csm-a", f"/revenue/opportunities/{acme}/lost", {"on": "2025-03-02", "reason": "x"})
    period = "/revenue/framework?from=2025-01-01&to=2025-06-30"
    mine = scoped.get("csm-b", period)
    assert mine.status_code == 200
    everyone = scoped.get("manager", period + "&by=owner").json()
    figures = {m["id"]: m["value"] for m in mine.json()["overall"]}
    assert (figures["expansion_bookings"], figures["close_rate"]) == (2500.0, 1.0)
    book = {m["id"]: m["value"] for m in everyone["overall"]}
    assert (book["expansion_bookings"], book["close_rate"]) == (2500.0, 0.5)
    assert [g["key"] for g in mine.json()["groups"]] == ["csm-b"]
    f = scoped.get("csm-b", "/revenue/forecast?period=quarter&from=2025-07-01&to=2025-12-31")
    assert f.status_code == 200 and f.json()["totals"]["renewals"] == 0


def test_the_forecast_as_csv(scoped: Api) -> None:
    scoped.post("csm-a", "/revenue/opportunities", {**UPSELL, "type": "renewal", "arr_total": 900})
    r = scoped.get("csm-a", "/revenue/forecast?from=2025-07-01&to=2025-12-31&format=csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    header, *rows = r.text.splitlines()
    assert header.startswith("opportunity_id,name,account_id,account_name,owner_id,products")
    assert header.endswith("churn_risk,risk_band,renewal_probability,plan_status")
    assert len(rows) == 1 and ",acme," in rows[0]
    other = scoped.get("csm-b", "/revenue/forecast?from=2025-07-01&to=2025-12-31&format=csv")
    assert other.text.splitlines()[1:] == []


def test_forecast_and_framework(rapi: Api) -> None:
    r = rapi.get("viewer", "/revenue/forecast?period=month&from=2025-07-01&to=2025-09-30")
    assert r.status_code == 200
    assert [p["period"] for p in r.json()["periods"]] == ["2025-07", "2025-08", "2025-09"]
    fw = rapi.get("viewer", "/revenue/framework?from=2025-01-01&to=2025-06-30&by=segment")
    assert fw.status_code == 200 and len(fw.json()["overall"]) == 15
    backwards = rapi.get("viewer", "/revenue/framework?from=2025-06-30&to=2025-01-01")
    assert backwards.status_code == 422
    assert rapi.client.get("/revenue/opportunities").status_code == 401
