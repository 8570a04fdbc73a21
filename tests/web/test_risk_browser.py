"""Churn risk in a real browser: the account 360 panel, the list's risk column and filter,
ARR at risk on the portfolio and the evaluation page, in English and Japanese."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from tests.risk.conftest import build_base

from kizuna.auth.users import add_user
from kizuna.risk import RiskConfig, read_scores, score, train

from .conftest import PASSWORD, USERS
from .test_browser import CHROMIUM, _serve, _shot, sync_api

pytestmark = pytest.mark.browser
AS_OF = date(2025, 6, 30)


@pytest.fixture(scope="module")
def risk_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    platform, server = _serve(tmp_path_factory.mktemp("risk-web"), "all")
    name, email, role = USERS["ada"]
    add_user(platform, member_id="ada", name=name, email=email, role=role, password=PASSWORD)
    build_base(platform, n=150)
    train(platform, AS_OF, RiskConfig(n_boot=50))
    score(platform, AS_OF)
    table = read_scores(platform.settings, AS_OF)
    assert table is not None
    bands = dict(zip(table["account_id"].to_pylist(), table["band"].to_pylist(), strict=True))
    with server as url:
        yield url, bands
    platform.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield chromium
        chromium.close()


def test_risk_in_the_ui(risk_site: tuple[str, dict[str, str]], browser: object) -> None:
    site, bands = risk_site
    expect = sync_api.expect
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{site}/ui/portfolio")
    page.fill("input[name=email]", USERS["ada"][1])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/portfolio")
    expect(page.locator("[data-kpi=arr-at-risk]")).to_be_visible()

    high = sorted(a for a, b in bands.items() if b == "high")
    assert high, "the test base has high-risk accounts"
    page.goto(f"{site}/ui/accounts/{high[0]}")
    panel = page.locator("#risk")
    expect(panel.locator("[data-risk-band]")).to_have_attribute("data-risk-band", "high")
    expect(panel.locator("[data-risk-band]")).to_have_text("High risk")
    expect(page.locator("#risk-drivers li")).to_have_count(5)
    _shot(page, "risk-account360")

    page.click("nav a[data-nav=accounts]")
    page.select_option("select[name=risk]", "high")
    page.wait_for_url("**risk=high**")
    rows = page.locator("#account-table tbody tr[data-account]")
    expect(rows).to_have_count(min(len(high), 50))
    expect(page.locator("#account-table td[data-risk=high]")).to_have_count(min(len(high), 50))

    page.click("nav a[data-nav=risk]")
    expect(page.locator("#risk-backtest tr[data-row=model]")).to_be_visible()
    expect(page.locator("#risk-backtest tr[data-row=health]")).to_be_visible()
    expect(page.locator("#risk-calibration-table tbody tr")).to_have_count(10)
    _shot(page, "risk-evaluation")

    page.click("a[data-lang=ja]")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("h1")).to_have_text("解約リスク")
    page.goto(f"{site}/ui/accounts/{high[0]}")
    expect(page.locator("#risk h2")).to_have_text("解約リスク")
    expect(page.locator("#risk [data-risk-band]")).to_have_text("高リスク")
    expect(page.locator("#risk-drivers li").first).to_contain_text("リスクを")
    _shot(page, "risk-account360-ja")
    context.close()
