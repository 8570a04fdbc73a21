"""Opportunities by hand: automatic renewals, owners, win → contract line, loss → churn."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from tests.revenue.conftest import Book

from kizuna.errors import Conflict, InvalidInput
from kizuna.platform import Platform
from kizuna.retention import Ledger, arr_at, retention_rates
from kizuna.revenue import (
    create_opportunity,
    get_opportunity,
    link_won_renewals,
    list_opportunities,
    lose,
    move_stage,
    open_renewals,
    parse_definition,
    win,
)
from kizuna.revenue.opportunities import StageStep
from kizuna.store.models import ContractLine, ContractStatus, TeamRole
from kizuna.store.revenue_models import Opportunity, OpportunityType

TODAY = date(2025, 6, 30)  # the fixed clock's day


def _line(platform: Platform, line_id: str) -> ContractLine:
    with platform.store.session() as s:
        line = s.get(ContractLine, line_id)
        assert line is not None
        s.expunge(line)
        return line


def test_renewals_open_within_the_lead_time_once_and_never_for_the_past(
    platform: Platform, book: Book
) -> None:
    book.member("csm1")
    book.account("A", owner="csm1")
    book.account("B")
    due = book.line("A", "2024-07-16", "2025-07-15", 1200, line_id="due")
    book.line("A", "2024-10-29", "2025-10-28", 500, line_id="edge", product="addon")  # day 120
    book.line("A", "2024-10-30", "2025-10-29", 700, line_id="later", product="x")  # day 121
    book.line("B", "2024-06-01", "2025-06-29", 900, line_id="past")  # ended yesterday
    book.line(
        "B", "2024-08-01", "2025-07-31", 300, line_id="cancelled", status=ContractStatus.CANCELLED
    )
    book.line("B", "2024-08-01", "2025-08-31", 0, line_id="free")
    book.line("B", "2024-09-01", "2025-08-31", 400, line_id="renewed")
    book.line("B", "2025-09-01", "2026-08-31", 400, line_id="renewal", renews="renewed")

    run = open_renewals(platform, book.definition, TODAY)

    assert (run.opened, run.dry, run.lead_days) == (2, False, 120)
    assert run.opportunity_ids == ["REN-due", "REN-edge"]
    opp = get_opportunity(platform, book.definition, "REN-due")
    assert (opp.type, opp.source, opp.status, opp.stage) == (
        "renewal",
        "automatic",
        "open",
        "qualify",
    )
    assert (opp.account_id, opp.owner_id, opp.renews_line_id, opp.products) == (
        "A",
        "csm1",
        due,
        ["core"],
    )
    assert (opp.arr_total, opp.arr_change, opp.expected_close_date) == (
        Decimal("1200.00"),
        Decimal("0.00"),
        date(2025, 7, 15),
    )
    assert (opp.probability, opp.forecast_category, opp.weighted_arr) == (
        0.1,
        "pipeline",
        Decimal("120.00"),
    )
    assert opp.history == [StageStep(None, "qualify", TODAY, None)]
    # a second run finds nothing new; a backfill (a past date) opens nothing
    assert open_renewals(platform, book.definition, TODAY).opened == 0
    backfill = open_renewals(platform, book.definition, date(2025, 1, 1))
    assert (backfill.dry, backfill.opened) == (True, 0)
    assert len(list_opportunities(platform, book.definition)) == 2


def test_lead_time_comes_from_the_definition(platform: Platform, book: Book) -> None:
    book.account("A")
    book.line("A", "2024-07-16", "2025-07-15", 1200)
    book.line("A", "2024-08-16", "2025-08-15", 100, product="x")
    short = book.definition.model_copy(update={"renewal_lead_days": 20})
    assert open_renewals(platform, short, TODAY).opened == 1


def test_owner_by_type_and_product_from_the_table(platform: Platform, book: Book) -> None:
    book.member("csm1")
    book.member("ae1", TeamRole.SALES)
    book.member("ae2", TeamRole.SALES)
    book.account("A", owner="csm1")
    data = book.definition.model_dump(exclude={"source"})
    data["owners"] = [
        {"type": "cross_sell", "product": "analytics", "owner": "sales", "member": "ae2"},
        {"type": "cross_sell", "owner": "sales", "member": "ae1"},
        {"type": "upsell", "owner": "csm"},
    ]
    definition = parse_definition(data)
    kw = {"account_id": "A", "arr_change": Decimal(100), "expected_close_date": date(2025, 9, 30)}
    assert (
        create_opportunity(
            platform, definition, type=OpportunityType.CROSS_SELL, products=["analytics"], **kw
        ).owner_id
        == "ae2"
    )  # type: ignore[arg-type]
    assert (
        create_opportunity(
            platform, definition, type=OpportunityType.CROSS_SELL, products=["sso"], **kw
        ).owner_id
        == "ae1"
    )  # type: ignore[arg-type]
    assert (
        create_opportunity(platform, definition, type=OpportunityType.UPSELL, **kw).owner_id
        == "csm1"
    )  # type: ignore[arg-type]
    # the default table: upsells go to a sales member, renewals to the account's CSM
    default = create_opportunity(platform, book.definition, type=OpportunityType.UPSELL, **kw)  # type: ignore[arg-type]
    assert default.owner_id in {"ae1", "ae2"}
    again = create_opportunity(platform, book.definition, type=OpportunityType.CROSS_SELL, **kw)  # type: ignore[arg-type]
    assert again.owner_id == default.owner_id  # an account keeps its account executive


def test_won_renewal_links_the_imported_line_when_it_arrives(
    platform: Platform, book: Book
) -> None:
    book.account("A")
    old = book.line("A", "2024-07-16", "2025-07-15", 1200, line_id="old")
    open_renewals(platform, book.definition, TODAY)
    move_stage(platform, book.definition, "REN-old", "commit", on=date(2025, 7, 1), by="csm1")
    won = win(platform, book.definition, "REN-old", on=date(2025, 7, 10), by="csm1")
    assert (won.status, won.stage, won.closed_on, won.line_id) == (
        "won",
        "closed_won",
        date(2025, 7, 10),
        None,
    )
    assert link_won_renewals(platform) == 0  # no billing line yet
    # the billing feed imports the renewing line (same account and product, after the end)
    book.line("A", "2025-07-16", "2026-07-15", 1500, line_id="new")
    assert link_won_renewals(platform) == 1
    opp = get_opportunity(platform, book.definition, "REN-old")
    assert opp.line_id == "new"
    assert _line(platform, "new").renews_line_id == old
    assert [s.to_stage for s in opp.history] == ["qualify", "commit", "closed_won"]
    with pytest.raises(Conflict):
        win(platform, book.definition, "REN-old")


def test_without_billing_feed_a_won_renewal_creates_its_line(
    platform: Platform, book: Book
) -> None:
    platform.settings = platform.settings.model_copy(update={"opportunity_creates_lines": True})
    book.account("A")
    book.line("A", "2024-07-16", "2025-07-15", 1200, line_id="old")
    open_renewals(platform, book.definition, TODAY)
    with platform.store.session() as s:
        s.execute(sa.update(Opportunity).values(arr_total=Decimal(1500), arr_change=Decimal(300)))
    won = win(platform, book.definition, "REN-old", on=date(2025, 7, 10))
    line = _line(platform, won.line_id or "")
    assert (line.start_date, line.end_date, line.arr, line.product, line.renews_line_id) == (
        date(2025, 7, 16),
        date(2026, 7, 15),
        Decimal("1500.00"),
        "core",
        "old",
    )
    with Ledger.load(platform.store, platform.settings) as ledger:
        assert arr_at(ledger, date(2025, 8, 1)).total_arr == Decimal("1500.00")
    # an upsell creates a line of its ARR change from the day it is won
    up = create_opportunity(
        platform,
        book.definition,
        account_id="A",
        type=OpportunityType.UPSELL,
        arr_change=Decimal(600),
        products=["analytics"],
        expected_close_date=date(2025, 7, 20),
    )
    line = _line(
        platform, win(platform, book.definition, up.id, on=date(2025, 7, 20)).line_id or ""
    )
    assert (line.start_date, line.arr, line.product) == (
        date(2025, 7, 20),
        Decimal("600.00"),
        "analytics",
    )


def test_lost_renewal_records_why_and_the_ledger_shows_the_churn(
    platform: Platform, book: Book
) -> None:
    book.account("A")
    book.account("B")
    book.line("A", "2024-07-16", "2025-07-15", 1200, line_id="a")
    book.line("B", "2024-01-01", "2025-12-31", 800, line_id="b")
    open_renewals(platform, book.definition, TODAY)
    with pytest.raises(InvalidInput):
        lose(platform, book.definition, "REN-a", reason="  ")
    lost = lose(
        platform, book.definition, "REN-a", reason="budget cut", on=date(2025, 7, 12), by="csm1"
    )
    assert (lost.status, lost.stage, lost.closed_on, lost.close_reason) == (
        "lost",
        "closed_lost",
        date(2025, 7, 12),
        "budget cut",
    )
    assert (lost.probability, lost.weighted_arr, lost.forecast_category) == (
        0.0,
        Decimal("0.00"),
        "lost",
    )
    with Ledger.load(platform.store, platform.settings) as ledger:
        rates = retention_rates(ledger, date(2025, 7, 1), date(2025, 9, 30)).rates
    assert (rates.start_arr, rates.churn, rates.accounts_churned) == (
        Decimal("2000.00"),
        Decimal("1200.00"),
        1,
    )
    assert _line(platform, "a").end_date == date(2025, 7, 15)  # the line itself is untouched


def test_create_checks_every_input(platform: Platform, book: Book) -> None:
    book.account("A")
    with pytest.raises(InvalidInput) as err:
        create_opportunity(
            platform,
            book.definition,
            account_id="A",
            type=OpportunityType.DOWNSELL,
            arr_change=Decimal(100),
            expected_close_date=TODAY,
            stage="closed_won",
            probability=2,
        )
    assert [p.field for p in err.value.problems] == ["stage", "probability", "arr_change"]
