"""The growth plan by hand: products owned, whitespace with typical ARR, potential,
buying centre, open opportunities and the CS view."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tests.revenue.conftest import Book

from kizuna.platform import Platform
from kizuna.revenue import HealthContext, create_opportunity
from kizuna.revenue.growth import BuyingCentreMember, OwnedProduct, Whitespace, growth_plan
from kizuna.store.models import Contact, SuccessRole
from kizuna.store.revenue_models import OpportunityType


def test_growth_plan_by_hand(platform: Platform, book: Book) -> None:
    book.account("A", "smb")
    book.account("B", "smb")
    book.account("C", "smb")
    book.account("E", "enterprise")
    book.line("A", "2025-01-01", "2025-12-31", 1000, product="core")
    book.line("A", "2025-03-01", "2026-02-28", 500, product="core")
    book.line("A", "2024-01-01", "2024-12-31", 900, product="sso")  # ended: not owned
    book.line("B", "2025-01-01", "2025-12-31", 400, product="analytics")
    book.line("C", "2025-01-01", "2025-12-31", 600, product="analytics")
    book.line("E", "2025-01-01", "2025-12-31", 9000, product="api")  # only enterprise owns api
    book.add(
        Contact(id="c1", account_id="A", name="Eva", success_role=SuccessRole.EVALUATOR),
        Contact(
            id="c2", account_id="A", name="Pat", success_role=SuccessRole.PROMOTER, title="Ops"
        ),
        Contact(id="c3", account_id="A", name="Oli", success_role=SuccessRole.OTHER),
    )
    opp = create_opportunity(
        platform, book.definition, account_id="A", type=OpportunityType.CROSS_SELL,
        arr_change=Decimal(450), products=["analytics"], expected_close_date=date(2025, 9, 30),
    )  # fmt: skip
    book.health("2025-06-30", {"A": (72.5, "yellow", 60.0)})

    plan = growth_plan(
        platform, book.definition, "A", as_of=date(2025, 6, 30), context=[HealthContext(platform)]
    )

    assert plan.owned == [OwnedProduct("core", Decimal("1500.00"), "USD", 2, date(2025, 12, 31))]
    assert plan.whitespace == [
        Whitespace("analytics", Decimal("500.00"), 2),  # (400 + 600) / 2 among smb
        Whitespace("api", Decimal("9000.00"), 0),  # no smb owner: all accounts
        Whitespace("sso", Decimal("900.00"), 1),
    ]
    assert plan.expansion_potential == Decimal("10400.00")
    assert plan.buying_centre == [
        BuyingCentreMember("c1", "Eva", None, None, "evaluator"),
        BuyingCentreMember("c2", "Pat", "Ops", None, "promoter"),
    ]
    assert [o.id for o in plan.open_opportunities] == [opp.id]
    assert (plan.cs_view.health_score, plan.cs_view.health_band) == (72.5, "yellow")
