"""The revenue pages in a real browser (Debian's Chromium via Playwright): the renewal
centre, the pipeline, the fifteen metrics and the account's growth plan, in English and
Japanese; screenshots go to ``test-artifacts/screenshots/``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from tests.web.conftest import seed_book
from tests.web.test_browser import _login, _serve, _shot, browser, sync_api  # noqa: F401
from tests.web.test_scope import _add_book

from kizuna.revenue import create_opportunity, forecast_accuracy, load_definition, open_renewals
from kizuna.revenue.readmodel import (
    build_framework_windows,
    save_renewal_centre,
    write_framework,
)
from kizuna.store.models import ContractLine
from kizuna.store.revenue_models import OpportunityType

pytestmark = pytest.mark.browser
TODAY = date(2025, 6, 30)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    platform, server = _serve(tmp_path_factory.mktemp("revenue-web"), "own")
    seed_book(platform)
    _add_book(platform)
    with platform.store.session() as s:
        s.add(
            ContractLine(
                id="bolt-analytics", account_id="bolt", product="analytics", arr=Decimal(3000),
                currency="USD", start_date=date(2025, 1, 1), end_date=date(2025, 12, 31),
            )
        )  # fmt: skip
    definition = load_definition()
    assert open_renewals(platform, definition, TODAY).opened >= 1  # acme ends 2025-08-31
    create_opportunity(
        platform, definition, account_id="acme", type=OpportunityType.CROSS_SELL,
        arr_change=Decimal(15000), products=["analytics"], expected_close_date=date(2025, 9, 30),
        stage="proposal", opportunity_id="OPP-X",
    )  # fmt: skip
    save_renewal_centre(platform, definition, TODAY)
    write_framework(
        platform.settings,
        TODAY,
        build_framework_windows(platform, TODAY),
        forecast_accuracy(platform, definition, as_of=TODAY),
        owners=build_framework_windows(platform, TODAY, by="owner"),
    )
    with server as url:
        yield url
    platform.close()


def test_revenue_pages(site: str, browser: object) -> None:  # noqa: F811
    expect = sync_api.expect
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    _login(page, site, "carl")

    page.click("nav a[data-nav=renewals]")
    expect(page.locator("h1")).to_have_text("Renewals")
    row = page.locator("#upcoming tr[data-opportunity=REN-acme-l1]")
    expect(row).to_contain_text("Acme Corp")
    expect(row.locator("[data-category=pipeline]")).to_be_visible()
    expect(row.locator("[data-band=red]")).to_be_visible()
    expect(page.locator("[data-kpi=renewal-arr]")).to_have_text("$120,000")
    expect(page.locator("[data-kpi=weighted]")).to_have_text("$12,000")  # qualify: 10 %
    # carl reads his own book only: the book-wide accuracy is not shown to him
    expect(page.locator("#accuracy [data-state=no-accuracy]")).to_be_visible()
    _shot(page, "renewals")
    page.click("a[data-period=month]")
    expect(page.locator("td[data-weighted='2025-08']")).to_have_text("$12,000")

    page.click("nav a[data-nav=opportunities]")
    expect(page.locator("h1")).to_have_text("Pipeline")
    expect(page.locator("[data-stage=proposal] [data-opportunity=OPP-X]")).to_be_visible()
    expect(page.locator("[data-stage=qualify] [data-opportunity=REN-acme-l1]")).to_be_visible()
    page.click("a[data-type=cross_sell]")
    expect(page.locator("[data-stage=qualify] [data-opportunity]")).to_have_count(0)
    _shot(page, "pipeline")

    page.click("nav a[data-nav=framework]")
    expect(page.locator("#framework tbody tr")).to_have_count(15)
    expect(page.locator("[data-scope=own]")).to_be_visible()  # carl: his own book's figures
    expect(page.locator("tr[data-metric=close_rate]")).to_contain_text("Opportunities won")
    _shot(page, "framework")

    page.goto(f"{site}/ui/accounts/acme")
    plan = page.locator("#growth-plan")
    expect(plan.locator("#owned tbody tr")).to_have_count(1)
    expect(plan.locator("#whitespace tbody tr")).to_have_count(2)
    expect(plan.locator("#whitespace")).to_contain_text("analytics")
    expect(plan.locator("#whitespace")).to_contain_text("support")
    # the typical ARR of analytics and support: their sum
    expect(plan.locator("[data-kpi=expansion-potential]")).to_have_text("$3,750")
    expect(plan.locator("[data-opportunity=OPP-X]")).to_be_visible()
    _shot(page, "growth-plan")

    page.click("a[data-lang=ja]")
    page.wait_for_url("**/ui/accounts/acme")
    expect(page.locator("#growth-plan h2")).to_have_text("成長計画")
    page.click("nav a[data-nav=renewals]")
    expect(page.locator("h1")).to_have_text("更新")
    page.click("nav a[data-nav=framework]")
    expect(page.locator("h1")).to_have_text("カスタマーサクセスの15指標")
    expect(page.locator("tr[data-metric=close_rate] strong")).to_have_text("成約率")
    _shot(page, "framework-ja")
    context.close()


def test_pipeline_actions(site: str, browser: object) -> None:  # noqa: F811
    """Open, advance, win and lose opportunities through the pipeline's forms."""
    expect = sync_api.expect
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    _login(page, site, "carl")
    page.goto(f"{site}/ui/opportunities")
    if page.locator("a[data-lang=en]").count():  # an earlier test left carl's language at ja
        page.click("a[data-lang=en]")

    page.click("#new-opportunity summary")
    form = page.locator("#new-opportunity form")
    form.locator("[name=account_id]").fill("bolt")
    form.locator("[name=type]").select_option("upsell")
    form.locator("[name=arr_change]").fill("abc")
    form.locator("[name=expected_close_date]").fill("2025-10-31")
    form.locator("[name=products]").fill("analytics")
    form.locator("button[data-action=create]").click()
    # the problem is said beside its field, and what was typed stays
    expect(form.locator("[data-error-for=arr_change]")).to_have_text(
        "Enter an amount, e.g. 12000 or 12000.50."
    )
    expect(form.locator("[name=account_id]")).to_have_value("bolt")
    form.locator("[name=arr_change]").fill("4000")
    form.locator("[name=stage]").select_option("discovery")
    form.locator("button[data-action=create]").click()

    expect(page.locator("#opportunity [data-fact=stage]")).to_have_attribute(
        "data-stage", "discovery"
    )
    expect(page.locator("#opportunity h1")).to_have_text("Bolt Ltd — upsell")
    opp_id = page.locator("#opportunity").get_attribute("data-opportunity")
    page.locator("#move-stage [name=stage]").select_option("negotiation")
    page.locator("#move-stage button[data-action=stage]").click()
    expect(page.locator("#opportunity [data-fact=stage]")).to_have_attribute(
        "data-stage", "negotiation"
    )
    expect(page.locator("#history tbody tr")).to_have_count(2)
    page.locator("#mark-won [name=on]").fill("2025-06-30")
    page.locator("#mark-won button[data-action=won]").click()
    expect(page.locator("#opportunity")).to_have_attribute("data-status", "won")
    expect(page.locator("#mark-won")).to_have_count(0)  # closed: no more actions
    _shot(page, "opportunity-won")

    page.goto(f"{site}/ui/opportunities")
    expect(page.locator(f"[data-opportunity={opp_id}]")).to_have_count(0)  # no longer open
    page.click("#new-opportunity summary")
    form.locator("[name=account_id]").fill("bolt")
    form.locator("[name=type]").select_option("downsell")
    form.locator("[name=arr_change]").fill("-1500")
    form.locator("[name=expected_close_date]").fill("2025-12-31")
    form.locator("button[data-action=create]").click()
    expect(page.locator("#opportunity")).to_have_attribute("data-status", "open")

    # in Japanese: a loss without its reason is refused, in the form
    page.click("a[data-lang=ja]")
    expect(page.locator("#mark-lost h2")).to_have_text("失注")
    page.locator("#mark-lost button[data-action=lost]").click()
    expect(page.locator("#mark-lost [data-error-for=reason]")).to_have_text(
        "失注の理由を入力してください。"
    )
    page.locator("#mark-lost [name=reason]").fill("予算削減")
    page.locator("#mark-lost button[data-action=lost]").click()
    expect(page.locator("#opportunity")).to_have_attribute("data-status", "lost")
    expect(page.locator("#opportunity [data-fact=reason]")).to_have_text("予算削減")
    _shot(page, "opportunity-lost-ja")
    context.close()
