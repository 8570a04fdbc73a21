"""The demo's deal history from contract lines: won renewals, lost ones, won upsells."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tests.revenue.conftest import Book

from kizuna.platform import Platform
from kizuna.revenue import get_opportunity, list_opportunities
from kizuna.sim.opportunities import simulate_opportunities


def test_closed_deals_follow_the_lines(platform: Platform, book: Book) -> None:
    book.account("A")
    book.account("B")
    book.line("A", "2024-02-01", "2025-01-31", 1000, line_id="a1")
    book.line("A", "2025-02-01", "2026-01-31", 1500, line_id="a2")
    book.line("B", "2024-03-01", "2025-02-28", 700, line_id="b1")
    book.line("B", "2025-01-01", "2025-12-31", 300, line_id="b2", product="other")  # ends later

    assert simulate_opportunities(platform, date(2024, 7, 1), date(2025, 6, 30)) == 3
    assert simulate_opportunities(platform, date(2024, 7, 1), date(2025, 6, 30)) == 0  # idempotent

    won = get_opportunity(platform, book.definition, "REN-a1")
    assert (won.status, won.closed_on, won.line_id, won.arr_total) == (
        "won",
        date(2025, 1, 31),
        "a2",
        Decimal("1000.00"),
    )
    assert won.history[-1].to_stage == "closed_won" and won.history[0].to_stage == "qualify"
    lost = get_opportunity(platform, book.definition, "REN-b1")
    assert (lost.status, lost.closed_on, lost.line_id) == ("lost", date(2025, 2, 28), None)
    assert lost.close_reason
    up = get_opportunity(platform, book.definition, "UP-a2")
    assert (up.type, up.status, up.arr_change, up.closed_on) == (
        "upsell",
        "won",
        Decimal("500.00"),
        date(2025, 2, 1),
    )
    assert len(list_opportunities(platform, book.definition)) == 3
