"""Every page in Japanese: no message of the catalogs left in English, no raw identifier.

The book of ``conftest`` with the shipped rules run on it (calls to action with
their reasons), read by an admin (who sees every page) with the language set to
Japanese. Each page's visible text (no tags, scripts or styles) must not contain:

* an English message of the catalogs that has a Japanese translation (a message
  that missed the catalogs, or a word shown without ``_()``);
* an identifier with an underscore (``health_band``, ``on_track``, ``final_evaluator``):
  pages show labels, never ids;
* the English words of a rule's reason (``health band``) on the CTA page.
"""

from __future__ import annotations

import html as html_lib
import re
from datetime import date

import pytest
from fastapi.testclient import TestClient

from kizuna.actions import FACTS, list_ctas, list_events, run_rules
from kizuna.platform import Platform
from kizuna.store.actions_models import CtaEvent
from kizuna.web import create_standalone_app
from kizuna.web.catalogs import extract
from kizuna.web.i18n import translations

from .conftest import csrf_of, login

#: English messages that read the same in Japanese, or are too short to find in running text.
SAME = {"ARR", "GRR", "NRR"}


def _visible(page: str) -> str:
    body = page.split("<body", 1)[-1]
    # Scripts, styles and the definition files the admin page shows (file text, not words).
    body = re.sub(r"<(script|style|pre)\b.*?</\1>", " ", body, flags=re.S)
    body = re.sub(r"<[^>]+>", " ", body)
    return re.sub(r"\s+", " ", html_lib.unescape(body))


def _english_messages() -> list[str]:
    ja = translations("ja")
    found = []
    for message in extract():
        text = message.id if isinstance(message.id, str) else ""
        if not text or text in SAME or "%(" in text or ja.gettext(text) == text:
            continue
        # Whole phrases only: a single short word may be part of a name or of data.
        if len(text.split()) >= 2 and len(text) >= 10:
            found.append(text)
    return found


@pytest.fixture
def ja_client(web_platform: Platform) -> TestClient:
    run_rules(web_platform)
    client = TestClient(create_standalone_app(web_platform, background=False))
    login(client, "ada")
    client.cookies.set("kizuna_lang", "ja")
    return client


def test_every_page_in_japanese_has_no_english_message_or_raw_id(
    web_platform: Platform, ja_client: TestClient
) -> None:
    ctas = list_ctas(web_platform)
    assert ctas, "the shipped rules open calls to action on this book"
    pages = [
        "/ui/portfolio",
        "/ui/accounts",
        "/ui/accounts/acme",
        "/ui/accounts/delta",
        "/ui/retention",
        "/ui/onboarding",
        "/ui/admin",
        "/ui/cockpit",
        *(f"/ui/ctas/{c.id}" for c in ctas[:3]),
        "/ui/plans",
        "/ui/renewals",
        "/ui/opportunities",
        "/ui/framework",
        "/ui/risk",
        "/ui/accounts/acme/share",
    ]
    english = _english_messages()
    found: dict[str, list[str]] = {}
    for path in pages:
        response = ja_client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        text = _visible(response.text)
        left = [m for m in english if m in text]
        # (file names such as default_metrics.yaml are names, not words)
        ids = sorted(set(re.findall(r"\b[a-z]+(?:_[a-z0-9]+)+\b(?![./])", text)))
        if left or ids:
            found[path] = left + ids
    assert found == {}


