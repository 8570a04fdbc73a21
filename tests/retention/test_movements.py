"""Hand-built ledgers with hand-computed movements and rates (SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kizuna.errors import InvalidInput
from kizuna.retention import (
    AccountMovement,
    PeriodMovements,
    RetentionRates,
    arr_at,
    arr_movements,
    retention_rates,
)
from kizuna.retention.movements import account_movements
from kizuna.retention.periods import Period, check_range
from kizuna.store.models import ContractStatus

from .conftest import Book, d, money


def every_kind(book: Book) -> None:
    """One account per movement kind for Q1 2024, plus lines on the period's edges."""
    for a in "ABCDEFGHI":
        book.account(a, segment="smb" if a in "ABCD" else "mid")
    book.line("A", "2024-02-01", "2024-12-31", 100)  # new
    book.line("B", "2023-01-01", "2024-12-31", 200)  # expansion +50
    book.line("B", "2024-02-01", "2024-12-31", 50)
    book.line("C", "2023-01-01", "2024-01-31", 300)  # contraction −300
    book.line("C", "2023-01-01", "2024-12-31", 100)
    book.line("D", "2023-06-01", "2024-02-29", 80)  # churn
    book.line("E", "2022-01-01", "2022-12-31", 60)  # had ARR, lapsed, comes back
    book.line("E", "2024-03-01", "2024-12-31", 70)  # reactivation
    book.line("F", "2024-01-01", "2024-12-31", 10)  # starts on the period start: new
    book.line("G", "2023-01-01", "2023-12-31", 20)  # ends the day before start: churn
    book.line("H", "2023-01-01", "2024-03-31", 30)  # ends on the period end: unchanged
    book.line("I", "2024-02-01", "2024-12-31", 999, status=ContractStatus.CANCELLED)


def test_every_movement_kind_and_edges(book: Book) -> None:
    every_kind(book)
    report = retention_rates(book.ledger(), d("2024-01-01"), d("2024-03-31"))
    start = Decimal("730.00")
    assert report.rates == RetentionRates(
        start_arr=start,
        end_arr=money(560),
        new=money(110),
        expansion=money(50),
        contraction=money(300),
        churn=money(100),
        reactivation=money(70),
        grr=Decimal(330) / start,
        nrr=Decimal(380) / start,
        logo_churn=Decimal(2) / Decimal(5),
        revenue_churn=Decimal(100) / start,
        accounts_start=5,
        accounts_churned=2,
    )
    assert (report.start, report.end, report.currency, report.rollup, report.filters) == (
        d("2024-01-01"),
        d("2024-03-31"),
        "USD",
        True,
        {},
    )


def test_retention_by_segment(book: Book) -> None:
    every_kind(book)
    report = retention_rates(book.ledger(), d("2024-01-01"), d("2024-03-31"), by="segment")
    groups = {g.value: g.rates for g in report.groups}
    assert list(groups) == ["mid", "smb"]
    # smb: A new 100, B 200→250, C 400→100, D 80→0
    assert groups["smb"] == RetentionRates(
        start_arr=money(680),
        end_arr=money(450),
        new=money(100),
        expansion=money(50),
        contraction=money(300),
        churn=money(80),
        reactivation=money(0),
        grr=Decimal(300) / Decimal(680),
        nrr=Decimal(350) / Decimal(680),
        logo_churn=Decimal(1) / Decimal(3),
        revenue_churn=Decimal(80) / Decimal(680),
        accounts_start=3,
        accounts_churned=1,
    )
    assert groups["mid"].start_arr == money(50)  # G 20 + H 30
    assert groups["mid"].end_arr == money(110)  # E 70 + F 10 + H 30


def test_account_movements_name_each_kind(book: Book) -> None:
    every_kind(book)
    moves = account_movements(book.ledger(), [Period(d("2024-01-01"), d("2024-03-31"))])
    assert [(m.account_id, m.movement, m.amount) for m in moves] == [
        ("A", "new", money(100)),
        ("B", "expansion", money(50)),
        ("C", "contraction", money(300)),
        ("D", "churn", money(80)),
        ("E", "reactivation", money(70)),
        ("F", "new", money(10)),
        ("G", "churn", money(20)),
    ]
    assert moves[2] == AccountMovement(
        account_id="C",
        name="C",
        period_start=d("2024-01-01"),
        period_end=d("2024-03-31"),
        movement="contraction",
        start_arr=money(400),
        end_arr=money(100),
        amount=money(300),
    )


