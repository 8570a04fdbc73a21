"""The pipeline's forms over HTTP: open, move, win, lose and reassign an opportunity from the
UI, with CSRF, the messages shown in the form (English and Japanese) and the audit trail."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from tests.web.conftest import client, login, web_platform  # noqa: F401

from kizuna.auth.audit import list_audit
from kizuna.platform import Platform
from kizuna.revenue import get_opportunity, load_definition
from kizuna.web.app import create_standalone_app


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


NEW = {
    "account_id": "acme",
    "type": "upsell",
    "arr_change": "12000",
    "expected_close_date": "2025-09-30",
    "products": "analytics, support",
    "stage": "proposal",
}


def test_open_move_win_lose_and_reassign_from_the_ui(
    client: TestClient,  # noqa: F811
    web_platform: Platform,  # noqa: F811
) -> None:
    login(client, "carl")
    page = client.get("/ui/opportunities")
    assert page.status_code == 200 and 'id="new-opportunity"' in page.text
    csrf = _csrf(page.text)

    # without the form's token nothing is opened
    refused = client.post("/ui/opportunities", data=NEW, follow_redirects=False)
    assert refused.status_code == 403

    made = client.post(
        "/ui/opportunities", data={**NEW, "csrf_token": csrf}, follow_redirects=False
    )
    assert made.status_code == 303
    url = made.headers["location"]
    opp_id = url.rsplit("/", 1)[1]
    definition = load_definition()
    view = get_opportunity(web_platform, definition, opp_id)
    assert (view.account_id, view.type, view.stage, str(view.arr_change), view.products) == (
        "acme", "upsell", "proposal", "12000.00", ["analytics", "support"],
    )  # fmt: skip
    shown = client.get(url)
    assert "Acme Corp" in shown.text and 'data-stage="proposal"' in shown.text

    moved = client.post(
        f"{url}/stage", data={"csrf_token": csrf, "stage": "commit", "on": "2025-07-01"},
        follow_redirects=False,
    )  # fmt: skip
    assert moved.status_code == 303
    assert get_opportunity(web_platform, definition, opp_id).stage == "commit"

    given = client.post(
        f"{url}/owner", data={"csrf_token": csrf, "owner_id": "cora"}, follow_redirects=False
    )
    assert given.status_code == 303
    assert "Cora CSM" in client.get(url).text

    won = client.post(
        f"{url}/won", data={"csrf_token": csrf, "on": "2025-07-05"}, follow_redirects=False
    )
    assert won.status_code == 303
    after = get_opportunity(web_platform, definition, opp_id)
    assert (after.status, after.closed_on.isoformat()) == ("won", "2025-07-05")  # type: ignore[union-attr]
    assert [h.to_stage for h in after.history] == ["proposal", "commit", "closed_won"]

    # a second one, lost: without a reason the form says why, in the form
    made = client.post(
        "/ui/opportunities",
        data={**NEW, "type": "downsell", "arr_change": "-3000", "csrf_token": csrf},
        follow_redirects=False,
    )
    url = made.headers["location"]
    no_reason = client.post(f"{url}/lost", data={"csrf_token": csrf, "reason": " "})
    assert no_reason.status_code == 422
    assert 'data-error-for="reason">Say why it was lost.' in no_reason.text
    lost = client.post(
        f"{url}/lost", data={"csrf_token": csrf, "reason": "budget cut", "on": "2025-07-02"},
        follow_redirects=False,
    )  # fmt: skip
    assert lost.status_code == 303
    gone = get_opportunity(web_platform, definition, url.rsplit("/", 1)[1])
    assert (gone.status, gone.close_reason, str(gone.closed_on)) == (
        "lost", "budget cut", "2025-07-02",
    )  # fmt: skip

    actions = [
        (e.action, e.actor_id)
        for e in list_audit(web_platform, limit=50)
        if e.resource == "opportunities" and e.allowed
    ]
    assert actions[:6] == [
        ("lost", "carl"), ("create", "carl"), ("won", "carl"), ("owner", "carl"),
        ("stage", "carl"), ("create", "carl"),
    ]  # fmt: skip


def test_form_problems_are_shown_by_field_in_english_and_japanese(
    client: TestClient,  # noqa: F811
) -> None:
    login(client, "carl")
    csrf = _csrf(client.get("/ui/opportunities").text)
    bad = {
        "csrf_token": csrf,
        "account_id": "",
        "type": "upsell",
        "arr_change": "12,000.555",
        "expected_close_date": "30/09/2025",
        "stage": "closed_won",
        "owner_id": "nobody",
    }
    r = client.post("/ui/opportunities", data=bad)
    assert r.status_code == 422
    for field, message in {
        "account_id": "Choose an account.",
        "arr_change": "Enter an amount, e.g. 12000 or 12000.50.",
        "expected_close_date": "Enter a date as YYYY-MM-DD.",
        "stage": "Choose an open stage of the pipeline.",
        "owner_id": "Choose an active team member.",
    }.items():
        assert f'data-error-for="{field}">{message}</em>' in r.text
    assert 'value="12,000.555"' in r.text  # what was typed stays in the form

    # another CSM's account, or none: said in the form
    other = client.post(
        "/ui/opportunities", data={**NEW, "account_id": "cirrus", "csrf_token": csrf}
    )
    assert other.status_code == 422
    assert "You may not change this account's opportunities." in other.text
    nope = client.post("/ui/opportunities", data={**NEW, "account_id": "nope", "csrf_token": csrf})
    assert 'data-error-for="account_id">No such account in your book.' in nope.text

    client.cookies.set("kizuna_lang", "ja")
    ja = client.post("/ui/opportunities", data=bad)
    assert 'data-error-for="account_id">取引先を選んでください。' in ja.text
    assert 'data-error-for="expected_close_date">日付を YYYY-MM-DD で入力してください。' in ja.text


def test_another_books_opportunity_is_not_found(web_platform: Platform) -> None:  # noqa: F811
    from datetime import date
    from decimal import Decimal

    from kizuna.revenue import create_opportunity
    from kizuna.store.revenue_models import OpportunityType

    create_opportunity(
        web_platform, load_definition(), account_id="cirrus", type=OpportunityType.UPSELL,
        arr_change=Decimal(100), expected_close_date=date(2025, 9, 1), opportunity_id="OPP-C",
    )  # fmt: skip
    settings = web_platform.settings.model_copy(update={"csm_scope": "own"})
    scoped = Platform(settings=settings, store=web_platform.store, clock=web_platform.clock)
    with TestClient(create_standalone_app(scoped, background=False)) as c:
        login(c, "carl")
        assert c.get("/ui/opportunities/OPP-C").status_code == 404
        csrf = _csrf(c.get("/ui/opportunities").text)
        assert c.post("/ui/opportunities/OPP-C/won", data={"csrf_token": csrf}).status_code == 404
        assert get_opportunity(web_platform, load_definition(), "OPP-C").status == "open"


def test_a_viewer_or_a_stale_page_is_told_in_the_form(
    client: TestClient,  # noqa: F811
    web_platform: Platform,  # noqa: F811
) -> None:
    from datetime import date
    from decimal import Decimal

    from kizuna.revenue import create_opportunity, win
    from kizuna.store.revenue_models import OpportunityType

    definition = load_definition()
    create_opportunity(
        web_platform, definition, account_id="acme", type=OpportunityType.UPSELL,
        arr_change=Decimal(100), expected_close_date=date(2025, 9, 1), opportunity_id="OPP-A",
    )  # fmt: skip
    login(client, "vic")
    csrf = _csrf(client.get("/ui/opportunities/OPP-A").text)
    r = client.post("/ui/opportunities/OPP-A/stage", data={"csrf_token": csrf, "stage": "commit"})
    assert r.status_code == 422
    assert "You may not change this account's opportunities." in r.text
    login(client, "carl")
    csrf = _csrf(client.get("/ui/opportunities/OPP-A").text)
    win(web_platform, definition, "OPP-A", on=date(2025, 6, 30))
    r = client.post("/ui/opportunities/OPP-A/lost", data={"csrf_token": csrf, "reason": "late"})
    assert r.status_code == 422 and "It was closed meanwhile: reload the page." in r.text
    assert get_opportunity(web_platform, definition, "OPP-A").status == "won"