def test_a_rule_reason_is_worded_in_japanese(web_platform: Platform, ja_client: TestClient) -> None:
    cta = next(c for c in list_ctas(web_platform) if c.rule_id)
    english = re.search(r'data-fact="reason">([^<]*)<', ja_client.get(f"/ui/ctas/{cta.id}").text)
    assert english is not None
    reason = html_lib.unescape(english.group(1))
    assert reason != cta.reason
    words_ja = [
        FACTS[name].label_ja or "?"
        for name in ("health_band", "days_to_renewal", "overdue_milestones")
    ]
    assert any(w in reason for w in words_ja), reason
    for words in ("health band", "health score", "health change", "overdue milestones", "days"):
        assert words not in reason, reason
    ja_client.cookies.set("kizuna_lang", "en")
    en = re.search(r'data-fact="reason">([^<]*)<', ja_client.get(f"/ui/ctas/{cta.id}").text)
    assert en is not None
    assert html_lib.unescape(en.group(1)).split(":", 1)[0] == cta.title


#: Japanese script (kana and kanji): a problem worded in Japanese has some.
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _items(page: str, pattern: str) -> list[str]:
    """The visible text of each match of ``pattern`` (a regex with one group) in ``page``."""
    return [_visible(found) for found in re.findall(pattern, page, flags=re.S)]


def _assert_japanese(texts: list[str]) -> None:
    """Every text is worded in Japanese: no English catalog phrase, some Japanese script."""
    english = _english_messages()
    assert texts
    for text in texts:
        assert JAPANESE.search(text), text
        assert not [m for m in english if m in text], text


def test_the_admin_page_words_an_invalid_definition_in_japanese(
    web_platform: Platform, ja_client: TestClient
) -> None:
    home = web_platform.settings.home
    (home / "scorecards").mkdir(parents=True, exist_ok=True)
    (home / "scorecards" / "broken.yaml").write_text(
        "name: broken\nbands: {yellow: 90, green: 10}\ngroups:\n"
        "  - name: usage\n    weight: 1\n    measures: []\n",
        encoding="utf-8",
    )
    (home / "rules.yaml").write_text(
        "rules:\n  - id: r1\n    name: R1\n    type: risk\n    playbook: nowhere\n"
        "    when: {fact: no_such_fact, gte: 1}\n",
        encoding="utf-8",
    )
    page = ja_client.get("/ui/admin")
    assert page.status_code == 200
    assert page.text.count('data-valid="false"') == 2  # the scorecards and the rules
    codes = re.findall(r'<li data-code="([^"]*)">', page.text)
    assert {"scorecard.bands_order", "rules.unknown_playbook", "rules.unknown_fact"} <= set(codes)
    # each problem: where it is (the file's own words, in <code>), then what is wrong in Japanese
    problems = _items(page.text, r'<span class="problem">(.*?)</span>')
    assert len(problems) == len(codes)
    _assert_japanese(problems)
    assert "'yellow' must not exceed 'green'" not in page.text
    assert "「yellow」は「green」以下にしてください" in page.text