def test_downgrade_then_upgrade_within_a_period(book: Book) -> None:
    book.account("X")
    book.line("X", "2023-01-01", "2024-12-31", 100)
    book.line("X", "2023-01-01", "2024-01-31", 50)  # 150 → 100 from February
    book.line("X", "2024-03-01", "2024-12-31", 80)  # 100 → 180 from March
    ledger = book.ledger()
    quarter = retention_rates(ledger, d("2024-01-01"), d("2024-03-31")).rates
    assert (quarter.start_arr, quarter.end_arr) == (money(150), money(180))
    assert (quarter.expansion, quarter.contraction) == (money(30), money(0))
    months = arr_movements(ledger, d("2024-01-01"), d("2024-03-31"), period="month")
    zero = money(0)
    assert months.periods == [
        PeriodMovements(
            d("2024-01-01"),
            d("2024-01-31"),
            money(150),
            zero,
            zero,
            zero,
            zero,
            zero,
            money(150),
            1,
            1,
            0,
            0,
            0,
        ),
        PeriodMovements(
            d("2024-02-01"),
            d("2024-02-29"),
            money(150),
            zero,
            zero,
            money(50),
            zero,
            zero,
            money(100),
            1,
            1,
            0,
            0,
            0,
        ),
        PeriodMovements(
            d("2024-03-01"),
            d("2024-03-31"),
            money(100),
            zero,
            money(80),
            zero,
            zero,
            zero,
            money(180),
            1,
            1,
            0,
            0,
            0,
        ),
    ]
    assert months.totals == PeriodMovements(
        d("2024-01-01"),
        d("2024-03-31"),
        money(150),
        zero,
        money(80),
        money(50),
        zero,
        zero,
        money(180),
        1,
        1,
        0,
        0,
        0,
    )


def test_partial_months_are_clipped(book: Book) -> None:
    book.account("A")
    book.line("A", "2024-01-20", "2024-02-10", 12)
    report = arr_movements(book.ledger(), d("2024-01-15"), d("2024-02-05"))
    assert [(p.period_start, p.period_end, p.new, p.end_arr) for p in report.periods] == [
        (d("2024-01-15"), d("2024-01-31"), money(12), money(12)),
        (d("2024-02-01"), d("2024-02-05"), money(0), money(12)),
    ]


def family(book: Book) -> None:
    book.owner("csm1")
    book.account("P", segment="enterprise", owner_id="csm1")
    book.account("C1", parent="P", segment="smb")
    book.account("C2", parent="P", segment="smb")
    book.account("G1", parent="C1", segment="smb")
    book.line("C1", "2023-01-01", "2023-12-31", 100)  # ARR moves from C1 …
    book.line("C2", "2024-01-01", "2024-12-31", 120)  # … to its sibling C2
    book.line("G1", "2024-01-01", "2024-12-31", 5, product="addon")  # grandchild


def test_parent_rolls_up_children(book: Book) -> None:
    family(book)
    rolled = retention_rates(book.ledger(), d("2024-01-01"), d("2024-03-31")).rates
    assert (rolled.start_arr, rolled.end_arr) == (money(100), money(125))
    assert (rolled.expansion, rolled.churn, rolled.new) == (money(25), money(0), money(0))
    assert (rolled.accounts_start, rolled.accounts_churned, rolled.grr, rolled.nrr) == (
        1,
        0,
        Decimal(1),
        Decimal("1.25"),
    )
    snapshot = arr_at(book.ledger(), d("2024-02-01"))
    assert [(a.account_id, a.segment, a.arr) for a in snapshot.accounts] == [
        ("P", "enterprise", money(125))
    ]


