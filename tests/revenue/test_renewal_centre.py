"""The renewal centre as a read model: the daily run's revenue step saves it, the page,
its CSV download, the API's and the CLI's CSV show churn risk and plan status beside each
renewal, a scoped CSM sees their own accounts, and before a run the page says so."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from fastapi.testclient import TestClient
from tests.revenue.test_context import _plan, _scores
from tests.web.conftest import login, seed_book

from kizuna.platform import Platform
from kizuna.revenue import (
    create_opportunity,
    load_definition,
    open_renewals,
    read_renewal_centre,
    save_renewal_centre,
)
from kizuna.revenue.readmodel import RENEWAL_CSV_COLUMNS
from kizuna.store.revenue_models import OpportunityType
from kizuna.web.app import create_standalone_app

TODAY = date(2025, 6, 30)


class _Book:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def add(self, *rows: object) -> None:
        with self.platform.store.session() as s:
            for row in rows:
                s.add(row)
                s.flush()


def _web(platform: Platform, scope: str = "all") -> Platform:
    settings = platform.settings.model_copy(update={"cookie_secure": False, "csm_scope": scope})
    return Platform(settings=settings, store=platform.store, clock=platform.clock)


def _renewals(platform: Platform) -> None:
    definition = load_definition()
    # acme (carl) ends 2025-08-31, delta (cora) 2026-06-30: one renewal opens now
    assert open_renewals(platform, definition, TODAY).opportunity_ids == ["REN-acme-l1"]
    create_opportunity(
        platform, definition, account_id="cirrus", type=OpportunityType.RENEWAL,
        arr_change=Decimal(0), arr_total=Decimal(40000), expected_close_date=date(2025, 11, 30),
        stage="commit", opportunity_id="REN-cirrus", on=TODAY,
    )  # fmt: skip
    _scores(platform, "2025-06-30", {"acme": (0.4, "high"), "cirrus": (0.05, "low")})
    _plan(_Book(platform), "P-acme", "acme", {"2025-06-30": "off_track"})


def test_the_saved_centre(platform: Platform) -> None:
    web = _web(platform)
    seed_book(web)
    _renewals(web)
    assert read_renewal_centre(web.settings, TODAY) is None
    assert save_renewal_centre(web, load_definition(), TODAY) == 2

    centre = read_renewal_centre(web.settings, TODAY, "quarter")
    assert centre is not None
    assert (centre.start, centre.end) == (date(2025, 4, 1), date(2026, 3, 31))
    acme, cirrus = centre.renewals
    assert centre.count == 2
    assert read_renewal_centre(web.settings, TODAY, "quarter", limit=1).renewals == [acme]  # type: ignore[union-attr]
    # acme: qualify, weighted by the risk model's renewal probability 0.6
    assert (acme.opportunity_id, acme.arr, acme.probability, acme.probability_source) == (
        "REN-acme-l1", Decimal("120000.00"), 0.6, "risk_model",
    )  # fmt: skip
    assert (acme.weighted_arr, acme.churn_risk, acme.risk_band, acme.plan_status) == (
        Decimal("72000.00"), 0.4, "high", "off_track",
    )  # fmt: skip
    assert (acme.health_band, cirrus.plan_status, cirrus.risk_band) == ("red", None, "low")
    assert [(p.period, p.renewals, p.weighted_arr) for p in centre.periods] == [
        ("2025-Q2", 0, Decimal("0.00")),
        ("2025-Q3", 1, Decimal("72000.00")),
        ("2025-Q4", 1, Decimal("38000.00")),  # commit 90 % (own probability wins over the model)
        ("2026-Q1", 0, Decimal("0.00")),
    ]
    assert centre.totals.by_category["commit"] == Decimal("40000.00")
    # carl's own book: acme only; a later date reads the newest saved day
    own = read_renewal_centre(web.settings, date(2025, 7, 3), "month", account_owner="carl")
    assert own is not None and own.as_of == TODAY
    assert [r.opportunity_id for r in own.renewals] == ["REN-acme-l1"]
    assert [p.period for p in own.periods][:3] == ["2025-06", "2025-07", "2025-08"]


def test_the_page_download_api_and_cli(platform: Platform) -> None:
    web = _web(platform, "own")
    seed_book(web)
    _renewals(web)
    with TestClient(create_standalone_app(web, background=False)) as c:
        login(c, "carl")
        before = c.get("/ui/renewals")
        assert 'data-state="not-computed"' in before.text and "kizuna daily" in before.text
        assert c.get("/ui/renewals.csv").status_code == 404

        save_renewal_centre(web, load_definition(), TODAY)
        page = c.get("/ui/renewals").text
        row = page[page.index('data-opportunity="REN-acme-l1"') :].split("</tr>")[0]
        assert 'data-risk="high">40%' in row and 'data-plan-status="off_track">Off track' in row
        assert "REN-cirrus" not in page  # cora's account

        download = c.get("/ui/renewals.csv?period=month")
        assert download.status_code == 200
        rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
        assert [r["opportunity_id"] for r in rows] == ["REN-acme-l1"]
        assert tuple(rows[0]) == RENEWAL_CSV_COLUMNS
        assert {k: rows[0][k] for k in ("churn_risk", "risk_band", "plan_status", "arr")} == {
            "churn_risk": "0.4", "risk_band": "high", "plan_status": "off_track",
            "arr": "120000.00",
        }  # fmt: skip

        c.cookies.set("kizuna_lang", "ja")
        ja = c.get("/ui/renewals").text
        assert 'data-plan-status="off_track">遅れ' in ja and "高" in ja


def test_a_scoped_csm_reads_the_metrics_of_their_own_book(platform: Platform) -> None:
    from kizuna.revenue.readmodel import build_framework_windows, write_framework

    web = _web(platform, "own")
    seed_book(web)
    definition = load_definition()
    for account, owner, won in (("acme", "carl", True), ("cirrus", "cora", False)):
        opp = create_opportunity(
            web, definition, account_id=account, type=OpportunityType.UPSELL,
            arr_change=Decimal(1000), expected_close_date=date(2025, 6, 30), owner_id=owner,
            on=date(2025, 5, 1),
        )  # fmt: skip
        from kizuna.revenue import lose, win

        if won:
            win(web, definition, opp.id, on=date(2025, 6, 1))
        else:
            lose(web, definition, opp.id, reason="budget", on=date(2025, 6, 2))
    with TestClient(create_standalone_app(web, background=False)) as c:
        login(c, "carl")
        assert 'data-state="not-computed"' in c.get("/ui/framework").text
        write_framework(
            web.settings, TODAY, build_framework_windows(web, TODAY), None,
            owners=build_framework_windows(web, TODAY, by="owner"),
        )  # fmt: skip
        page = c.get("/ui/framework").text
        assert 'data-scope="own"' in page
        close_rate = page[page.index('data-value="close_rate"') :].split("</td>")[0]
        assert close_rate.endswith(">100.0%") or close_rate.endswith(">100%")
        login(c, "ada")
        book = c.get("/ui/framework").text
        close_rate = book[book.index('data-value="close_rate"') :].split("</td>")[0]
        assert close_rate.endswith(">50.0%") or close_rate.endswith(">50%")


def test_the_daily_run_saves_the_centre_and_the_metrics_by_owner(platform: Platform) -> None:
    from kizuna.daily import run_daily
    from kizuna.revenue.readmodel import read_framework
    from kizuna.sim import SimConfig
    from kizuna.sim.demo import run_demo

    run_demo(
        platform,
        SimConfig(accounts=40, seed=3, start_date=date(2025, 1, 1), end_date=TODAY),
        force=True,
    )
    done = run_daily(platform, [TODAY])
    revenue = next(s for s in done.steps if s.step == "revenue")
    centre = read_renewal_centre(platform.settings, TODAY)
    assert centre is not None and centre.as_of == TODAY
    assert f"the renewal centre ({centre.count})" in revenue.detail
    saved = read_framework(platform.settings, TODAY)
    assert saved is not None and set(saved["owner_windows"]) == {"quarter", "year", "last12"}
    assert saved["owner_windows"]["quarter"]["by"] == "owner"
