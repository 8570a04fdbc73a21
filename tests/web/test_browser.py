"""The UI in a real browser: Debian's Chromium driven by Playwright.

Never a downloaded browser: ``/usr/bin/chromium`` (``apt-get install chromium``).
Screenshots of each main page go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
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
from kizuna.web import create_standalone_app, insights

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
    insights.invalidate()
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
    attention.locator("a").click()
    page.wait_for_url("**/ui/accounts/acme")
    expect(page.locator("h1")).to_have_text("Acme Corp")
    expect(page.locator("#health-breakdown tbody tr")).to_have_count(2)
    expect(page.locator("#why-changed li").first).to_contain_text("weekly_active_users")
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
