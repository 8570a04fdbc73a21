"""Teams, my language, a Japanese CTA reason, task reassignment, "did it work?" and the
unsubscribe link, in a real browser (Debian's Chromium via Playwright)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kizuna.actions import run_rules
from kizuna.actions.techtouch import contact_preference, unsubscribe_token
from kizuna.platform import Platform

from .conftest import seed_book
from .test_browser import _login, _serve, _shot, browser, sync_api  # noqa: F401

pytestmark = pytest.mark.browser

RULES_YAML = """
playbooks:
  - id: pb
    name: Save
    name_ja: 立て直し
    tasks:
      - {title: Call the evaluator, title_ja: 評価者に電話する, due_days: 0}
      - {title: Agree a plan, title_ja: 計画を合意する, due_days: 5}
rules:
  - id: red
    name: Red health
    name_ja: ヘルスが赤
    type: risk
    priority: high
    when: {attention: red}
    playbook: pb
"""


@pytest.fixture(scope="module")
def team_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Platform]]:
    platform, server = _serve(tmp_path_factory.mktemp("teams-web"), "own")
    seed_book(platform)
    platform.settings.home.mkdir(parents=True, exist_ok=True)
    (platform.settings.home / "rules.yaml").write_text(RULES_YAML, "utf-8")
    run_rules(platform)
    with server as url:
        yield url, platform
    platform.close()


def test_teams_language_reassign_report_and_unsubscribe(
    team_site: tuple[str, Platform],
    browser: object,  # noqa: F811
) -> None:
    site, platform = team_site
    expect = sync_api.expect
    # an admin makes a team and puts Carl in it as its lead
    admin = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = admin.new_page()
    _login(page, site, "ada")
    page.click("nav a[data-nav=teams]")
    page.fill("#new-team input[name=team_id]", "smb-pool")
    page.fill("#new-team input[name=name]", "SMB pool")
    page.click("[data-action=create-team]")
    team = page.locator("section[data-team=smb-pool]")
    expect(team.locator("h2")).to_have_text("SMB pool")
    team.locator("select[name=member_id]").select_option(label="Carl CSM")
    team.locator("select[name=role]").select_option("lead")
    team.locator("[data-action=add-member]").click()
    expect(page.locator("tr[data-member=carl]")).to_contain_text("Team lead")
    _shot(page, "teams")
    admin.close()

    # Carl reads Japanese from his settings on, in any browser
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    _login(page, site, "carl")
    page.click("nav a[data-nav=my_settings]")
    expect(page.locator("#my-teams li[data-team=smb-pool]")).to_contain_text("Team lead")
    page.select_option("#my-language select[name=language]", "ja")
    page.click("[data-action=save-language]")
    expect(page.locator("h1")).to_have_text("個人設定")
    page.click("nav a[data-nav=cockpit]")
    expect(page.locator("h1")).to_have_text("コックピット")
    page.locator("#my-ctas a[data-open-cta]").first.click()
    expect(page.locator("#cta h1")).to_have_text("ヘルスが赤")
    expect(page.locator("[data-fact=reason]")).to_have_text("ヘルスが赤: ヘルスバンドは赤（= 赤）")
    # reassign the second task to Cora
    row = page.locator("#tasks tr[data-status=open]").nth(1)
    row.locator("select[name=owner_id]").select_option(label="Cora CSM")
    row.locator("[data-action=task-reassign]").click()
    expect(page.locator("#tasks tr[data-status=open]").nth(1)).to_contain_text("Cora CSM")
    expect(page.locator("#history")).to_contain_text("タスクを Cora CSM に再割り当て")
    _shot(page, "cta-ja-reassigned")
    page.click("nav a[data-nav=rules_report]")
    expect(page.locator("h1")).to_have_text("効果は出たか？")
    expect(page.locator("#by-rule tr[data-rule=red] td").first).to_have_text("ヘルスが赤")
    expect(page.locator("#by-playbook tr[data-playbook=pb] td").first).to_have_text("立て直し")
    _shot(page, "did-it-work-ja")
    context.close()

    # a contact follows the unsubscribe link of a tech-touch e-mail: no login
    anonymous = browser.new_context(locale="en-US")  # type: ignore[attr-defined]
    page = anonymous.new_page()
    page.goto(f"{site}/ui/unsubscribe/{unsubscribe_token(platform.settings, 'bolt-c1')}")
    expect(page.locator("h1")).to_have_text("Unsubscribe")
    assert contact_preference(platform, "bolt-c1").opted_out is False
    page.click("button[type=submit]")
    expect(page.locator("[data-unsubscribe=done]")).to_contain_text("Bea Bolt")
    assert contact_preference(platform, "bolt-c1").opted_out is True
    _shot(page, "unsubscribed")
    anonymous.close()
