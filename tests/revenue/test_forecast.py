"""The renewal forecast by hand: weighting by stage, by the opportunity, by a risk model;
categories; what closed; accuracy over past quarters from the stage history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

from tests.revenue.conftest import Book

from kizuna.platform import Platform
from kizuna.revenue import (
    RenewalContext,
    create_opportunity,
    forecast_accuracy,
    lose,
    move_stage,
    renewal_forecast,
    win,
)
from kizuna.store.revenue_models import OpportunityType

D = date.fromisoformat


class RiskModel:
    """A stand-in churn-risk model: a renewal probability per account."""

    def __init__(self, probabilities: dict[str, float]) -> None:
        self.probabilities = probabilities

    def context(self, account_ids: Sequence[str], as_of: date) -> Mapping[str, RenewalContext]:
        return {
            a: RenewalContext(
                renewal_probability=p, churn_risk=round(1 - p, 4), plan_status="on_track"
            )
            for a, p in self.probabilities.items()
            if a in account_ids
        }


def _renewal(
    platform: Platform,
    book: Book,
    account: str,
    arr: int,
    close: str,
    stage: str,
    on: str,
    probability: float | None = None,
) -> str:
    return create_opportunity(
        platform,
        book.definition,
        account_id=account,
        type=OpportunityType.RENEWAL,
        arr_change=Decimal(0),
        arr_total=Decimal(arr),
        expected_close_date=D(close),
        stage=stage,
        on=D(on),
        probability=probability,
    ).id


def test_forecast_weights_by_stage_opportunity_and_risk_model(
    platform: Platform, book: Book
) -> None:
    for a in "ABCDE":
        book.account(a)
    _renewal(platform, book, "A", 1000, "2025-07-20", "proposal", "2025-06-01")  # 0.5 best case
    _renewal(platform, book, "B", 2000, "2025-08-31", "commit", "2025-06-01")  # 0.9 commit
    _renewal(platform, book, "C", 500, "2025-09-30", "negotiation", "2025-06-01", probability=0.2)
    _renewal(platform, book, "D", 4000, "2025-10-15", "qualify", "2025-06-01")  # risk model 0.75
    won = _renewal(platform, book, "E", 300, "2025-11-30", "commit", "2025-06-01")
    win(platform, book.definition, won, on=D("2025-06-20"))
    book.health("2025-06-30", {"A": (35.0, "red", None)})

    from kizuna.revenue import HealthContext

    f = renewal_forecast(
        platform,
        book.definition,
        D("2025-07-01"),
        D("2025-12-31"),
        as_of=D("2025-06-30"),
        period="quarter",
        context=[HealthContext(platform), RiskModel({"D": 0.75})],
    )

    q3, q4 = f.periods
    assert (q3.period, q3.renewals, q3.arr, q3.weighted_arr) == (
        "2025-Q3",
        3,
        Decimal("3500.00"),
        Decimal("2400.00"),
    )
    assert q3.by_category == {
        "commit": Decimal("2000.00"),
        "best_case": Decimal("1500.00"),
        "pipeline": Decimal("0.00"),
        "won": Decimal("0.00"),
        "lost": Decimal("0.00"),
    }
    # D: 4,000 × the model's 0.75; E won: 300 × 1
    assert (q4.renewals, q4.weighted_arr, q4.won_arr, q4.open_arr) == (
        2,
        Decimal("3300.00"),
        Decimal("300.00"),
        Decimal("4000.00"),
    )
    assert f.totals.weighted_arr == Decimal("5700.00")
    by_account = {r.opportunity.account_id: r for r in f.renewals}
    assert {
        a: (r.probability, r.probability_source, r.category) for a, r in by_account.items()
    } == {
        "A": (0.5, "stage", "best_case"),
        "B": (0.9, "stage", "commit"),
        "C": (0.2, "opportunity", "best_case"),
        "D": (0.75, "risk_model", "pipeline"),
        "E": (1.0, "decided", "won"),
    }
    assert (by_account["A"].context.health_band, by_account["A"].context.health_score) == (
        "red",
        35.0,
    )
    assert (by_account["D"].context.churn_risk, by_account["D"].context.plan_status) == (
        0.25,
        "on_track",
    )
    # by month: July holds A only
    monthly = renewal_forecast(
        platform,
        book.definition,
        D("2025-07-01"),
        D("2025-09-30"),
        as_of=D("2025-06-30"),
        period="month",
    )
    assert [(p.period, p.weighted_arr) for p in monthly.periods] == [
        ("2025-07", Decimal("500.00")),
        ("2025-08", Decimal("1800.00")),
        ("2025-09", Decimal("100.00")),
    ]


def test_accuracy_compares_the_forecast_at_quarter_start_with_what_renewed(
    platform: Platform, book: Book
) -> None:
    for a in "ABCD":
        book.account(a)
    # Q1 2025: on 2024-12-31 A stood at proposal (0.5) and B at commit (0.9): 500 + 900 forecast
    a = _renewal(platform, book, "A", 1000, "2025-02-28", "qualify", "2024-11-01")
    move_stage(platform, book.definition, a, "proposal", on=D("2024-12-01"))
    move_stage(
        platform, book.definition, a, "commit", on=D("2025-01-15")
    )  # after the quarter began
    win(platform, book.definition, a, on=D("2025-02-15"))
    b = _renewal(platform, book, "B", 1000, "2025-03-15", "commit", "2024-12-01")
    lose(platform, book.definition, b, reason="competitor", on=D("2025-03-01"))
    # opened after Q1 began: not part of Q1's forecast, but it renewed
    c = _renewal(platform, book, "C", 200, "2025-03-20", "commit", "2025-02-01")
    win(platform, book.definition, c, on=D("2025-03-10"))
    # Q2: nothing was forecast and nothing closed

    rows = forecast_accuracy(platform, book.definition, as_of=D("2025-06-30"), quarters=2)

    assert [
        (r.period, r.forecast_weighted, r.forecast_commit, r.actual_won, r.actual_lost, r.accuracy)
        for r in rows
    ] == [
        (
            "2025-Q1",
            Decimal("1400.00"),
            Decimal("1000.00"),
            Decimal("1200.00"),
            Decimal("1000.00"),
            0.8333,
        ),
        ("2025-Q2", Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), None),
    ]
