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

import pytest
from fastapi.testclient import TestClient

from kizuna.actions import FACTS, list_ctas, run_rules
from kizuna.platform import Platform
from kizuna.web import create_standalone_app
from kizuna.web.catalogs import extract
from kizuna.web.i18n import translations

from .conftest import login

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
