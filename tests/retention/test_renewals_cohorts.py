"""Renewals (with and without grace) and cohorts on hand-built ledgers (SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kizuna.errors import InvalidInput
from kizuna.retention import CohortRow, cohort_retention, renewals

from .conftest import Book, d, money


def renewal_book(book: Book) -> None:
    for a in "KMNOP":
        book.account(a)
    book.line("K", "2024-01-01", "2024-12-31", 100, line_id="K1")
    book.line("K", "2025-01-31", "2025-12-31", 110, line_id="K2")  # starts 30 days late
    book.line("M", "2024-01-01", "2024-06-30", 50, line_id="M1")  # never renewed
    book.line("N", "2024-03-01", "2024-11-30", 40, line_id="N1")
    book.line("N", "2025-03-01", "2026-02-28", 45, line_id="N2", renews="N1")  # linked
    book.line("O", "2024-01-01", "2024-12-31", 20, product="q", line_id="O1")
    book.line("O", "2025-01-01", "2025-12-31", 20, product="r", line_id="O2")  # other product
    book.line("P", "2024-07-01", "2025-07-31", 60, line_id="P1")  # due after as-of: open


def test_renewals_within_grace(book: Book) -> None:
    renewal_book(book)
    report = renewals(book.ledger(), d("2024-01-01"), d("2025-09-30"), as_of=d("2025-06-30"))
    assert [(ln.line_id, ln.status, ln.renewal_line_id, ln.matched_by) for ln in report.lines] == [
        ("M1", "lost", None, None),
        ("N1", "renewed", "N2", "link"),
        ("K1", "renewed", "K2", "rule"),
        ("O1", "lost", None, None),
        ("P1", "open", None, None),
    ]
    t = report.totals
    assert (t.lines_due, t.arr_due, t.arr_renewed, t.arr_lost, t.arr_open, t.renewal_arr) == (
        5,
        money(270),
        money(140),
        money(70),
        money(60),
        money(155),
    )
    assert t.renewal_rate == Decimal(140) / Decimal(270)
    assert t.decided_renewal_rate == Decimal(140) / Decimal(210)
    assert (t.logos_due, t.logos_renewed, t.logos_lost, t.logos_open) == (5, 2, 2, 1)
    assert t.logo_renewal_rate == Decimal("0.4")
    assert [ln.line_id for ln in report.pipeline] == ["P1"]
    p1 = report.pipeline[0]
    assert (p1.renewal_date, p1.days_until_renewal, p1.health_score, p1.churn_risk) == (
        d("2025-08-01"),
        32,
        None,
        None,
    )
    dec = next(p for p in report.by_period if p.period == "2024-12")
    assert (dec.lines_due, dec.arr_due, dec.arr_renewed, dec.arr_lost) == (
        2,
        money(120),
        money(100),
        money(20),
    )
    assert len(report.by_period) == 21  # every month of the range, empty ones too


def test_renewal_outside_grace_is_lost(book: Book) -> None:
    renewal_book(book)
    report = renewals(
        book.ledger(), d("2024-01-01"), d("2025-09-30"), as_of=d("2025-06-30"), grace_days=29
    )
    k1 = next(ln for ln in report.lines if ln.line_id == "K1")
    assert (k1.status, k1.renewal_line_id) == ("lost", None)
    assert (report.totals.arr_renewed, report.totals.arr_lost) == (money(40), money(170))


def test_unrenewed_line_stays_open_during_grace(book: Book) -> None:
    renewal_book(book)
    report = renewals(book.ledger(), d("2024-06-01"), d("2024-06-30"), as_of=d("2024-07-31"))
    assert [(ln.line_id, ln.status) for ln in report.lines] == [("M1", "open")]
    report = renewals(book.ledger(), d("2024-06-01"), d("2024-06-30"), as_of=d("2024-08-01"))
    assert [(ln.line_id, ln.status) for ln in report.lines] == [("M1", "lost")]


def cohort_book(book: Book) -> None:
    book.account("A", segment="smb")
    book.account("B", segment="mid")
    book.account("C", segment="smb")
    book.line("A", "2024-01-10", "2024-03-30", 100)
    book.line("B", "2024-01-20", "2024-12-31", 200)
    book.line("B", "2024-03-01", "2024-12-31", 50)
    book.line("C", "2024-02-05", "2024-12-31", 50)


def row(cohort: str, k: int, size: int, kept: int, base: int, arr: int, seg: str | None = None):
    return CohortRow(
        cohort=cohort,
        segment=seg,
        months_since_start=k,
        accounts=size,
        accounts_retained=kept,
        logo_retention=Decimal(kept) / Decimal(size),
        start_arr=money(base),
        arr=money(arr),
        revenue_retention=Decimal(arr) / Decimal(base),
    )


def test_monthly_cohorts(book: Book) -> None:
    cohort_book(book)
    report = cohort_retention(book.ledger(), as_of=d("2024-04-15"), by="month")
    assert report.rows == [
        row("2024-01", 0, 2, 2, 300, 300),
        row("2024-01", 1, 2, 2, 300, 300),
        row("2024-01", 2, 2, 1, 300, 250),  # A ended 30 March, B expanded
        row("2024-02", 0, 1, 1, 50, 50),
        row("2024-02", 1, 1, 1, 50, 50),
    ]


def test_quarterly_cohorts_by_segment(book: Book) -> None:
    cohort_book(book)
    report = cohort_retention(book.ledger(), as_of=d("2024-04-15"), by="quarter", by_segment=True)
    assert report.rows == [
        row("2024-Q1", 0, 1, 1, 200, 200, "mid"),
        row("2024-Q1", 1, 1, 1, 200, 200, "mid"),
        row("2024-Q1", 2, 1, 1, 200, 250, "mid"),
        row("2024-Q1", 0, 2, 2, 150, 150, "smb"),  # A at end of Jan, C at end of Feb
        row("2024-Q1", 1, 2, 2, 150, 150, "smb"),  # C's month 2 has not ended yet
    ]


def test_no_arr_no_cohorts(book: Book) -> None:
    assert cohort_retention(book.ledger(), as_of=d("2024-04-15")).rows == []


def test_ranges_on_one_ledger_equal_ranges_on_their_own(book: Book) -> None:
    # The lines are matched once per ledger and each range filters them: the same lines,
    # statuses and renewals as a ledger asked for that range alone.
    renewal_book(book)
    shared = book.ledger()
    ranges = [
        (d("2024-01-01"), d("2025-09-30")),
        (d("2024-06-01"), d("2024-06-30")),
        (d("2024-12-01"), d("2024-12-31")),
        (d("2026-01-01"), d("2026-12-31")),
    ]
    for start, end in ranges:
        alone = renewals(book.ledger(), start, end, as_of=d("2025-06-30"))
        assert renewals(shared, start, end, as_of=d("2025-06-30")) == alone
    wide = renewals(shared, d("2024-01-01"), d("2025-09-30"), as_of=d("2025-06-30"))
    assert [ln.line_id for ln in wide.lines] == ["M1", "N1", "K1", "O1", "P1"]


def test_a_missing_rate_counts_only_for_the_lines_of_the_range(book: Book) -> None:
    book.account("A")
    book.account("B")
    book.line("A", "2024-01-01", "2024-06-30", 100, line_id="A1")
    book.line("B", "2024-01-01", "2024-12-31", 100, currency="GBP", line_id="B1")
    book.rate("GBP", "2024-09-01", 1.25)  # none in force before September
    ledger = book.ledger()
    june = renewals(ledger, d("2024-06-01"), d("2024-06-30"), as_of=d("2024-07-31"))
    assert [ln.line_id for ln in june.lines] == ["A1"]
    december = renewals(ledger, d("2024-12-01"), d("2024-12-31"), as_of=d("2025-01-31"))
    assert [(ln.line_id, ln.arr) for ln in december.lines] == [("B1", money(125))]
    book.line("B", "2025-01-01", "2025-12-31", 100, currency="JPY", line_id="B2")
    with pytest.raises(InvalidInput) as caught:
        renewals(book.ledger(), d("2024-12-01"), d("2024-12-31"), as_of=d("2025-01-31"))
    assert [p.message for p in caught.value.problems] == [
        "no JPY→USD rate on or before 2025-01-01; import an fx rate for JPY "
        "valid from 2025-01-01 or earlier"
    ]