def test_a_refused_form_and_an_error_page_in_japanese(
    web_platform: Platform, ja_client: TestClient
) -> None:
    cta = list_ctas(web_platform)[0]
    html = ja_client.get(f"/ui/ctas/{cta.id}").text
    csrf = csrf_of(html)
    # a snooze into the past without a reason: both problems, in Japanese
    refused = ja_client.post(
        f"/ui/ctas/{cta.id}/snooze", data={"csrf_token": csrf, "until": "2020-01-01", "reason": ""}
    )
    assert refused.status_code == 422
    problems = _items(
        refused.text, r'<ul class="error-box" role="alert" id="cta-problems">(.*?)</ul>'
    )
    _assert_japanese(problems)
    assert "CTAをスヌーズする理由を入力してください" in problems[0]
    # a CTA that is already closed refuses to close again (409), in Japanese
    done = {"csrf_token": csrf, "outcome": "won", "note": "済"}
    assert ja_client.post(f"/ui/ctas/{cta.id}/close", data=done, follow_redirects=False).is_redirect
    again = ja_client.post(f"/ui/ctas/{cta.id}/close", data=done)
    assert again.status_code == 409
    assert "このCTAはすでにクローズされています" in again.text
    # a team form and an account form refused, in Japanese
    team = ja_client.post("/ui/teams", data={"csrf_token": csrf, "team_id": "Bad Id!", "name": ""})
    assert team.status_code == 422
    _assert_japanese(_items(team.text, r'id="team-problems">(.*?)</ul>'))
    log = ja_client.post(
        "/ui/accounts/acme/log", data={"csrf_token": csrf, "kind": "note", "text": " "}
    )
    assert log.status_code == 422
    _assert_japanese(_items(log.text, r'id="work-problems">(.*?)</ul>'))
    # a refused login, in Japanese
    anonymous = TestClient(create_standalone_app(web_platform, background=False))
    anonymous.cookies.set("kizuna_lang", "ja")
    wrong = anonymous.post("/ui/login", data={"email": "ada@example.com", "password": "wrong"})
    assert wrong.status_code == 401
    _assert_japanese(_items(wrong.text, r'<p class="error-box" role="alert">(.*?)</p>'))
    # error pages: a CTA that does not exist (404), an expired form (403), a bad download (422)
    for path, status, data in [
        ("/ui/ctas/999999", 404, None),
        (f"/ui/ctas/{cta.id}/snooze", 403, {"csrf_token": "stale"}),
        ("/ui/accounts.csv?band=purple", 422, None),
    ]:
        response = ja_client.post(path, data=data) if data is not None else ja_client.get(path)
        assert response.status_code == status, path
        _assert_japanese(
            _items(response.text, r'<section class="card error-page"[^>]*>(.*?)</section>')
        )
    assert "CTA「999999」はありません" in ja_client.get("/ui/ctas/999999").text


def test_cta_events_are_worded_in_japanese_and_old_events_still_show(
    web_platform: Platform, ja_client: TestClient
) -> None:
    cta = next(c for c in list_ctas(web_platform) if c.tasks)
    task = cta.tasks[0]
    csrf = csrf_of(ja_client.get(f"/ui/ctas/{cta.id}").text)
    moved = ja_client.post(
        f"/ui/ctas/{cta.id}/tasks/{task.id}/reassign",
        data={"csrf_token": csrf, "owner_id": "cora"},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    snoozed = ja_client.post(
        f"/ui/ctas/{cta.id}/snooze",
        data={"csrf_token": csrf, "until": "2025-07-15", "reason": "顧客の休暇明けまで"},
        follow_redirects=False,
    )
    assert snoozed.status_code == 303
    stored = {e["kind"]: e for e in list_events(web_platform, cta.account_id)}
    assert stored["task_reassigned"]["params"]["owner_id"] == "cora"
    assert stored["snoozed"]["params"] == {"date": "2025-07-15", "note": "顧客の休暇明けまで"}
    # events stored before they kept their values: read back from the English text, or shown as
    # they are when the text has another shape
    with web_platform.store.session() as session:
        for kind, text in [
            ("task_done", f"Task done: {task.title}"),
            ("closed_lost", "an older wording nobody parses"),
        ]:
            session.add(CtaEvent(account_id=cta.account_id, cta_id=cta.id, on_date=date(2025, 6, 1),
                                 kind=kind, actor="carl", text=text))  # fmt: skip
    events = _items(ja_client.get(f"/ui/ctas/{cta.id}").text, r'<span class="detail">(.*?)</span>')
    assert any(e.startswith("タスクを Cora CSM に再割り当て: ") for e in events), events
    assert "2025/07/15 までスヌーズ: 顧客の休暇明けまで" in events
    # (the task's title in the rule set's Japanese, like the new events')
    assert any(e.startswith("タスク完了: ") for e in events), events
    assert "an older wording nobody parses" in events
    for english in ("Task reassigned to", "Snoozed until", "CTA snoozed until", "Task done:"):
        assert not [e for e in events if english in e], events
    timeline = ja_client.get(f"/ui/accounts/{cta.account_id}").text
    assert "タスクを Cora CSM に再割り当て" in timeline and "Task reassigned to" not in timeline