def test_without_rollup_siblings_churn_and_start(book: Book) -> None:
    family(book)
    flat = retention_rates(book.ledger(rollup=False), d("2024-01-01"), d("2024-03-31")).rates
    assert (flat.churn, flat.new, flat.expansion) == (money(100), money(125), money(0))
    assert (flat.accounts_start, flat.accounts_churned, flat.logo_churn) == (1, 1, Decimal(1))


def test_filters_apply_to_the_rolled_up_account_and_lines(book: Book) -> None:
    family(book)
    by_owner = retention_rates(book.ledger(owner="csm1"), d("2024-01-01"), d("2024-03-31"))
    assert by_owner.rates.end_arr == money(125)
    assert by_owner.filters == {"owner": "csm1"}
    smb = retention_rates(book.ledger(segment="smb"), d("2024-01-01"), d("2024-03-31"))
    assert smb.rates.end_arr == money(0)  # the children roll up to an enterprise parent
    smb_flat = retention_rates(
        book.ledger(segment="smb", rollup=False), d("2024-01-01"), d("2024-03-31")
    )
    assert smb_flat.rates.end_arr == money(125)
    addon = retention_rates(book.ledger(product="addon"), d("2024-01-01"), d("2024-03-31"))
    assert (addon.rates.start_arr, addon.rates.new, addon.rates.end_arr) == (
        money(0),
        money(5),
        money(5),
    )


def test_currency_conversion_follows_rate_changes(book: Book) -> None:
    book.account("E")
    book.account("U")
    book.rate("EUR", "2023-12-01", 1.10)
    book.rate("EUR", "2024-02-15", 1.20)
    book.line("E", "2024-01-01", "2024-12-31", 100, currency="EUR")
    book.line("U", "2023-01-01", "2024-12-31", 50)
    ledger = book.ledger()
    months = arr_movements(ledger, d("2024-01-01"), d("2024-03-31"))
    assert [(p.new, p.expansion, p.end_arr) for p in months.periods] == [
        (money(110), money(0), money(160)),
        (money(0), money(10), money(170)),  # the rate moved: 100 EUR is now 120 USD
        (money(0), money(0), money(170)),
    ]
    assert arr_at(ledger, d("2024-02-14")).total_arr == money(160)
    assert arr_at(ledger, d("2024-02-15")).total_arr == money(170)


def test_missing_rates_name_every_currency_and_date(book: Book) -> None:
    book.account("A")
    book.rate("GBP", "2024-03-01", 1.25)
    book.line("A", "2024-01-10", "2024-12-31", 10, currency="GBP")  # rate starts too late
    book.line("A", "2024-01-01", "2024-12-31", 1000, currency="JPY")  # no rate at all
    with pytest.raises(InvalidInput) as caught:
        arr_movements(book.ledger(), d("2024-01-01"), d("2024-03-31"))
    assert [str(p) for p in caught.value.problems] == [
        "fx_rates: no GBP→USD rate on or before 2024-01-31; import an fx rate for GBP "
        "valid from 2024-01-31 or earlier",
        "fx_rates: no JPY→USD rate on or before 2024-01-31; import an fx rate for JPY "
        "valid from 2024-01-31 or earlier",
    ]


def test_empty_book_has_no_rates(book: Book) -> None:
    report = retention_rates(book.ledger(), d("2024-01-01"), d("2024-03-31"))
    zero = money(0)
    assert report.rates == RetentionRates(
        zero, zero, zero, zero, zero, zero, zero, None, None, None, None, 0, 0
    )


def test_period_must_not_be_empty(book: Book) -> None:
    with pytest.raises(InvalidInput) as caught:
        retention_rates(book.ledger(), d("2024-02-01"), d("2024-01-01"))
    assert [p.field for p in caught.value.problems] == ["start"]


def test_a_period_outside_the_calendar_is_refused_with_its_fields() -> None:
    # year 1 would need the day before it (year 0), which the calendar does not have
    with pytest.raises(InvalidInput) as caught:
        check_range(d("0001-01-01"), d("0021-01-01"))
    assert [p.field for p in caught.value.problems] == ["start", "end"]
    check_range(d("1900-01-01"), d("2999-12-31"))  # the edges are fine
