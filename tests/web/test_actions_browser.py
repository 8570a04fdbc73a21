"""A CSM works a CTA in a real browser (Debian's Chromium via Playwright): cockpit → CTA →
tasks done → close → log a call on the account → see it on the timeline; Japanese labels."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kizuna.actions import parse_rules, run_rules

from .conftest import seed_book
from .test_browser import _login, _serve, _shot, browser, sync_api  # noqa: F401

pytestmark = pytest.mark.browser

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


@pytest.fixture(scope="module")
def action_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    platform, server = _serve(tmp_path_factory.mktemp("actions-web"), "own")
    seed_book(platform)
    run_rules(platform, ruleset=RULES)
    with server as url:
        yield url
    platform.close()


def test_a_csm_works_a_cta(action_site: str, browser: object) -> None:  # noqa: F811
    expect = sync_api.expect
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    _login(page, action_site, "carl")
    page.click("nav a[data-nav=cockpit]")
    page.wait_for_url("**/ui/cockpit")
    expect(page.locator("h1")).to_have_text("Cockpit")
    row = page.locator("#my-ctas tr[data-cta]").first
    expect(row).to_contain_text("Red health")
    _shot(page, "cockpit")
    row.locator("a[data-open-cta]").click()
    expect(page.locator("#cta h1")).to_have_text("Red health")
    expect(page.locator("[data-fact=reason]")).to_contain_text("health band is red")
    for _ in range(2):
        page.locator("#tasks tr[data-status=open] [data-action=task-done]").first.click()
        page.wait_for_load_state()
    expect(page.locator("#tasks tr[data-status=done]")).to_have_count(2)
    expect(page.locator("#all-done")).to_be_visible()
    _shot(page, "cta")
    page.fill("#close input[name=note]", "plan agreed")
    page.click("[data-action=close-cta]")
    expect(page.locator("#cta")).to_have_attribute("data-status", "closed_won")
    account = page.locator("p.muted a").nth(1)
    account.click()
    page.wait_for_url("**/ui/accounts/**")
    page.select_option("#log-activity select[name=kind]", "call")
    page.fill("#log-activity textarea[name=text]", "Called the evaluator about the plan")
    page.click("[data-action=log-activity]")
    page.wait_for_url("**#timeline")
    entry = page.locator(
        "#timeline li[data-kind=call]", has_text="Called the evaluator about the plan"
    )
    expect(entry).to_contain_text("Carl CSM")
    expect(page.locator("#timeline li[data-kind=cta]").first).to_contain_text("Closed won")
    _shot(page, "account360-work")
    # Japanese labels
    page.click("a[data-lang=ja]")
    page.click("nav a[data-nav=cockpit]")
    expect(page.locator("h1")).to_have_text("コックピット")
    expect(page.locator("#my-ctas h2")).to_have_text("自分の対応中CTA")
    _shot(page, "cockpit-ja")
    context.close()
