"""The revenue commands end to end: opp create/stage/won/lost/list/show, forecast, framework,
and import opportunities (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.revenue.conftest import Book

from kizuna.cli import run
from kizuna.store.db import Store

DATA = Path(__file__).parent / "data"


@pytest.fixture
def cli(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KIZUNA_DATABASE_URL", store.url)

    def invoke(*args: str) -> tuple[int, Any]:
        capsys.readouterr()
        code = run(["--home", str(tmp_path / "home"), *args])
        out = capsys.readouterr()
        return code, json.loads(out.out) if code == 0 and "--json" in args else out.err

    return invoke


def test_an_opportunity_through_the_pipeline(book: Book, cli) -> None:  # type: ignore[no-untyped-def]
    book.member("csm1")
    book.account("A", owner="csm1")
    code, opp = cli(
        "opp", "create", "A", "--type", "upsell", "--arr-change", "2500", "--close", "2025-09-30",
        "--product", "analytics", "--id", "OPP-1", "--stage", "proposal", "--json",
    )  # fmt: skip
    assert code == 0
    keys = ("id", "type", "stage", "probability", "weighted_arr", "owner_id", "source")
    assert {k: opp[k] for k in keys} == {
        "id": "OPP-1", "type": "upsell", "stage": "proposal", "probability": 0.5,
        "weighted_arr": 1250.0, "owner_id": "csm1", "source": "manual",
    }  # fmt: skip
    assert cli("opp", "stage", "OPP-1", "commit", "--on", "2025-07-01", "--json")[0] == 0
    book.member("ae1")
    code, given = cli("opp", "owner", "OPP-1", "ae1", "--json")
    assert (code, given["owner_id"]) == (0, "ae1")
    code, err = cli("opp", "owner", "OPP-1", "nobody")
    assert code == 1 and "no active team member nobody" in err
    code, won = cli("opp", "won", "OPP-1", "--on", "2025-07-05", "--json")
    assert (code, won["status"], won["closed_on"]) == (0, "won", "2025-07-05")
    code, shown = cli("opp", "show", "OPP-1", "--json")
    assert [h["to_stage"] for h in shown["history"]] == ["proposal", "commit", "closed_won"]
    code, err = cli("opp", "lost", "OPP-1", "--reason", "x")
    assert code == 1 and "already won" in err
    code, err = cli(
        "opp", "create", "A", "--type", "upsell", "--arr-change", "abc", "--close", "2025-13-01"
    )
    assert code == 1 and "is not a date" in err
    code, listed = cli("opp", "list", "--status", "won", "--json")
    assert [o["id"] for o in listed] == ["OPP-1"]


def test_forecast_and_framework_json(book: Book, cli) -> None:  # type: ignore[no-untyped-def]
    # the CLI runs on the system clock: a line ending 30 days from today
    today = datetime.now(UTC).date()
    end = today + timedelta(days=30)
    book.account("A")
    book.line("A", "2024-07-16", end.isoformat(), 1200, line_id="L1")
    code, run_ = cli("opp", "open-renewals", "--json")
    assert (code, run_["opened"]) == (0, 1)
    month = end.replace(day=1)
    code, f = cli(
        "forecast", "--period", "month", "--from", month.isoformat(),
        "--to", (month + timedelta(days=40)).replace(day=1).isoformat(), "--json",
    )  # fmt: skip
    assert code == 0
    assert [(p["arr"], p["weighted_arr"]) for p in f["periods"]] == [(1200.0, 120.0), (0.0, 0.0)]
    assert len(f["accuracy"]) == 4
    out = book.platform.settings.home.parent / "renewals.csv"
    code, _ = cli("forecast", "--from", month.isoformat(), "--csv", str(out))
    header, row = out.read_text(encoding="utf-8").splitlines()
    assert code == 0 and header.split(",")[:3] == ["opportunity_id", "name", "account_id"]
    assert row.startswith("REN-L1,") and ",1200.00,0.1,stage," in row
    code, fw = cli(
        "framework", "--from", "2025-01-01", "--to", "2025-06-30", "--by", "segment", "--json"
    )
    assert code == 0
    assert len(fw["overall"]) == 15 and len(fw["definitions"]) == 15
    assert fw["definitions"][0]["name"] == {"en": "Time to value", "ja": "価値実現までの時間"}
    assert [g["key"] for g in fw["groups"]] == ["smb"]
    code, _ = cli("framework", "--from", "2025-01-01", "--to", "2025-06-30")
    assert code == 0


def test_import_opportunities_with_a_mapping(book: Book, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    book.account("A", attributes={"hubspot_company_id": "501"})
    book.account("B", attributes={"hubspot_company_id": "502"})
    path = tmp_path / "deals.csv"
    path.write_text((DATA / "hubspot_deals.csv").read_text(encoding="utf-8"), encoding="utf-8")
    code, err = cli("import", "opportunities", str(path), "--mapping", "hubspot")
    assert code == 1 and "deals.csv row 4, column Deal Name: required" in err
    code, report = cli(
        "import", "opportunities", str(path), "--mapping", "hubspot", "--skip-invalid", "--json"
    )
    assert (code, report["inserted"], report["rejected"]) == (0, 2, 2)
    assert [p["row"] for p in report["problems"]] == [4, 4, 5, 5]
    code, err = cli("import", "accounts", str(path), "--mapping", "hubspot")
    assert code == 1 and "--mapping" in err
