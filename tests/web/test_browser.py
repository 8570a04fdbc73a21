"""The UI in a real browser: Debian's Chromium driven by Playwright.

Never a downloaded browser: ``/usr/bin/chromium`` (``apt-get install chromium``).
Screenshots of each main page go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn

from kizuna.clock import FixedClock
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.db import Store
from kizuna.web import create_standalone_app

from .conftest import PASSWORD, USERS, seed_book
from .test_scope import _add_book

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"

pytestmark = pytest.mark.browser

if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    pytest.skip(
        f"{CHROMIUM} is missing: apt-get install -y chromium (required under CI)",
        allow_module_level=True,
    )
sync_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server:
    def __init__(self, platform: Platform) -> None:
        self.port = _free_port()
        config = uvicorn.Config(
            create_standalone_app(platform, background=False),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the UI server did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _serve(tmp: Path, csm_scope: str) -> tuple[Platform, _Server]:
    store = Store(f"sqlite:///{tmp / 'kizuna.sqlite3'}")
    store.upgrade()
    settings = Settings(
        home=tmp / "home", database_url=store.url, cookie_secure=False, csm_scope=csm_scope
    )
    platform = Platform(settings, store, FixedClock(datetime(2025, 6, 30, 12, tzinfo=UTC)))
    return platform, _Server(platform)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The UI over the hand-built book, with CSM scoping on, served by uvicorn."""
    platform, server = _serve(tmp_path_factory.mktemp("web"), "own")
    seed_book(platform)
    _add_book(platform)
    with server as url:
        yield url
    platform.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield chromium
        chromium.close()


