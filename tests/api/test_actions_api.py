"""``/ctas``, ``/tasks``, ``/rules``, ``/outbox``: roles, per-account scope, audit, problems."""

from __future__ import annotations

from kizuna.actions import parse_rules, run_rules
from kizuna.auth.audit import list_audit

from .conftest import Api

RULES = parse_rules(
    {
        "playbooks": [
            {
                "id": "pb",
                "name": "PB",
                "tasks": [{"title": "First", "due_days": 1}, {"title": "Second", "due_days": 3}],
            }
        ],
        "rules": [
            {
                "id": "all",
                "name": "Every account",
                "type": "risk",
                "priority": "high",
                "when": {"fact": "segment", "in": ["enterprise", "smb"]},
                "playbook": "pb",
            }
        ],
    },
    "test",
)


def _open(api: Api) -> dict[str, int]:
    run_rules(api.platform, ruleset=RULES)
    body = api.get("manager", "/ctas").json()
    return {c["account_id"]: c["id"] for c in body}


def test_list_and_show_follow_the_callers_book(scoped_api: Api) -> None:
    ids = _open(scoped_api)
    assert sorted(ids) == ["acme", "globex", "initech"]
    mine = scoped_api.get("csm-a", "/ctas").json()
    assert [c["account_id"] for c in mine] == ["acme"]
    assert mine[0]["reason"] == "Every account: segment is enterprise (in enterprise, smb)"
    assert [t["title"] for t in mine[0]["tasks"]] == ["First", "Second"]
    # another CSM's CTA is "not found", exactly like an unknown id
    other = scoped_api.get("csm-a", f"/ctas/{ids['globex']}")
    unknown = scoped_api.get("csm-a", "/ctas/999999")
    assert (other.status_code, unknown.status_code) == (404, 404)
    assert other.json()["title"] == unknown.json()["title"]


def test_work_a_cta_tasks_close_with_audit(api: Api) -> None:
    ids = _open(api)
    cta = api.get("csm-a", f"/ctas/{ids['acme']}").json()
    # csm-b may read (scope all) but not work csm-a's CTA
    denied = api.post("csm-b", f"/tasks/{cta['tasks'][0]['id']}", {"status": "done"})
    assert denied.status_code == 403
    assert denied.headers["content-type"].startswith("application/problem+json")
    for task in cta["tasks"]:
        r = api.post("csm-a", f"/tasks/{task['id']}", {"status": "done"})
        assert r.status_code == 200
    assert [t["status"] for t in r.json()["tasks"]] == ["done", "done"]
    closed = api.post("csm-a", f"/ctas/{cta['id']}/close", {"outcome": "won", "note": "saved"})
    assert (closed.status_code, closed.json()["status"]) == (200, "closed_won")
    again = api.post("csm-a", f"/ctas/{cta['id']}/close", {"outcome": "won"})
    assert again.status_code == 409
    events = api.get("csm-a", "/accounts/acme/cta-events").json()
    assert [e["kind"] for e in events] == ["closed_won", "task_done", "task_done", "opened"]
    audit = [(a.actor_id, a.action, a.allowed) for a in list_audit(api.platform, limit=10)]
    assert ("csm-a", "close", True) in audit and ("csm-b", "write", False) in audit


def test_open_snooze_and_validation(api: Api) -> None:
    r = api.post("csm-a", "/ctas", {"account_id": "acme", "type": "activity", "title": "Call"})
    assert r.status_code == 201 and r.json()["owner_id"] == "csm-a"
    assert (
        api.post(
            "csm-a", "/ctas", {"account_id": "globex", "type": "risk", "title": "x"}
        ).status_code
        == 403
    )
    bad = api.post("csm-a", "/ctas", {"account_id": "acme", "type": "nope", "title": ""})
    assert bad.status_code == 422
    cta_id = r.json()["id"]
    past = api.post("csm-a", f"/ctas/{cta_id}/snooze", {"until": "2025-06-01", "reason": "later"})
    assert past.status_code == 422
    ok = api.post("csm-a", f"/ctas/{cta_id}/snooze", {"until": "2025-07-15", "reason": "holiday"})
    assert (ok.json()["status"], ok.json()["snoozed_until"]) == ("snoozed", "2025-07-15")


def test_rules_run_needs_a_manager_and_outbox_an_admin(api: Api) -> None:
    assert api.post("csm-a", "/rules/run", {"dry_run": True}).status_code == 403
    r = api.post("manager", "/rules/run", {"dry_run": True})
    assert r.status_code == 200 and r.json()["dry"] is True
    assert api.post("manager", "/rules/run", {"as_of": "2030-01-01"}).status_code == 422
    assert api.get("manager", "/outbox").status_code == 403
    assert api.get("admin", "/outbox").json() == []
    assert [r["id"] for r in api.get("viewer", "/rules").json()["rules"]] == [
        "health_drop", "renewal_red", "nps_detractor", "onboarding_overdue",
        "evaluator_untouched", "seat_expansion",
    ]  # fmt: skip
