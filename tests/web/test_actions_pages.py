"""The cockpit, the CTA page and the account 360's work forms, through the UI (both stores)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from kizuna.actions import list_ctas, list_events, parse_rules, run_rules
from kizuna.health import list_sentiments
from kizuna.platform import Platform
from kizuna.store.models import Activity, Contact

from .conftest import login

RULES = parse_rules(
    {
        "playbooks": [{"id": "pb", "name": "PB", "tasks": [
            {"title": "Call the evaluator", "due_days": 0},
            {"title": "Agree a plan", "due_days": 5}]}],
        "rules": [{"id": "red", "name": "Red health", "type": "risk", "priority": "high",
                   "when": {"attention": "red"}, "playbook": "pb"}],
    },
    "test",
)  # fmt: skip


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_cockpit_cta_tasks_close_and_timeline(client: TestClient, web_platform: Platform) -> None:
    run = run_rules(web_platform, ruleset=RULES)
    assert run.count("opened") >= 1
    login(client, "carl")
    page = client.get("/ui/cockpit")
    assert page.status_code == 200
    mine = list_ctas(web_platform, owner="carl", status="active")
    assert mine and all(f'data-cta="{c.id}"' in page.text for c in mine)
    cta = mine[0]
    html = client.get(f"/ui/ctas/{cta.id}").text
    assert "Call the evaluator" in html and cta.reason in html
    csrf = _csrf(html)
    for task in cta.tasks:
        r = client.post(
            f"/ui/ctas/{cta.id}/tasks/{task.id}",
            data={"csrf_token": csrf, "status": "done"},
            follow_redirects=False,
        )
        assert r.status_code == 303
    assert 'id="all-done"' in client.get(f"/ui/ctas/{cta.id}").text
    r = client.post(
        f"/ui/ctas/{cta.id}/close",
        data={"csrf_token": csrf, "outcome": "won", "note": "plan agreed"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert [e["kind"] for e in list_events(web_platform, cta.account_id)][:1] == ["closed_won"]
    # a bad snooze date is a 422 page that says what is wrong
    other = client.post(f"/ui/ctas/{cta.id}/snooze", data={"csrf_token": csrf, "until": "x"})
    assert other.status_code == 422 and "is not a date" in other.text
    # the account 360 shows the CTA's events on the timeline
    account = client.get(f"/ui/accounts/{cta.account_id}").text
    assert 'data-kind="cta"' in account and "Closed won: plan agreed" in account


def test_log_call_sentiment_contact_and_open_cta(
    client: TestClient, web_platform: Platform
) -> None:
    login(client, "carl")
    csrf = _csrf(client.get("/ui/accounts/acme").text)
    with web_platform.store.session() as s:
        contact = s.query(Contact).filter_by(account_id="acme").first()
        assert contact is not None
        contact_id = contact.id
    r = client.post(
        "/ui/accounts/acme/log",
        data={"csrf_token": csrf, "kind": "call", "text": "Call about the renewal",
              "contact_id": contact_id},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303
    with web_platform.store.session() as s:
        logged = s.query(Activity).filter_by(text="Call about the renewal").one()
        assert (logged.kind.value, logged.author_id, logged.contact_id) == (
            "call",
            "carl",
            contact_id,
        )
    assert "Call about the renewal" in client.get("/ui/accounts/acme").text
    empty = client.post(
        "/ui/accounts/acme/log", data={"csrf_token": csrf, "kind": "call", "text": ""}
    )
    assert empty.status_code == 422 and "write what happened" in empty.text
    r = client.post(
        "/ui/accounts/acme/sentiment",
        data={"csrf_token": csrf, "value": "2", "comment": "worried"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert [(s["value"], s["author"]) for s in list_sentiments(web_platform, "acme")] == [
        (2, "carl")
    ]
    r = client.post(
        "/ui/accounts/acme/contacts",
        data={"csrf_token": csrf, "contact_id": contact_id, "name": "Renamed",
              "success_role": "evaluator"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303
    with web_platform.store.session() as s:
        c = s.get(Contact, contact_id)
        assert c is not None and (c.name, c.success_role.value) == ("Renamed", "evaluator")
    r = client.post(
        "/ui/accounts/acme/ctas",
        data={"csrf_token": csrf, "title": "Prepare the QBR", "type": "objective",
              "priority": "high", "due_date": "2025-07-10"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303
    [cta] = list_ctas(web_platform, account_id="acme", type="objective")
    assert (cta.title, cta.owner_id, str(cta.due_date)) == ("Prepare the QBR", "carl", "2025-07-10")
    # another CSM's account: the forms are refused
    refused = client.post(
        "/ui/accounts/cirrus/log", data={"csrf_token": csrf, "kind": "note", "text": "x"}
    )
    assert refused.status_code == 403


def test_japanese_labels(client: TestClient, web_platform: Platform) -> None:
    run_rules(web_platform, ruleset=RULES)
    login(client, "carl")
    client.cookies.set("kizuna_lang", "ja")
    page = client.get("/ui/cockpit", headers={"accept-language": "ja"})
    assert "自分の対応中CTA" in page.text and "コックピット" in page.text
