"""Seed 004's fifteen metrics on a hand-built book, every figure computed by hand.

Period 2025-01-01 … 2025-06-30, as of 2025-06-30. Accounts (segment, owner):
A smb c1 — 1,000 ARR in 2024, renewed into 1,500 for 2025 (expansion 500);
B smb c1 — 2,000 until 2025-03-31, not renewed (churn 2,000; renewal lost);
C enterprise c2 — 3,000 until 2025-03-31, renewed into 2,400 (contraction 600);
D enterprise c2 — new from 2025-02-01, 5,000; E smb c1 — new from 2025-03-01, 1,000.
Opening ARR 6,000 (A, B, C); closing 9,900.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from tests.lifecycle.conftest import Builder
from tests.revenue.conftest import Book

from kizuna.lifecycle import onboarding_report
from kizuna.platform import Platform
from kizuna.retention import Ledger
from kizuna.revenue import METRICS, FrameworkReport, create_opportunity, framework, lose, win
from kizuna.store.models import Account, TeamRole, TicketStatus
from kizuna.store.revenue_models import OpportunityType

START, END = date(2025, 1, 1), date(2025, 6, 30)


def _build(platform: Platform, book: Book) -> Builder:
    life = Builder(platform)
    for member in ("c1", "c2"):
        book.member(member)
    for member in ("ae1", "ae2"):
        book.member(member, TeamRole.SALES)
    d = date.fromisoformat
    life.account(
        "A",
        "smb",
        ((d("2024-01-01"), d("2024-12-31"), 1000), (d("2025-01-01"), d("2025-12-31"), 1500)),
    )
    life.account("B", "smb", ((d("2024-07-01"), d("2025-03-31"), 2000),))
    life.account(
        "C",
        "enterprise",
        ((d("2024-04-01"), d("2025-03-31"), 3000), (d("2025-04-01"), d("2026-03-31"), 2400)),
    )
    life.account("D", "enterprise", ((d("2025-02-01"), d("2026-01-31"), 5000),))
    life.account("E", "smb", ((d("2025-03-01"), d("2026-02-28"), 1000),))
    with platform.store.session() as s:
        s.execute(sa.update(Account).where(Account.id.in_(["A", "B", "E"])).values(owner_id="c1"))
        s.execute(sa.update(Account).where(Account.id.in_(["C", "D"])).values(owner_id="c2"))
    # onboarding: D on time (value day 20, activated day 10); E late (activated day 40, done day 50)
    for milestone, day in zip(
        (
            "kickoff_held",
            "success_metrics_agreed",
            "data_connected",
            "first_users_active",
            "first_value",
        ),
        (2, 3, 5, 10, 20),
        strict=True,
    ):
        life.complete("D", milestone, d("2025-02-01") + timedelta(days=day))
    for milestone, day in zip(
        (
            "kickoff_held",
            "success_metrics_agreed",
            "data_connected",
            "first_users_active",
            "first_value",
        ),
        (1, 5, 50, 40, 30),
        strict=True,
    ):
        life.complete("E", milestone, d("2025-03-01") + timedelta(days=day))
    # health: the last snapshot in the period counts (not 03-31, not 07-31)
    book.health("2025-03-31", {"A": (10, "red", 10.0)})
    book.health(
        "2025-06-30",
        {
            "A": (80, "green", 90.0),
            "B": (40, "red", 20.0),
            "C": (60, "yellow", 70.0),
            "D": (90, "green", None),
            "E": (70, "yellow", 40.0),
        },
    )
    book.health("2025-07-31", {"A": (0, "red", 0.0)})
    # usage: the last computed date in the period (06-28; 07-05 is after it)
    book.metric("2025-06-28", "events_28d", {"A": 10, "B": 0, "C": 5, "D": 3})
    book.metric("2025-06-28", "feature_breadth_28d", {"A": 0.5, "C": 0.25, "D": 0.75})
    book.metric("2025-07-05", "events_28d", {"A": 0, "B": 0, "C": 0, "D": 0, "E": 0})
    # NPS answers in the period (and one the day before it)
    for account, day, score in (
        ("A", "2025-01-15", 10),
        ("A", "2025-05-15", 9),
        ("B", "2025-02-01", 3),
        ("C", "2025-03-01", 8),
        ("D", "2025-06-30", 6),
        ("E", "2025-04-01", 10),
        ("E", "2024-12-31", 0),
    ):
        book.nps(account, day, score)
    # tickets opened in the period, resolved by its end?
    book.ticket("A", "2025-01-10", "2025-01-12", TicketStatus.SOLVED)  # yes
    book.ticket("B", "2025-02-01", None, TicketStatus.OPEN)  # no
    book.ticket("C", "2025-03-01", "2025-07-05", TicketStatus.CLOSED)  # closed after the period
    book.ticket("C", "2025-04-01", "2025-04-02", TicketStatus.SOLVED)  # yes
    book.ticket("D", "2025-06-29", "2025-06-30", TicketStatus.CLOSED)  # yes
    book.ticket("E", "2024-12-20", "2025-01-02", TicketStatus.SOLVED)  # opened before
    # opportunities closed in the period: 3 won, 2 lost
    book.fx("EUR", "2025-01-01", 1.1)
    definition = book.definition

    def opp(
        account: str, kind: OpportunityType, change: int, owner: str, currency: str = "USD"
    ) -> str:
        return create_opportunity(
            platform,
            definition,
            account_id=account,
            type=kind,
            arr_change=Decimal(change),
            expected_close_date=END,
            owner_id=owner,
            currency=currency,
            on=date(2024, 12, 1),
        ).id

    win(platform, definition, opp("A", OpportunityType.UPSELL, 700, "ae1"), on=date(2025, 2, 10))
    win(
        platform,
        definition,
        opp("C", OpportunityType.CROSS_SELL, 1000, "ae1", "EUR"),
        on=date(2025, 5, 1),
    )
    lose(
        platform,
        definition,
        opp("D", OpportunityType.UPSELL, 400, "ae2"),
        reason="no budget",
        on=date(2025, 3, 1),
    )
    lose(
        platform,
        definition,
        opp("B", OpportunityType.RENEWAL, 0, "c1"),
        reason="churned",
        on=date(2025, 4, 1),
    )
    win(platform, definition, opp("C", OpportunityType.RENEWAL, -600, "c2"), on=date(2025, 3, 20))
    win(platform, definition, opp("E", OpportunityType.UPSELL, 300, "ae2"), on=date(2025, 7, 2))
    opp("E", OpportunityType.UPSELL, 900, "ae2")  # still open
    return life


def _values(metrics: list) -> dict[str, float | None]:  # type: ignore[type-arg]
    return {m.id: m.value for m in metrics}


def _report(platform: Platform, book: Book, by: str | None) -> FrameworkReport:
    life = _build(platform, book)
    onboarding = onboarding_report(platform, life.definition, START, END, END)
    return framework(platform, START, END, by=by, onboarding=onboarding)  # type: ignore[arg-type]


def test_the_fifteen_metrics_overall_and_by_segment(platform: Platform, book: Book) -> None:
    report = _report(platform, book, "segment")

    assert [m.id for m in report.overall] == [m.id for m in METRICS]
    assert len(METRICS) == 15
    assert (report.health_as_of, report.metrics_as_of, report.as_of) == (
        date(2025, 6, 30),
        date(2025, 6, 28),
        END,
    )
    assert _values(report.overall) == {
        "time_to_value": 25.0,  # D 20 days, E 30 days
        "activation_rate": 0.5,  # D in window, E late
        "on_time_onboarding_rate": 0.5,
        "adoption_score": 55.0,  # (90 + 20 + 70 + 40) / 4; D has no adoption score
        "product_usage": 0.75,  # A, C, D active of A, B, C, D
        "nps": 16.67,  # 3 promoters, 2 detractors of 6 answers
        "expansion_bookings": 1800.0,  # 700 + 1,000 EUR × 1.1
        "net_new_bookings": 3900.0,  # 6,000 new + 500 − 600 − 2,000
        "value_expansion_rate": 0.083333,  # 500 / 6,000
        "retention_rate": 0.566667,  # GRR (6,000 − 600 − 2,000) / 6,000
        "churn_rate": 0.333333,  # B of A, B, C
        "health_distribution": 68.0,  # mean score
        "resolution_rate": 0.6,  # 3 of 5 tickets opened in the period
        "close_rate": 0.6,  # 3 won of 5 closed
        "final_renewal_rate": 0.6,  # C 3,000 renewed, B 2,000 lost
    }
    parts = {m.id: m.parts for m in report.overall}
    assert parts["retention_rate"] == {"grr": 0.566667, "nrr": 0.65}
    assert parts["churn_rate"] == {
        "logo_churn": 0.333333,
        "revenue_churn": 0.333333,
        "accounts_start": 3,
        "accounts_churned": 1,
    }
    assert parts["health_distribution"] == {
        "red": 1,
        "yellow": 2,
        "green": 2,
        "red_share": 0.2,
        "yellow_share": 0.4,
        "green_share": 0.4,
    }
    assert parts["product_usage"] == {
        "active_accounts": 3,
        "accounts": 4,
        "mean_feature_breadth": 0.5,
    }
    assert parts["nps"] == {"answers": 6, "promoters": 3, "detractors": 2}
    assert parts["close_rate"] == {"won": 3, "lost": 2}
    assert parts["time_to_value"] == {"q1": 22.5, "q3": 27.5, "reached": 2, "not_reached": 0}

    groups = {g.key: _values(g.metrics) for g in report.groups}
    assert list(groups) == ["enterprise", "smb"]
    assert groups["smb"] == {
        "time_to_value": 30.0,
        "activation_rate": 0.0,
        "on_time_onboarding_rate": 0.0,
        "adoption_score": 50.0,
        "product_usage": 0.5,
        "nps": 50.0,
        "expansion_bookings": 700.0,
        "net_new_bookings": -500.0,
        "value_expansion_rate": 0.166667,
        "retention_rate": 0.333333,
        "churn_rate": 0.5,
        "health_distribution": 63.33,
        "resolution_rate": 0.5,
        "close_rate": 0.5,
        "final_renewal_rate": 0.0,
    }
    assert groups["enterprise"] == {
        "time_to_value": 20.0,
        "activation_rate": 1.0,
        "on_time_onboarding_rate": 1.0,
        "adoption_score": 70.0,
        "product_usage": 1.0,
        "nps": -50.0,
        "expansion_bookings": 1100.0,
        "net_new_bookings": 4400.0,
        "value_expansion_rate": 0.0,
        "retention_rate": 0.8,
        "churn_rate": 0.0,
        "health_distribution": 75.0,
        "resolution_rate": 0.666667,
        "close_rate": 0.666667,
        "final_renewal_rate": 1.0,
    }


def test_by_owner_opportunities_count_for_their_owner(platform: Platform, book: Book) -> None:
    report = framework_by_owner = _report(platform, book, "owner")
    groups = {g.key: {m.id: m.value for m in g.metrics} for g in framework_by_owner.groups}
    assert list(groups) == ["ae1", "ae2", "c1", "c2"]
    assert {k: (v["close_rate"], v["expansion_bookings"]) for k, v in groups.items()} == {
        "ae1": (1.0, 1800.0),
        "ae2": (0.0, 0.0),
        "c1": (0.0, 0.0),
        "c2": (1.0, 0.0),
    }
    # the account figures follow the account's owner CSM
    assert groups["c1"]["retention_rate"] == 0.333333
    assert groups["c2"]["nps"] == -50.0
    assert groups["ae1"]["nps"] is None  # a sales member owns no accounts
    assert report.by == "owner"


def test_an_empty_period_has_no_figures_rather_than_zeros(platform: Platform, book: Book) -> None:
    report = framework(platform, START, END)
    values = _values(report.overall)
    assert values["expansion_bookings"] == 0.0 and values["net_new_bookings"] == 0.0
    assert {k for k, v in values.items() if v is None} == {
        m.id for m in METRICS if m.id not in ("expansion_bookings", "net_new_bookings")
    }


def test_the_period_must_be_in_order(platform: Platform) -> None:
    from kizuna.errors import InvalidInput

    with pytest.raises(InvalidInput):
        framework(platform, END, START)


def test_reports_sharing_a_ledger_equal_reports_on_their_own(
    platform: Platform, book: Book
) -> None:
    # What the reports over one ledger share (the accounts' groups, store counts, the health
    # and usage figures of a day) gives each the figures it has computed alone.
    life = _build(platform, book)
    onboarding = onboarding_report(platform, life.definition, START, END, END)
    windows = [(START, END), (date(2025, 4, 1), END), (date(2025, 6, 1), END)]
    alone = {
        (start, by): framework(platform, start, END, by=by, onboarding=onboarding)
        for start, _ in windows
        for by in ("segment", "owner", None)
    }
    with Ledger.load(platform.store, platform.settings) as ledger:
        for (start, by), expected in alone.items():
            shared = framework(platform, start, END, by=by, onboarding=onboarding, ledger=ledger)
            assert shared == expected, (start, by)
    by_owner = alone[(START, "owner")]
    assert {g.key for g in by_owner.groups} == {"ae1", "ae2", "c1", "c2"}
