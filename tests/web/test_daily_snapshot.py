"""With a daily-run snapshot saved, every page shows the same numbers, read from it.

The book and hand-computed figures of ``test_scope``; the snapshot is built by
the daily run's portfolio step (:func:`kizuna.daily.build_portfolio`, and each
account's lifecycle detail by :func:`kizuna.daily.build_lifecycle_book`).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from fastapi.testclient import TestClient

from kizuna.daily import (
    build_lifecycle_book,
    build_portfolio,
    portfolio_dates,
    read_lifecycle_book,
    write_portfolio,
)
from kizuna.platform import Platform
from kizuna.store.models import ContractLine
from kizuna.web import create_standalone_app, lifecycle_views
from kizuna.web.insights import Figures, account_facts

from .conftest import TODAY, login
from .test_scope import CARL_QUARTER, _add_book, _figures, _section


def _movements(html: str) -> str:
    """The table of ARR movements by month of the retention page."""
    return _no_token(_section(html, "movements"))


def _no_token(html: str) -> str:
    """The page without its per-session form token."""
    return re.sub(r'name="csrf[^"]*" value="[^"]*"', "", html)


def test_pages_read_the_daily_snapshot_and_show_the_same_numbers(web_platform: Platform) -> None:
    _add_book(web_platform)
    # One running app: the daily run saves its snapshot while the app serves.
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
    facts = account_facts(Figures(web_platform, background=False))
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
    live = {a: lifecycle_views.computed_detail(web_platform, a) for a in accounts}
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
    assert read_lifecycle_book(web_platform.settings, TODAY) == book
    app = create_standalone_app(web_platform, background=False)
    figures = app.state.ui.state.figures
    with TestClient(app) as c:
        login(c, "ada")
        for a in accounts:
            assert lifecycle_views.saved_detail(figures, a) == (True, live[a])
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
        assert lifecycle_views.saved_detail(figures, "acme") == (False, None)
        html = c.get("/ui/accounts/acme").text
        assert 'data-milestone="kickoff_held" data-status="done_late"' in html
        assert lifecycle_views.lifecycle_detail(figures, "acme") == lifecycle_views.computed_detail(
            web_platform, "acme"
        )
        # The other accounts' saved details still hold.
        assert lifecycle_views.saved_detail(figures, "bolt") == (True, live["bolt"])

    # Saving the portfolio without lifecycle details removes the earlier file.
    write_portfolio(web_platform.settings, build_portfolio(web_platform, web_platform.today()))
    assert read_lifecycle_book(web_platform.settings, TODAY) is None


def test_a_new_daily_run_replaces_the_figures_a_running_app_cached(
    web_platform: Platform,
) -> None:
    """A filtered retention page is computed live and cached on the app; the cached figures
    are served until the daily run saves a new snapshot, then computed again."""
    _add_book(web_platform)
    app = create_standalone_app(web_platform, background=False)
    with TestClient(app) as c:
        login(c, "ada")
        before = _movements(c.get("/ui/retention?owner=carl").text)
        with web_platform.store.session() as s:
            s.add(
                ContractLine(
                    id="bolt-x1",
                    account_id="bolt",
                    product="extra",
                    arr=Decimal("5000"),
                    currency="USD",
                    start_date=date(2025, 6, 1),
                    end_date=date(2026, 5, 31),
                )
            )
        # Cached on the app (five minutes): the new line is not counted yet.
        assert _movements(c.get("/ui/retention?owner=carl").text) == before
        other = create_standalone_app(web_platform, background=False)
        assert other.state.ui.state.figures is not app.state.ui.state.figures
        write_portfolio(web_platform.settings, build_portfolio(web_platform, web_platform.today()))
        after = _movements(c.get("/ui/retention?owner=carl").text)
    assert after != before
    assert "5,000" in after and "5,000" not in before