def _shot(page: object, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def _login(page: object, base: str, member_id: str) -> None:
    page.goto(f"{base}/ui/portfolio")  # type: ignore[attr-defined]
    page.fill("input[name=email]", USERS[member_id][1])  # type: ignore[attr-defined]
    page.fill("input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url("**/ui/portfolio")  # type: ignore[attr-defined]


def test_a_csm_works_through_the_ui(site: str, browser: object) -> None:
    expect = sync_api.expect
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{site}/ui/portfolio")
    expect(page.locator("h1")).to_have_text("Log in")
    _shot(page, "login")
    _login(page, site, "carl")
    expect(page.locator("h1")).to_have_text("Portfolio")
    expect(page.locator("#health-distribution-trend[data-rendered=true]")).to_be_visible()
    _shot(page, "portfolio")

    # Open a red-health account from the attention list.
    attention = page.locator("#attention tr[data-account=acme]")
    expect(attention.locator("[data-band=red]")).to_be_visible()
    attention.locator("a").first.click()
    page.wait_for_url("**/ui/accounts/acme")
    expect(page.locator("h1")).to_have_text("Acme Corp")
    expect(page.locator("#health-breakdown tbody tr")).to_have_count(2)
    expect(page.locator("#why-changed li").first).to_contain_text("Weekly active users")
    expect(page.locator("#health-trend[data-rendered=true] .main-svg").first).to_be_visible()
    expect(page.locator("#usage-1[data-rendered=true] .main-svg").first).to_be_visible()
    expect(page.locator("#missing-roles")).to_contain_text("No promoter named")
    expect(page.locator("#arr-history[data-rendered=true] .main-svg").first).to_be_visible()
    expect(page.locator("[data-fact=onboarding]")).to_have_attribute("data-state", "overdue")
    _shot(page, "account360")

    # Mark an onboarding milestone done and see it on the timeline.
    row = page.locator("#milestones tr[data-milestone=kickoff_held]")
    expect(row).to_have_attribute("data-status", "overdue")
    row.locator("[data-action=mark-done]").click()
    page.wait_for_url("**/ui/accounts/acme#lifecycle")
    expect(page.locator("#milestones tr[data-milestone=kickoff_held]")).to_have_attribute(
        "data-status", "done_late"
    )
    entry = page.locator("#timeline li[data-kind=milestone]", has_text="Kick-off held")
    expect(entry).to_contain_text("Carl CSM")

    # The account list: filter by segment with the select (submits itself).
    page.click("nav a[data-nav=accounts]")
    page.select_option("select[name=segment]", "smb")
    page.wait_for_url("**segment=smb**")
    expect(page.locator("#account-table tbody tr[data-account]")).to_have_count(1)
    _shot(page, "accounts")

    # Scoping is on: another CSM's account is refused.
    response = page.goto(f"{site}/ui/accounts/cirrus")
    assert response is not None and response.status == 404
    expect(page.locator(".error-page")).to_contain_text("no account cirrus")

    # Switch to Japanese and see Japanese labels.
    page.goto(f"{site}/ui/accounts/acme")
    page.click("a[data-lang=ja]")
    page.wait_for_url("**/ui/accounts/acme")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("#health h2")).to_have_text("ヘルス")
    expect(page.locator("nav a[data-nav=portfolio]")).to_have_text("ポートフォリオ")
    _shot(page, "account360-ja")
    page.click("nav a[data-nav=portfolio]")
    expect(page.locator("#health-distribution-trend[data-rendered=true]")).to_be_visible()
    expect(page.locator("#arr-movements .legendtext").first).to_have_text("新規")
    _shot(page, "portfolio-ja")
    page.click("nav a[data-nav=retention]")
    _shot(page, "retention-ja")
    page.click("nav a[data-nav=onboarding]")
    _shot(page, "onboarding-ja")
    context.close()


def _listed(page: object) -> list[str]:
    rows = page.locator("#account-table tbody tr[data-account]")  # type: ignore[attr-defined]
    return [str(r.get_attribute("data-account")) for r in rows.all()]


def test_drill_from_a_cohort_cell_to_its_accounts(site: str, browser: object) -> None:
    expect = sync_api.expect
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    _login(page, site, "carl")
    page.click("nav a[data-nav=retention]")
    # Carl's book: Bolt's first ARR on 2024-05-01 (support), Acme's on 2024-09-01; both still
    # pay three months later, so each cell at M3 holds exactly its one account.
    page.click("#logo-heatmap [data-cell='2024-09/3']")
    page.wait_for_url("**cohort=2024-09**")
    assert "retained=3" in page.url
    expect(page.locator("[data-filter=cohort]")).to_contain_text("2024-09")
    assert _listed(page) == ["acme"]
    page.go_back()
    page.click("#logo-heatmap [data-cell='2024-05/3']")
    page.wait_for_url("**cohort=2024-05**")
    assert _listed(page) == ["bolt"]
    # The cohort's row header lists every member.
    page.go_back()
    page.click("#logo-heatmap [data-drill='cohort-2024-09']")
    page.wait_for_url("**cohort=2024-09**")
    assert _listed(page) == ["acme"]
    context.close()


def test_drill_from_the_attention_list_and_the_stages(site: str, browser: object) -> None:
    expect = sync_api.expect
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    _login(page, site, "carl")
    shown = [
        str(r.get_attribute("data-account"))
        for r in page.locator("#attention tbody tr[data-account]").all()
    ]
    # Acme (120,000: red, dropped 33 points, onboarding overdue), Bolt (11,500: overdue).
    assert shown == ["acme", "bolt"]
    page.click("#attention [data-drill=attention]")
    page.wait_for_url("**attention=any**")
    expect(page.locator("select[name=attention]")).to_have_value("any")
    assert _listed(page) == shown
    # One reason of one account: every account with that reason.
    page.go_back()
    page.click("#attention tr[data-account=acme] [data-reason=drop]")
    page.wait_for_url("**attention=drop**")
    assert _listed(page) == ["acme"]
    # A stage of the lifecycle table: its accounts.
    page.go_back()
    page.click("#stages [data-drill=stage-adoption]")
    page.wait_for_url("**stage=adoption**")
    assert _listed(page) == ["bolt"]
    # A filter that matches nothing says so.
    page.goto(f"{site}/ui/accounts?stage=churned")
    expect(page.locator("[data-state=no-match]")).to_be_visible()
    context.close()


def test_a_japanese_account_page_shows_no_raw_identifier(site: str, browser: object) -> None:
    from kizuna.lifecycle.definitions import load_definition
    from kizuna.store.models import SuccessRole

    context = browser.new_context(locale="ja-JP", viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    _login(page, site, "carl")
    page.goto(f"{site}/ui/accounts/acme")
    sync_api.expect(page.locator("html")).to_have_attribute("lang", "ja")
    definition = load_definition(None)
    identifiers = {
        *(s.id for s in definition.stages),
        *(m.id for t in definition.onboarding.templates for m in t.milestones),
        *(r.value for r in SuccessRole),
        # The health measures and groups of the snapshot, and the usage metric.
        "weekly_active_users",
        "adoption",
        "sentiment",
        "nps",
        "default",
        # Ticket states and timeline kinds.
        "open",
        "high",
        "urgent",
        "meeting",
        "ticket",
        "done_late",
        "overdue",
        "vendor",
        "customer",
    }
    # What people wrote (activity notes, ticket subjects) is data, shown as written.
    page.locator("#usage-1[data-rendered=true]").wait_for()
    text = page.evaluate(
        """() => { const main = document.querySelector('main');
        main.querySelectorAll('.detail, #timeline .data').forEach(e => e.remove());
        return main.innerText; }"""
    )
    spec = page.locator("#usage-1-spec").text_content() or ""
    raw = sorted(i for i in identifiers if re.search(rf"(?<![\w-]){re.escape(i)}(?![\w-])", text))
    assert raw == []
    assert "ヘルス" in text and "評価者" in text  # the page is Japanese, roles in words
    assert "weekly_active_users" not in spec  # not even in a chart's hover label
    _shot(page, "account360-ja-words")
    context.close()
