"""A demo account's success plan in a real browser (Debian's Chromium, Playwright).

Open the plan of an enterprise demo account, add an initiative and see it on the
impact × difficulty matrix, add a manual check-in and see the KPI's status
change, switch to Japanese.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from kizuna.auth.users import add_user
from kizuna.clock import FixedClock
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.sim.config import SimConfig
from kizuna.sim.demo import run_demo
from kizuna.store.db import Store
from kizuna.store.models import TeamRole
from kizuna.store.plans_models import Plan, PlanKpi, PlanState

from .test_browser import CHROMIUM, _Server, _shot, sync_api

pytestmark = pytest.mark.browser
END = date(2025, 6, 30)
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str, int]]:
    tmp: Path = tmp_path_factory.mktemp("plan-web")
    store = Store(f"sqlite:///{tmp / 'home' / 'kizuna.sqlite3'}")
    settings = Settings(home=tmp / "home", database_url=store.url, cookie_secure=False)
    platform = Platform(settings, store, FixedClock(datetime(2025, 6, 30, 12, tzinfo=UTC)))
    config = SimConfig(accounts=60, seed=5, start_date=date(2025, 1, 1), end_date=END)
    summary = run_demo(platform, config)
    assert summary.plans > 0
    add_user(
        platform,
        member_id="ada",
        name="Ada Admin",
        email="ada@example.com",
        role=TeamRole.ADMIN,
        password=PASSWORD,
    )
    with store.session() as s:
        plan = s.scalars(
            sa.select(Plan)
            .where(Plan.state == PlanState.ACTIVE, Plan.template == "enterprise_high_touch")
            .order_by(Plan.id)
        ).first()
        assert plan is not None, "the demo gives enterprise accounts a plan"
        kpi = s.scalars(
            sa.select(PlanKpi).where(PlanKpi.plan_id == plan.id, PlanKpi.metric.is_(None))
        ).first()
        assert kpi is not None
        account_id, kpi_key, kpi_id = plan.account_id, kpi.key, kpi.id
    with _Server(platform) as url:
        yield url, account_id, kpi_key, kpi_id
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


def test_a_csm_works_on_a_demo_plan(demo_site: tuple[str, str, str, int], browser: object) -> None:
    site, account_id, kpi_key, kpi_id = demo_site
    expect = sync_api.expect
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{site}/ui/accounts/{account_id}")
    page.fill("input[name=email]", "ada@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/ui/accounts/{account_id}")
    page.click("#plan-link")
    page.wait_for_url(f"**/ui/accounts/{account_id}/plan")
    expect(page.locator("#plan-status [data-status]")).to_be_visible()
    expect(page.locator("#impact-matrix[data-rendered=true] .main-svg").first).to_be_visible()
    expect(page.locator("#initiative-table tbody tr")).to_have_count(3)
    _shot(page, "plan")

    # add an initiative: it joins the roadmap first (impact 5, difficulty 1) and the matrix
    form = page.locator("#add-initiative")
    form.locator("input[name=key]").fill("sso")
    form.locator("input[name=name]").fill("Single sign-on rollout")
    form.locator("input[name=impact]").fill("5")
    form.locator("input[name=difficulty]").fill("1")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"**/ui/accounts/{account_id}/plan#initiatives")
    expect(page.locator("#initiative-table tbody tr")).to_have_count(4)
    expect(page.locator("#initiative-table tbody tr").first).to_have_attribute(
        "data-initiative", "sso"
    )
    expect(
        page.locator("#impact-matrix[data-rendered=true] .textpoint", has_text="Single sign-on")
    ).to_have_count(1)

    # a manual check-in changes the KPI's status
    row = page.locator(f"#kpi-table tr[data-kpi={kpi_key}]")
    before = row.get_attribute("data-status")
    value = "0" if before == "achieved" else "1000000"
    checkin = page.locator("#add-checkin")
    checkin.locator("select[name=kpi_id]").select_option(value=str(kpi_id))
    checkin.locator("input[name=value]").fill(value)
    checkin.locator("button[type=submit]").click()
    page.wait_for_url(f"**/ui/accounts/{account_id}/plan#checkins")
    after = page.locator(f"#kpi-table tr[data-kpi={kpi_key}]")
    expected = "off_track" if before == "achieved" else "achieved"
    expect(after).to_have_attribute("data-status", expected)
    _shot(page, "plan-after-checkin")

    # Japanese
    page.click("a[data-lang=ja]")
    page.wait_for_url(f"**/ui/accounts/{account_id}/plan")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("#initiatives h2")).to_have_text("改善ロードマップ")
    expect(page.locator("nav a[data-nav=plans]")).to_have_text("成果支援計画")
    _shot(page, "plan-ja")
    page.click("nav a[data-nav=plans]")
    expect(page.locator(f"#plan-table tr[data-account={account_id}]")).to_be_visible()
    context.close()
