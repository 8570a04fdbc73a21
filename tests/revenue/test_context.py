"""Churn risk and success plan status beside each renewal: read from what the risk and
plans capabilities stored as of the date, merged with health, weighting the forecast."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
from tests.revenue.conftest import Book

from kizuna.platform import Platform
from kizuna.revenue import (
    PlanContext,
    RenewalContext,
    RiskContext,
    create_opportunity,
    renewal_contexts,
    renewal_forecast,
)
from kizuna.revenue.context import merge_contexts
from kizuna.risk.scores import scores_path
from kizuna.store.plans_models import Plan, PlanStatusSnapshot
from kizuna.store.revenue_models import OpportunityType

D = date.fromisoformat


def _scores(platform: Platform, day: str, rows: dict[str, tuple[float, str]]) -> None:
    path = scores_path(platform.settings, D(day))
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = list(rows)
    pq.write_table(
        pa.table(
            {
                "account_id": ids,
                "as_of": pa.array([D(day)] * len(ids), pa.date32()),
                "probability": [rows[a][0] for a in ids],
                "band": [rows[a][1] for a in ids],
                "contraction_probability": [0.0] * len(ids),
                "arr_up": [1000.0] * len(ids),
                "expected_renewal_arr": [1000.0] * len(ids),
                "renewal_date": pa.array([D("2025-09-30")] * len(ids), pa.date32()),
                "days_to_renewal": pa.array([90] * len(ids), pa.int32()),
            }
        ),
        path,
    )


def _plan(book: Book, plan_id: str, account: str, statuses: dict[str, str]) -> None:
    book.add(
        Plan(
            id=plan_id, account_id=account, template="mid_market", title=plan_id,
            start_date=D("2025-01-01"), end_date=D("2025-12-31"),
        )
    )  # fmt: skip
    for day, status in statuses.items():
        book.add(PlanStatusSnapshot(plan_id=plan_id, as_of=D(day), status=status))


def test_risk_and_plan_status_as_of_the_date(platform: Platform, book: Book) -> None:
    for a in "ABC":
        book.account(a)
    _scores(platform, "2025-05-31", {"A": (0.1, "low"), "B": (0.3, "medium")})
    _scores(platform, "2025-06-30", {"A": (0.6, "high")})
    _plan(book, "P-A", "A", {"2025-06-29": "on_track", "2025-06-30": "off_track"})
    _plan(book, "P-B", "B", {"2025-06-29": "at_risk"})  # not active on the 30th any more

    risk = RiskContext(platform)
    assert risk.context(["A", "B", "C"], D("2025-06-15")) == {
        "A": RenewalContext(churn_risk=0.1, renewal_probability=0.9, risk_band="low"),
        "B": RenewalContext(churn_risk=0.3, renewal_probability=0.7, risk_band="medium"),
    }
    assert risk.context(["A", "B"], D("2025-07-01")) == {
        "A": RenewalContext(churn_risk=0.6, renewal_probability=0.4, risk_band="high")
    }
    assert risk.context(["A"], D("2025-05-01")) == {}  # nothing scored yet

    plans = PlanContext(platform)
    assert plans.context(["A", "B", "C"], D("2025-06-29")) == {
        "A": RenewalContext(plan_status="on_track"),
        "B": RenewalContext(plan_status="at_risk"),
    }
    assert plans.context(["A", "B", "C"], D("2025-06-30")) == {
        "A": RenewalContext(plan_status="off_track")
    }
    assert plans.context(["A"], D("2025-06-01")) == {}

    book.health("2025-06-30", {"A": (35.0, "red", None)})
    merged = merge_contexts(renewal_contexts(platform), ["A", "B"], D("2025-06-30"))
    assert merged == {
        "A": RenewalContext(
            health_score=35.0,
            health_band="red",
            churn_risk=0.6,
            renewal_probability=0.4,
            risk_band="high",
            plan_status="off_track",
        )
    }  # B: scored on the 31st of May only; the newest scores are the book as of the date


def test_the_risk_models_renewal_probability_weights_the_forecast(
    platform: Platform, book: Book
) -> None:
    book.account("A")
    book.account("B")
    line_a = book.line("A", "2024-10-01", "2025-09-30", 10000)
    line_b = book.line("B", "2024-10-01", "2025-09-30", 2000)
    for account, line in (("A", line_a), ("B", line_b)):
        create_opportunity(
            platform, book.definition, account_id=account, type=OpportunityType.RENEWAL,
            arr_change=Decimal(0), arr_total=Decimal(10000 if account == "A" else 2000),
            expected_close_date=D("2025-09-30"), renews_line_id=line, on=D("2025-06-01"),
        )  # fmt: skip
    _scores(platform, "2025-06-30", {"A": (0.25, "medium")})
    _plan(book, "P-A", "A", {"2025-06-30": "on_track"})
    f = renewal_forecast(
        platform, book.definition, D("2025-07-01"), D("2025-09-30"), as_of=D("2025-06-30"),
        context=renewal_contexts(platform),
    )  # fmt: skip
    by_account = {r.opportunity.account_id: r for r in f.renewals}
    a, b = by_account["A"], by_account["B"]
    assert (a.probability, a.probability_source, a.weighted_arr) == (
        0.75, "risk_model", Decimal("7500.00"),
    )  # fmt: skip
    assert (a.context.churn_risk, a.context.risk_band, a.context.plan_status) == (
        0.25, "medium", "on_track",
    )  # fmt: skip
    # no score for B: the stage's default (qualify, 10 %)
    assert (b.probability, b.probability_source, b.weighted_arr) == (
        0.1, "stage", Decimal("200.00"),
    )  # fmt: skip
    assert f.totals.weighted_arr == Decimal("7700.00")
