"""Teams, my settings (the UI speaks my language), secrets, "did it work?", task reassignment
and a contact's e-mail preferences, through the UI (both stores)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from kizuna.actions import close_cta, list_ctas, list_events, parse_rules, run_rules
from kizuna.actions.teams import get_team, member_language
from kizuna.actions.techtouch import contact_preference
from kizuna.auth.audit import list_audit
from kizuna.platform import Platform
from kizuna.web import i18n

from .conftest import login

RULES = parse_rules(
    {
        "playbooks": [{"id": "pb", "name": "PB", "name_ja": "立て直し", "tasks": [
            {"title": "Call the evaluator", "due_days": 0},
            {"title": "Agree a plan", "due_days": 5}]}],
        "rules": [{"id": "red", "name": "Red health", "name_ja": "ヘルスが赤", "type": "risk",
                   "priority": "high", "when": {"attention": "red"}, "playbook": "pb"}],
    },
    "test",
)  # fmt: skip


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_teams_are_managed_by_admins_and_read_by_csms(
    client: TestClient, web_platform: Platform
) -> None:
    login(client, "ada")
    csrf = _csrf(client.get("/ui/teams").text)
    r = client.post("/ui/teams", data={"csrf_token": csrf, "team_id": "smb-pool",
                                       "name": "SMB pool"}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    for member, role in (("carl", "lead"), ("cora", "member")):
        client.post("/ui/teams/smb-pool/members",
                    data={"csrf_token": csrf, "member_id": member, "role": role})  # fmt: skip
    bad = client.post("/ui/teams", data={"csrf_token": csrf, "team_id": "Bad id", "name": "x"})
    assert bad.status_code == 422 and 'id="team-problems"' in bad.text
    team = get_team(web_platform, "smb-pool")
    assert [(m.member_id, m.role) for m in team.members] == [("carl", "lead"), ("cora", "member")]
    client.post("/ui/logout", data={"csrf_token": csrf})
    login(client, "carl")
    page = client.get("/ui/teams").text
    assert 'data-member="carl" data-role="lead"' in page and "Team lead" in page
    assert "create-team" not in page  # a CSM reads, does not manage
    denied = client.post("/ui/teams", data={"csrf_token": _csrf(page), "team_id": "x",
                                            "name": "x"})  # fmt: skip
    assert denied.status_code == 403
    mine = client.get("/ui/me").text
    assert 'data-team="smb-pool"' in mine
    actions = [(a.actor_id, a.action, a.allowed) for a in list_audit(web_platform)]
    assert ("ada", "member_set", True) in actions and ("carl", "create", False) in actions


def test_my_language_is_what_the_ui_speaks(client: TestClient, web_platform: Platform) -> None:
    login(client, "carl")
    csrf = _csrf(client.get("/ui/me").text)
    r = client.post("/ui/me", data={"csrf_token": csrf, "language": "ja"}, follow_redirects=False)
    assert r.status_code == 303 and member_language(web_platform, "carl") == "ja"
    client.cookies.delete(i18n.LANG_COOKIE)  # another browser: the preference decides
    assert "<h1>コックピット</h1>" in client.get("/ui/cockpit").text
    # the header's language switch changes the preference
    client.get("/ui/lang/en", follow_redirects=False)
    assert member_language(web_platform, "carl") == "en"
    bad = client.post("/ui/me", data={"csrf_token": csrf, "language": "fr"})
    assert bad.status_code == 422


def test_secrets_page_is_admin_only_and_says_when_no_key(client: TestClient) -> None:
    login(client, "carl")
    assert client.get("/ui/secrets").status_code == 403
    client.post("/ui/logout", data={"csrf_token": _csrf(client.get("/ui/me").text)})
    login(client, "ada")
    page = client.get("/ui/secrets")
    assert page.status_code == 200 and 'id="no-key"' in page.text
    assert 'data-secret="smtp_password" data-stored="no"' in page.text
    r = client.post("/ui/secrets", data={"csrf_token": _csrf(page.text),
                                         "name": "smtp_password", "value": "pw"})  # fmt: skip
    assert r.status_code == 500 and "KIZUNA_SECRETS_KEY" in r.text


def test_reassign_a_task_and_read_the_report(client: TestClient, web_platform: Platform) -> None:
    run_rules(web_platform, ruleset=RULES)
    (cta,) = list_ctas(web_platform, owner="carl", status="active")
    login(client, "carl")
    html = client.get(f"/ui/ctas/{cta.id}").text
    assert 'data-action="task-reassign"' in html
    task = cta.tasks[1]
    r = client.post(f"/ui/ctas/{cta.id}/tasks/{task.id}/reassign",
                    data={"csrf_token": _csrf(html), "owner_id": "cora"},
                    follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    after = client.get(f"/ui/ctas/{cta.id}").text
    assert re.search(rf'data-task="{task.id}"[^>]*>\s*<td>Agree a plan</td>.*?Cora CSM', after,
                     re.S)  # fmt: skip
    events = list_events(web_platform, cta.account_id)
    assert events[0]["text"] == "Task reassigned to Cora CSM: Agree a plan"
    unknown = client.post(f"/ui/ctas/{cta.id}/tasks/{task.id}/reassign",
                          data={"csrf_token": _csrf(html), "owner_id": "nobody"})  # fmt: skip
    assert unknown.status_code == 422
    close_cta(web_platform, cta.id, outcome="lost", actor="carl")
    report = client.get("/ui/rules/report").text
    row = re.search(r'<tr data-rule="red">(.*?)</tr>', report, re.S)
    assert row is not None and "Red health" in row.group(1)
    assert '<td class="num" data-cell="opened">2</td>' in row.group(1)  # acme and delta
    assert '<td class="num" data-cell="lost">1</td>' in row.group(1)
    assert '<td class="num" data-cell="days">0.0</td>' in row.group(1)
    assert 'data-playbook="pb"' in report
    client.get("/ui/lang/ja")
    assert "<h1>効果は出たか？</h1>" in client.get("/ui/rules/report").text


def test_a_contacts_e_mail_preferences_on_the_360(
    client: TestClient, web_platform: Platform
) -> None:
    login(client, "carl")
    html = client.get("/ui/accounts/acme").text
    r = client.post("/ui/accounts/acme/contacts/prefs",
                    data={"csrf_token": _csrf(html), "contact_id": "acme-c1", "language": "ja",
                          "opt_out": "1"}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    pref = contact_preference(web_platform, "acme-c1")
    assert (pref.language, pref.opted_out) == ("ja", True)
    assert 'data-opted-out="true"' in client.get("/ui/accounts/acme").text
    # a contact of another account through this account's form: not found
    other = client.post("/ui/accounts/acme/contacts/prefs",
                        data={"csrf_token": _csrf(html), "contact_id": "bolt-c1",
                              "language": "ja"})  # fmt: skip
    assert other.status_code == 404


def test_a_cta_reason_reads_in_japanese(client: TestClient, web_platform: Platform) -> None:
    home = web_platform.settings.home
    home.mkdir(parents=True, exist_ok=True)
    (home / "rules.yaml").write_text(
        "rules:\n  - {id: red, name: Red health, name_ja: ヘルスが赤, type: risk,\n"
        "     when: {attention: red}}\n",
        "utf-8",
    )
    run_rules(web_platform)
    (cta,) = list_ctas(web_platform, owner="carl", status="active")
    login(client, "carl")
    assert "Red health: health band is red (= red)" in client.get(f"/ui/ctas/{cta.id}").text
    client.get("/ui/lang/ja")
    page = client.get(f"/ui/ctas/{cta.id}").text
    assert '<p data-fact="reason">ヘルスが赤: ヘルスバンドは赤（= 赤）</p>' in page
