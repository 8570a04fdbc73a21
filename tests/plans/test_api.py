"""``/plans`` over HTTP: roles, per-account scope, audit and problem+json errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from tests.api.conftest import Api, make_api

from kizuna.platform import Platform
from kizuna.store.auth_models import AuditRecord
from kizuna.store.models import Contact, SuccessRole


@pytest.fixture
def scoped(platform: Platform) -> Iterator[Api]:
    yield from make_api(platform, csm_scope="own")


def test_plan_crud_with_roles_scope_and_audit(scoped: Api) -> None:
    api = scoped
    with api.platform.store.session() as s:
        s.add(Contact(id="eve", account_id="acme", name="Eve", success_role=SuccessRole.OTHER))
    body = {"account_id": "acme", "template": "mid_market", "start_date": "2025-06-01"}
    # another CSM's account is "not found" for a CSM limited to their book
    assert api.post("csm-b", "/plans", body).status_code == 422
    assert api.post("viewer", "/plans", body).status_code == 403
    created = api.post("csm-a", "/plans", body)
    assert created.status_code == 201, created.text
    plan = created.json()
    plan_id = plan["id"]
    assert (plan["account_id"], plan["template"], plan["end_date"]) == (
        "acme",
        "mid_market",
        "2025-09-01",
    )
    assert {w["kind"] for w in plan["warnings"]} >= {"no_evaluator", "no_promoter"}
    assert api.get("csm-b", f"/plans/{plan_id}").status_code == 404
    assert api.get("viewer", f"/plans/{plan_id}").status_code == 200
    assert api.post("csm-a", "/plans", body).status_code == 409  # one active plan

    # an initiative, then a KPI refused because its target equals its baseline
    r = api.post(
        "csm-a",
        f"/plans/{plan_id}/initiatives",
        {"key": "sso", "name": "Single sign-on", "impact": 5, "difficulty": 1},
    )
    assert r.status_code == 201, r.text
    initiative_id = r.json()["id"]
    kpi = {
        "initiative_id": initiative_id,
        "key": "sso_users",
        "name": "SSO users",
        "baseline": 0,
        "baseline_date": "2025-06-01",
        "target": 0,
        "target_date": "2025-09-01",
    }
    bad = api.post("csm-a", f"/plans/{plan_id}/kpis", kpi)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "target must differ" in bad.text
    kpi["target"] = 100
    r = api.post("csm-a", f"/plans/{plan_id}/kpis", kpi)
    assert r.status_code == 201, r.text
    kpi_id = r.json()["id"]
    r = api.post(
        "csm-a",
        f"/plans/{plan_id}/checkins",
        {"kpi_id": kpi_id, "value": 40, "checkin_date": "2025-06-15", "checked_by": "Eve"},
    )
    assert r.status_code == 201, r.text
    shown = api.get("csm-a", f"/plans/{plan_id}", params={"as_of": "2025-06-16"}).json()
    [sso] = [i for i in shown["initiatives"] if i["key"] == "sso"]
    assert sso["position"] == 1 and sso["proposed_rank"] == 1  # impact 5, difficulty 1
    assert (sso["kpis"][0]["current"] == 40.0 and sso["kpis"][0]["status"] == "achieved") or (
        sso["kpis"][0]["progress"] == pytest.approx(0.4)
    )
    # editing a role from the plan edits the contact
    r = api.patch("csm-a", f"/plans/{plan_id}/contacts/eve", {"success_role": "evaluator"})
    assert r.status_code == 200, r.text
    assert r.json()["evaluator"][0]["id"] == "eve"
    # parts of other plans are not found; patch with a bad value is a 422
    assert (
        api.patch("csm-a", f"/plans/{plan_id}/initiatives/999999", {"impact": 2}).status_code == 404
    )
    assert (
        api.patch(
            "csm-a", f"/plans/{plan_id}/initiatives/{initiative_id}", {"impact": 9}
        ).status_code
        == 422
    )
    r = api.patch("csm-a", f"/plans/{plan_id}/initiatives/{initiative_id}", {"order_override": 3})
    assert r.status_code == 200 and r.json()["order_override"] == 3
    listing = api.get("csm-a", "/plans", params={"as_of": "2025-06-16"}).json()
    assert [p["plan_id"] for p in listing["plans"]] == [plan_id]
    assert api.get("csm-b", "/plans").json()["count"] == 0
    assert api.delete("csm-b", f"/plans/{plan_id}").status_code == 404
    assert api.delete("csm-a", f"/plans/{plan_id}").status_code == 204
    with api.platform.store.session() as s:
        actions = {
            (a.action, a.allowed)
            for a in s.scalars(sa.select(AuditRecord).where(AuditRecord.resource == "plans"))
        }
    assert {("create", True), ("update", True), ("delete", True), ("read", False)} <= actions
