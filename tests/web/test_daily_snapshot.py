"""With a daily-run snapshot saved, every page shows the same numbers, read from it.

The book and hand-computed figures of ``test_scope``; the snapshot is built by
the daily run's portfolio step (:func:`kizuna.daily.build_portfolio`, and each
account's lifecycle detail by :func:`kizuna.daily.build_lifecycle_book`).
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from kizuna.daily import (
    build_lifecycle_book,
    build_portfolio,
    portfolio_dates,
    read_lifecycle_book,
    write_portfolio,
)
from kizuna.platform import Platform
from kizuna.web import create_standalone_app, insights, lifecycle_views

from .conftest import TODAY, login
from .test_scope import CARL_QUARTER, _add_book, _figures


def _no_token(html: str) -> str:
    """The page without its per-session form token."""
    return re.sub(r'name="csrf[^"]*" value="[^"]*"', "", html)


def test_pages_read_the_daily_snapshot_and_show_the_same_numbers(web_platform: Platform) -> None:
    _add_book(web_platform)
    with TestClient(create_standalone_app(web_platform, background=False)) as c:
        login(c, "ada")
        live = {
            url: c.get(url).text
            for url in ("/ui/portfolio", "/ui/portfolio?owner=carl", "/ui/retention")
        }
        live_year = c.get("/ui/portfolio?segment=smb&period=year").text
    assert 'data-figures="live"' in live["/ui/portfolio"]

    write_portfolio(web_platform.settings, build_portfolio(web_platform, web_platform.today()))
    assert portfolio_dates(web_platform.settings) == [TODAY]
    insights.invalidate()
    with TestClient(create_standalone_app(web_platform, background=False)) as c:
        login(c, "ada")
        whole = c.get("/ui/portfolio").text
        assert 'data-figures="daily"' in whole
        assert _figures(whole) == _figures(live["/ui/portfolio"])
        assert _figures(c.get("/ui/portfolio?owner=carl").text) == CARL_QUARTER
        year = c.get("/ui/portfolio?segment=smb&period=year").text
        assert _figures(year) == _figures(live_year)
        # The unfiltered retention page is read whole from the snapshot.
        assert _no_token(c.get("/ui/retention").text) == _no_token(live["/ui/retention"])
        bolt = c.get("/ui/accounts/bolt").text
        assert '<dd data-fact="arr">$11,500</dd>' in bolt
        assert '<dd data-fact="renewal">Jan 1, 2026</dd>' in bolt


def test_the_snapshot_facts_are_what_the_pages_use(web_platform: Platform) -> None:
    _add_book(web_platform)
    snapshot = build_portfolio(web_platform, web_platform.today())
    write_portfolio(web_platform.settings, snapshot)
    insights.invalidate()
    facts = insights.account_facts(web_platform)
    assert facts == snapshot.facts
    assert {a: (f.arr, f.health_band, f.stage, f.attention) for a, f in facts.items()} == {
        # Stages by id: each edge shows the definition's label.
        "acme": (120000, "red", "onboarding", ("red", "drop", "overdue")),
        "bolt": (11500, "green", "adoption", ("overdue",)),
        # Cirrus and Delta are on the attention list of test_scope for overdue onboarding too.
        "cirrus": (40000, "yellow", "adoption", ("overdue",)),
        "delta": (6000, "red", "renewal", ("red", "overdue")),
    }


def test_the_account_page_reads_each_account_lifecycle_from_the_daily_run(
    web_platform: Platform,
) -> None:
    _add_book(web_platform)
    accounts = ("acme", "bolt", "cirrus", "delta")
    live = {a: lifecycle_views._compute_detail(web_platform, a) for a in accounts}
    with TestClient(create_standalone_app(web_platform, background=False)) as c:
        login(c, "ada")
        pages = {a: _no_token(c.get(f"/ui/accounts/{a}").text) for a in accounts}

    book = build_lifecycle_book(web_platform, web_platform.today())
    assert book.as_of == TODAY
    assert book.details == live
    assert set(book.stamps) == set(accounts)
    write_portfolio(
        web_platform.settings, build_portfolio(web_platform, web_platform.today()), book
    )
    insights.invalidate()
    assert read_lifecycle_book(web_platform.settings, TODAY) == book
    with TestClient(create_standalone_app(web_platform, background=False)) as c:
        login(c, "ada")
        for a in accounts:
            assert lifecycle_views._saved_detail(web_platform, a) == (True, live[a])
            assert _no_token(c.get(f"/ui/accounts/{a}").text) == pages[a]

        # A milestone marked done since the run: the saved detail no longer holds.
        html = c.get("/ui/accounts/acme").text
        assert 'data-milestone="kickoff_held" data-status="overdue"' in html
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
        done = c.post(
            "/ui/accounts/acme/milestones/kickoff_held/done",
            data={"csrf_token": csrf},
            follow_redirects=False,
        )
        assert done.status_code == 303
        assert lifecycle_views._saved_detail(web_platform, "acme") == (False, None)
        html = c.get("/ui/accounts/acme").text
        assert 'data-milestone="kickoff_held" data-status="done_late"' in html
        assert lifecycle_views.lifecycle_detail(
            web_platform, "acme"
        ) == lifecycle_views._compute_detail(web_platform, "acme")
        # The other accounts' saved details still hold.
        assert lifecycle_views._saved_detail(web_platform, "bolt") == (True, live["bolt"])

    # Saving the portfolio without lifecycle details removes the earlier file.
    write_portfolio(web_platform.settings, build_portfolio(web_platform, web_platform.today()))
    assert read_lifecycle_book(web_platform.settings, TODAY) is None
