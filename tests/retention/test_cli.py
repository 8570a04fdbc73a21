"""The retention commands print the whole expected JSON (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kizuna.cli import run
from kizuna.store.db import Store

from .conftest import Book
from .test_movements import every_kind


@pytest.fixture
def cli(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any):
    monkeypatch.setenv("KIZUNA_DATABASE_URL", store.url)

    def invoke(*args: str) -> tuple[int, Any]:
        capsys.readouterr()
        code = run(["--home", str(tmp_path / "home"), *args])
        out = capsys.readouterr()
        return code, json.loads(out.out) if code == 0 and "--json" in args else out.err

    return invoke


def test_retention_json(book: Book, cli) -> None:
    every_kind(book)
    book.save()
    code, body = cli("retention", "--start", "2024-01-01", "--end", "2024-03-31", "--json")
    assert code == 0
    assert body == {
        "start": "2024-01-01",
        "end": "2024-03-31",
        "currency": "USD",
        "rollup": True,
        "filters": {},
        "start_arr": 730.0,
        "end_arr": 560.0,
        "new": 110.0,
        "expansion": 50.0,
        "contraction": 300.0,
        "churn": 100.0,
        "reactivation": 70.0,
        "grr": 330 / 730,
        "nrr": 380 / 730,
        "logo_churn": 0.4,
        "revenue_churn": 100 / 730,
        "accounts_start": 5,
        "accounts_churned": 2,
    }


def test_retention_by_segment_json(book: Book, cli) -> None:
    every_kind(book)
    book.save()
    code, body = cli(
        "retention",
        "--start",
        "2024-01-01",
        "--end",
        "2024-03-31",
        "--by",
        "segment",
        "--segment",
        "mid",
        "--json",
    )
    assert code == 0
    assert body["filters"] == {"segment": "mid"}
    assert body["by"] == "segment"
    assert body["groups"] == [
        {
            "segment": "mid",
            "start_arr": 50.0,
            "end_arr": 110.0,
            "new": 10.0,
            "expansion": 0.0,
            "contraction": 0.0,
            "churn": 20.0,
            "reactivation": 70.0,
            "grr": 0.6,
            "nrr": 0.6,
            "logo_churn": 0.5,
            "revenue_churn": 0.4,
            "accounts_start": 2,
            "accounts_churned": 1,
        }
    ]


def test_arr_movements_json(book: Book, cli) -> None:
    book.account("X")
    book.line("X", "2023-01-01", "2024-12-31", 100)
    book.line("X", "2024-02-01", "2024-12-31", 25)
    book.save()
    code, body = cli(
        "arr",
        "movements",
        "--period",
        "month",
        "--from",
        "2024-01-01",
        "--to",
        "2024-02-29",
        "--json",
    )
    assert code == 0
    jan = {
        "period_start": "2024-01-01",
        "period_end": "2024-01-31",
        "start_arr": 100.0,
        "new": 0.0,
        "expansion": 0.0,
        "contraction": 0.0,
        "churn": 0.0,
        "reactivation": 0.0,
        "end_arr": 100.0,
        "accounts_start": 1,
        "accounts_end": 1,
        "accounts_new": 0,
        "accounts_reactivated": 0,
        "accounts_churned": 0,
    }
    feb = {
        **jan,
        "period_start": "2024-02-01",
        "period_end": "2024-02-29",
        "expansion": 25.0,
        "end_arr": 125.0,
    }
    assert body == {
        "start": "2024-01-01",
        "end": "2024-02-29",
        "period": "month",
        "currency": "USD",
        "rollup": True,
        "filters": {},
        "periods": [jan, feb],
        "totals": {**feb, "period_start": "2024-01-01", "start_arr": 100.0},
        "accounts": None,
    }


def test_renewals_and_cohorts_json(book: Book, cli) -> None:
    book.account("K")
    book.line("K", "2024-01-01", "2024-12-31", 100, line_id="K1")
    book.line("K", "2025-01-01", "2025-12-31", 120, line_id="K2")
    book.save()
    code, body = cli(
        "renewals", "--from", "2024-12-01", "--to", "2024-12-31", "--as-of", "2025-01-15", "--json"
    )
    assert code == 0
    k1 = {
        "line_id": "K1",
        "account_id": "K",
        "name": "K",
        "product": "core",
        "end_date": "2024-12-31",
        "renewal_date": "2025-01-01",
        "days_until_renewal": -14,
        "arr": 100.0,
        "status": "renewed",
        "renewal_line_id": "K2",
        "renewal_start_date": "2025-01-01",
        "renewal_arr": 120.0,
        "matched_by": "rule",
        "health_score": None,
        "health_band": None,
        "churn_risk": None,
    }
    totals = {
        "period": None,
        "period_start": None,
        "period_end": None,
        "lines_due": 1,
        "arr_due": 100.0,
        "arr_renewed": 100.0,
        "arr_lost": 0.0,
        "arr_open": 0.0,
        "renewal_arr": 120.0,
        "renewal_rate": 1.0,
        "decided_renewal_rate": 1.0,
        "logos_due": 1,
        "logos_renewed": 1,
        "logos_lost": 0,
        "logos_open": 0,
        "logo_renewal_rate": 1.0,
    }
    assert body == {
        "start": "2024-12-01",
        "end": "2024-12-31",
        "as_of": "2025-01-15",
        "grace_days": 30,
        "currency": "USD",
        "rollup": True,
        "filters": {},
        "totals": totals,
        "by_period": [
            {
                **totals,
                "period": "2024-12",
                "period_start": "2024-12-01",
                "period_end": "2024-12-31",
            }
        ],
        "lines": [k1],
        "pipeline": [],
    }
    code, body = cli("cohorts", "--by", "quarter", "--as-of", "2025-02-28", "--json")
    assert code == 0
    assert body["by"] == "quarter" and body["as_of"] == "2025-02-28"
    assert [(r["cohort"], r["months_since_start"], r["arr"]) for r in body["rows"]] == [
        ("2024-Q1", k, 100.0 if k < 12 else 120.0) for k in range(14)
    ]
    assert body["rows"][0] == {
        "cohort": "2024-Q1",
        "segment": None,
        "months_since_start": 0,
        "accounts": 1,
        "accounts_retained": 1,
        "logo_retention": 1.0,
        "start_arr": 100.0,
        "arr": 100.0,
        "revenue_retention": 1.0,
    }


def test_bad_dates_are_all_reported(cli) -> None:
    code, err = cli("retention", "--start", "2024-13-01", "--end", "soon", "--json")
    assert code == 1
    assert "--start" in err and "--end" in err
