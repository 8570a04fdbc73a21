"""Every figure of the portfolio counts the caller's book and the page's filters only.

The book of ``conftest`` plus, for Carl's Bolt Ltd, a support line renewed in
May 2025 (1,000 → 1,500) and an analytics add-on from May 2025 (2,000), and
stored lifecycle stages. Carl owns Acme and Bolt; Cora owns Cirrus and Delta.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from fastapi.testclient import TestClient

from kizuna.platform import Platform
from kizuna.store.lifecycle_models import StageTransition
from kizuna.store.models import ContractLine
from kizuna.web import create_standalone_app

from .conftest import login

STAGES = {"acme": "onboarding", "bolt": "adoption", "cirrus": "adoption", "delta": "renewal"}


def _add_book(platform: Platform) -> None:
    with platform.store.session() as s:
        s.add_all(
            [
                ContractLine(
                    id="bolt-s1",
                    account_id="bolt",
                    product="support",
                    arr=Decimal("1000"),
                    currency="USD",
                    start_date=date(2024, 5, 1),
                    end_date=date(2025, 4, 30),
                ),
                ContractLine(
                    id="bolt-s2",
                    account_id="bolt",
                    product="support",
                    arr=Decimal("1500"),
                    currency="USD",
                    start_date=date(2025, 5, 1),
                    end_date=date(2026, 4, 30),
                    renews_line_id="bolt-s1",
                ),
                ContractLine(
                    id="bolt-a1",
                    account_id="bolt",
                    product="analytics",
                    arr=Decimal("2000"),
                    currency="USD",
                    start_date=date(2025, 5, 1),
                    end_date=date(2026, 4, 30),
                ),
            ]
        )
        for account_id, stage in STAGES.items():
            s.add(
                StageTransition(
                    account_id=account_id,
                    transition_date=date(2025, 6, 1),
                    from_stage=None,
                    to_stage=stage,
                    reason="test",
                    computed_at=datetime(2025, 6, 1, tzinfo=UTC),
                )
            )


def _kpis(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-kpi="([\w-]+)">([^<]*)<', html))


def _section(html: str, section_id: str) -> str:
    return html.split(f'id="{section_id}"')[1].split("</section>")[0]


def _accounts(html: str) -> list[str]:
    return re.findall(r'<tr data-account="([^"]+)"', html)


def _chart(html: str, chart_id: str) -> dict[str, object]:
    found = re.search(rf'<script type="application/json" id="{chart_id}-spec">(.*?)</script>', html)
    assert found is not None, chart_id
    spec: dict[str, object] = json.loads(found.group(1))
    return spec


def _trend(html: str) -> dict[str, tuple[list[str], list[int]]]:
    spec = _chart(html, "health-distribution-trend")
    return {t["name"]: (t["x"], t["y"]) for t in spec["data"]}  # type: ignore[attr-defined]


def _stages(html: str) -> list[tuple[str, str]]:
    # Each stage links to the account list filtered to it.
    return re.findall(
        r'<tr data-stage="[^"]+"><td><a [^>]*>([^<]+)</a></td><td class="num">(\d+)</td>', html
    )


def _figures(html: str) -> dict[str, object]:
    renewals = _section(html, "renewals").split("In 91 to 180 days")
    return {
        "kpis": _kpis(html),
        "bands": re.findall(r'data-band-count="(\w+)">(\d+)<', html),
        "trend": _trend(html),
        "stages": _stages(html),
        "renewals_90": _accounts(renewals[0]),
        "renewals_180": _accounts(renewals[1]),
        "attention": _accounts(_section(html, "attention")),
    }


WEEKS = [(date(2025, 6, 30) - timedelta(days=7 * i)).isoformat() for i in range(12, -1, -1)]
CARL_QUARTER = {
    # Opening ARR on 2025-03-31: Acme 120,000 + Bolt 8,000 + support 1,000 = 129,000.
    # Bolt +500 (support renewed higher) +2,000 (analytics): expansion 2,500.
    "kpis": {
        "arr": "$131,500",
        "grr": "100.0%",
        "nrr": "101.9%",  # 131,500 / 129,000
        "new": "$0",
        "renewal": "$1,000",  # the support line due on 2025-04-30, renewed by its link
        "expansion": "$2,500",
        "red": "1",
    },
    "bands": [("red", "1"), ("yellow", "0"), ("green", "1")],
    # All 13 weeks to 2025-06-30; snapshots only on 2025-06-23 and 2025-06-30 (2025-05-31
    # is not a whole week back): the eleven weeks before have no bar, not a zero.
    "trend": {
        "red": (WEEKS, [None] * 11 + [0, 1]),
        "yellow": (WEEKS, [None] * 11 + [1, 0]),
        "green": (WEEKS, [None] * 11 + [1, 1]),
    },
    "stages": [("Adoption", "1"), ("Onboarding", "1")],
    "renewals_90": ["acme"],  # 2025-09-01; Bolt's next renewal is 2026-01-01 (185 days)
    "renewals_180": [],
    "attention": ["acme", "bolt"],  # acme: red, drop, overdue; bolt: overdue
}


def test_a_scoped_csm_sees_figures_of_their_own_book_only(web_platform: Platform) -> None:
    _add_book(web_platform)
    settings = web_platform.settings.model_copy(update={"csm_scope": "own"})
    scoped = Platform(settings=settings, store=web_platform.store, clock=web_platform.clock)
    with TestClient(create_standalone_app(scoped, background=False)) as c:
        login(c, "carl")
        own = c.get("/ui/portfolio").text
        assert _figures(own) == CARL_QUARTER
        # Asking for another CSM's book is an unknown owner, not a way around the scope.
        other = c.get("/ui/portfolio?owner=cora")
        assert 'data-error-for="owner"' in other.text
        assert _figures(other.text) == CARL_QUARTER
        assert "Cirrus" not in own and "Delta" not in own
        # The retention and onboarding pages count the same book.
        retention = c.get("/ui/retention").text
        assert "Cirrus" not in retention
        onboarding = c.get("/ui/onboarding").text
        # Acme started on 2024-09-01; Bolt's first line (2024-05-01) is before the window.
        assert re.search(r'data-kpi="accounts">1<', onboarding)
    with TestClient(create_standalone_app(web_platform, background=False)) as c:
        login(c, "ada")
        # The admin filtering on Carl sees exactly what Carl sees...
        assert _figures(c.get("/ui/portfolio?owner=carl").text) == CARL_QUARTER
        # ...and the whole book is different in every figure.
        whole = _figures(c.get("/ui/portfolio").text)
        assert whole["kpis"] == {
            "arr": "$177,500",
            "grr": "100.0%",
            "nrr": "101.4%",  # 177,500 / 175,000
            "new": "$0",
            "renewal": "$1,000",
            "expansion": "$2,500",
            "red": "2",
        }
        assert whole["trend"] == {
            "red": (WEEKS, [None] * 11 + [1, 2]),
            "yellow": (WEEKS, [None] * 11 + [2, 1]),
            "green": (WEEKS, [None] * 11 + [1, 1]),
        }
        assert whole["stages"] == [("Adoption", "2"), ("Onboarding", "1"), ("Renewal", "1")]
        assert whole["renewals_180"] == ["cirrus"]
        assert whole["attention"] == ["acme", "cirrus", "bolt", "delta"]  # by ARR at stake


def test_filters_narrow_every_figure(client: TestClient) -> None:
    login(client, "ada")
    html = client.get("/ui/portfolio?segment=smb&period=year").text
    figures = _figures(html)
    # Bolt (8,000, new on 2025-01-01) and Delta (6,000 since 2024-07-01).
    assert figures["kpis"] == {
        "arr": "$14,000",
        "grr": "100.0%",
        "nrr": "100.0%",
        "new": "$8,000",
        "renewal": "$0",
        "expansion": "$0",
        "red": "1",
    }
    assert figures["trend"] == {
        "red": (WEEKS, [None] * 11 + [1, 1]),
        "yellow": (WEEKS, [None] * 11 + [0, 0]),
        "green": (WEEKS, [None] * 11 + [1, 1]),
    }
    assert figures["attention"] == ["bolt", "delta"]  # 8,000 then 6,000 at stake


def test_account_360_shows_arr_history_renewal_and_onboarding(web_platform: Platform) -> None:
    _add_book(web_platform)
    with TestClient(create_standalone_app(web_platform, background=False)) as c:
        login(c, "carl")
        html = c.get("/ui/accounts/bolt").text
        spec = _chart(html, "arr-history")
        trace = spec["data"][0]  # type: ignore[index]
        # From the first month end with ARR: May 2024 (support 1,000), Jan 2025 (+8,000),
        # May 2025 (support renewed at 1,500 and analytics 2,000).
        assert trace["x"][0] == "2024-05-31" and trace["x"][-1] == "2025-06-30"
        assert trace["y"][:8] == [1000.0] * 8  # May–Dec 2024
        assert trace["y"][8:12] == [9000.0] * 4  # Jan–Apr 2025
        assert trace["y"][12:] == [11500.0, 11500.0]  # May, Jun 2025
        assert spec["layout"]["xaxis"]["type"] == "date"  # type: ignore[index]
        assert '<dd data-fact="renewal">Jan 1, 2026</dd>' in html
        assert '<dd data-fact="arr">$11,500</dd>' in html
        # Bolt started on 2025-01-01; with no usage events no milestone is done, so
        # time to value is not reached and onboarding (planned by its template) is late.
        assert re.search(r'data-fact="ttv"><span class="muted">not reached yet', html)
        assert 'data-state="overdue"' in html
        assert '<dd data-fact="stage">Adoption</dd>' in html


def test_every_aggregate_opens_the_list_of_exactly_its_accounts(web_platform: Platform) -> None:
    _add_book(web_platform)
    with TestClient(create_standalone_app(web_platform, background=False)) as c:
        login(c, "ada")

        def listed(query: str) -> list[str]:
            return _accounts(c.get(f"/ui/accounts?{query}").text)

        # Bolt's support line renewed higher and analytics was added in May 2025.
        assert listed("movement=expansion&month=2025-05") == ["bolt"]
        assert listed("movement=churn") == []
        assert listed("stage=adoption") == ["bolt", "cirrus"]
        # Acme renews on 2025-09-01 (63 days), Cirrus on 2025-11-01 (124 days).
        assert listed("renewal=90") == ["acme"] and listed("renewal=180") == ["cirrus"]
        # 30-day changes: acme -33, cirrus -2, delta -3, bolt +2.
        assert listed("trend=drop") == ["acme"]
        assert listed("trend=down") == ["acme", "cirrus", "delta"]
        assert listed("trend=up") == ["bolt"]
        assert listed("attention=red&sort=-arr") == ["acme", "delta"]
        assert listed("attention=any&sort=-arr") == ["acme", "cirrus", "bolt", "delta"]
        # Delta's first ARR was on 2024-07-01; eleven months later (June 2025) it still pays.
        assert listed("cohort=2024-07") == ["delta"]
        assert listed("cohort=2024-07&retained=11") == ["delta"]
        assert listed("cohort=2024-08") == []
        bad = c.get("/ui/accounts?renewal=7&trend=sideways&cohort=July&movement=gift")
        assert re.findall(r'data-error-for="(\w+)"', bad.text) == [
            "renewal",
            "trend",
            "cohort",
            "movement",
        ]
        # Every count on the portfolio is the length of the list its link opens.
        html = c.get("/ui/portfolio").text
        bands = re.findall(
            r'<a href="([^"]+)" data-drill="band-\w+"[^>]*>(?:<strong[^>]*>)?(\d+)<', html
        )
        stages = re.findall(
            r'<a href="([^"]+)" data-drill="stage-\w+">[^<]+</a></td><td class="num">(\d+)<', html
        )
        assert len(bands) == 1 + 3 and len(stages) == 3  # the red tile, three bands, three stages
        for href, count in bands + stages:
            assert len(_accounts(c.get(href.replace("&amp;", "&")).text)) == int(count), href
