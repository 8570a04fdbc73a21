"""Tech touch: a digital CTA e-mails the account's contacts of a role, in their language,
through a real SMTP server (aiosmtpd); each e-mail's unsubscribe link, followed over HTTP
against the served UI, records the opt-out, and an opted-out contact is never mailed again."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from kizuna.actions import close_cta, list_ctas, parse_rules, run_rules
from kizuna.actions.notify import deliver_pending
from kizuna.actions.outbox import list_outbox
from kizuna.actions.techtouch import (
    contact_of_token,
    contact_preference,
    set_contact_preference,
    unsubscribe_token,
)
from kizuna.errors import InvalidInput, NotFound
from kizuna.platform import Platform
from kizuna.store.models import Account, Contact, SuccessRole
from kizuna.web import create_standalone_app

from .conftest import Mailbox, free_port

DATA: dict[str, Any] = {
        "coverage": {"tiers": [
            {"id": "high", "when": {"fact": "segment", "eq": "enterprise"},
             "assign": {"to": "owner"}},
            {"id": "tech", "assign": {
                "to": "digital", "role": "promoter",
                "subject": "{account}: tips for {contact}",
                "body": "Hello {contact},\n\nWe noticed: {reason}.\n",
                "subject_ja": "{account}様: {contact}様へのご案内",
                "body_ja": "{contact}様\n\n{reason}\n"}},
        ]},
        "rules": [{"id": "low", "name": "Low health", "type": "risk",
                   "when": {"fact": "health_score", "lt": 60}}],
}  # fmt: skip
RULES = parse_rules(DATA, "test")


@pytest.fixture
def served(book: Platform, smtp: tuple[Mailbox, int]) -> Iterator[tuple[Platform, Mailbox]]:
    """The book with SMTP configured and the UI served by uvicorn at its public URL."""
    box, smtp_port = smtp
    web_port = free_port()
    settings = book.settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_starttls": False,
                "public_url": f"http://127.0.0.1:{web_port}", "cookie_secure": False}
    )  # fmt: skip
    platform = Platform(settings, book.store, book.clock)
    with platform.store.session() as s:
        s.get(Contact, "P3").email = "pia@gamma.example"  # type: ignore[union-attr]
        s.add(
            Contact(
                id="P3b",
                account_id="A3",
                name="Paul",
                email="paul@gamma.example",
                success_role=SuccessRole.PROMOTER,
            )
        )
        s.add(
            Contact(
                id="E3",
                account_id="A3",
                name="Eri",
                email="eri@gamma.example",
                success_role=SuccessRole.EVALUATOR,
            )
        )  # not the tier's role
        s.get(Account, "A3").attributes = {"language": "ja"}  # type: ignore[union-attr]
    set_contact_preference(platform, "P3b", language="en")  # Paul reads English
    server = uvicorn.Server(
        uvicorn.Config(create_standalone_app(platform, background=False), host="127.0.0.1",
                       port=web_port, log_level="warning")
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the UI server did not start"
        time.sleep(0.05)
    yield platform, box
    server.should_exit = True
    thread.join(timeout=10)


def _link(message: Any) -> str:
    found = re.search(r"(http://\S+/ui/unsubscribe/\S+)", message.get_content())
    assert found, message.get_content()
    return found.group(1)


def test_tech_touch_mails_contacts_in_their_language_and_honours_the_opt_out(
    served: tuple[Platform, Mailbox],
) -> None:
    platform, box = served
    run = run_rules(platform, ruleset=RULES)
    # A1 is enterprise (its owner); A3 (smb) goes to the digital tier
    digital = [c for c in run.changes if c.assignee == "digital"]
    assert [(c.action, c.account_id) for c in digital] == [("opened", "A3")]
    assert deliver_pending(platform).sent == 2
    by_to = {m["To"]: m for m in box.messages}
    assert sorted(by_to) == ["paul@gamma.example", "pia@gamma.example"]
    pia, paul = by_to["pia@gamma.example"], by_to["paul@gamma.example"]
    assert pia["Subject"] == "Gamma様: Pia様へのご案内"  # the account's language: Japanese
    assert "今後このメールの配信を希望されない場合" in pia.get_content()
    assert "Pia様\n\nLow health: ヘルススコアは55（< 60）\n" in pia.get_content()
    assert paul["Subject"] == "Gamma: tips for Paul"  # his own preference: English
    assert "We noticed: Low health: health score is 55 (< 60)." in paul.get_content()
    assert paul["List-Unsubscribe"] == f"<{_link(paul)}>"
    assert paul["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # the link over HTTP: GET asks (a mail scanner opts nobody out), POST records it
    page = httpx.get(_link(pia))
    assert page.status_code == 200 and "Pia" in page.text
    assert 'lang="ja"' in page.text and "配信停止" in page.text
    assert contact_preference(platform, "P3").opted_out is False
    done = httpx.post(_link(pia))
    assert done.status_code == 200 and 'data-unsubscribe="done"' in done.text
    assert contact_preference(platform, "P3").opted_out is True
    assert httpx.post(_link(pia)).status_code == 200  # idempotent
    # a forged or damaged token is a 404, and changes nothing
    assert httpx.get(_link(pia)[:-3] + "xyz").status_code == 404
    forged = httpx.post(f"{platform.settings.public_url}/ui/unsubscribe/"
                        + unsubscribe_token(platform.settings, "P3b")[:-2] + "AA")  # fmt: skip
    assert forged.status_code == 404
    assert contact_preference(platform, "P3b").opted_out is False

    # the next digital CTA for the account: Pia (opted out) is not mailed again
    (cta,) = list_ctas(platform, account_id="A3", status="open")
    close_cta(platform, cta.id, outcome="won", actor="T2")
    again = parse_rules(
        {**DATA, "rules": [{**DATA["rules"][0], "id": "low2", "name": "Still low"}]}, "test"
    )
    run_rules(platform, ruleset=again)
    box.messages.clear()
    assert deliver_pending(platform).sent == 1
    assert [m["To"] for m in box.messages] == ["paul@gamma.example"]


def test_an_opt_out_cancels_an_e_mail_already_queued(served: tuple[Platform, Mailbox]) -> None:
    platform, box = served
    run_rules(platform, ruleset=RULES)
    httpx.post(f"{platform.settings.public_url}/ui/unsubscribe/"
               + unsubscribe_token(platform.settings, "P3b"))  # fmt: skip
    report = deliver_pending(platform)
    assert (report.sent, report.cancelled) == (1, 1)
    assert [m["To"] for m in box.messages] == ["pia@gamma.example"]
    statuses = sorted(e.status for e in list_outbox(platform) if e.channel == "email")
    assert statuses == ["cancelled", "sent"]


def test_tokens_and_preferences_are_checked(book: Platform) -> None:
    token = unsubscribe_token(book.settings, "P3")
    assert contact_of_token(book.settings, token) == "P3"
    with pytest.raises(NotFound):
        contact_of_token(book.settings, token + "x")
    with pytest.raises(InvalidInput):
        set_contact_preference(book, "P3", language="fr")
    with pytest.raises(NotFound):
        set_contact_preference(book, "nobody", language="ja")
    bad = {"coverage": {"tiers": [{"id": "t", "assign": {
        "to": "digital", "role": "boss", "subject": "s", "body": "b"}}]}}  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        parse_rules(bad, "r.yaml")
    assert caught.value.problems[0].where == "r.yaml, field coverage.tiers[0].assign.role"
