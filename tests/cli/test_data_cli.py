"""``kizuna import`` and ``kizuna export`` as a user runs them (issue 2's must-show scenario)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kizuna.cli import run

ACCOUNTS_CSV = "id,name,segment\nA1,株式会社サンプル,enterprise\nA2,Beta GmbH,smb\nA3,Gamma LLC,\n"

# Seven different defects, one per row after the first good one.
BAD_CSV = """\
id,account_id,product,arr,currency,quantity,start_date,end_date,status,renews_line_id
L1,A1,Core,1200.00,USD,10,2025-01-01,2025-12-31,active,
L2,A1,Core,1200,USD,,2025-02-30,2026-01-31,active,
L3,A1,Core,-500,USD,,2025-01-01,2025-12-31,active,
L4,NOPE,Core,100,USD,,2025-01-01,2025-12-31,active,
L5,A2,Core,100,USD,,2025-01-01,2025-12-31,bogus,
L6,A2,Core,100,USD,,2025-06-01,2025-05-31,active,
L1,A3,Core,100,USD,,2025-01-01,2025-12-31,active,
L7,A3,,100,USD,,2025-01-01,2025-12-31,active,
L8,A3,Addon,250.5,EUR,2,2025-03-01,2026-02-28,pending,L1
"""

PROBLEMS = [
    (3, "start_date", "'2025-02-30' is not a date (YYYY-MM-DD)"),
    (4, "arr", "must be at least 0, got -500"),
    (5, "account_id", "no account 'NOPE' in the store"),
    (6, "status", "'bogus' is not one of 'active', 'ended', 'cancelled' or 'pending'"),
    (7, "end_date", "end_date 2025-05-31 is before start_date 2025-06-01"),
    (8, "id", "duplicate id 'L1' (first at row 2)"),
    (9, "product", "required value missing"),
]


def _problem_dicts() -> list[dict[str, Any]]:
    return [
        {"message": m, "where": f"bad.csv row {r}, column {c}", "field": c, "row": r}
        for r, c, m in PROBLEMS
    ]


@pytest.fixture
def home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    home = str(tmp_path / "data")
    assert run(["--home", home, "init"]) == 0
    (tmp_path / "accounts.csv").write_text(ACCOUNTS_CSV, encoding="utf-8")
    assert run(["--home", home, "import", "accounts", str(tmp_path / "accounts.csv")]) == 0
    capsys.readouterr()
    return home


def test_bad_contracts_report_every_defect_and_change_nothing(
    home: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_CSV, encoding="utf-8")

    assert run(["--home", home, "import", "contracts", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.csv: 7 problems in 7 rows; nothing was imported" in err
    for row, column, message in PROBLEMS:
        assert f"  - bad.csv row {row}, column {column}: {message}" in err

    assert run(["--home", home, "import", "contracts", str(bad), "--json"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["title"] == "Import rejected" and body["status"] == 422
    assert body["errors"] == _problem_dicts()

    assert run(["--home", home, "export", "contracts"]) == 0
    assert capsys.readouterr().out == (
        "id,account_id,product,arr,currency,quantity,start_date,end_date,status,renews_line_id\n"
    )
    assert not (tmp_path / "bad.rejects.csv").exists()


def test_skip_invalid_lands_good_rows_and_writes_rejects(
    home: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_CSV, encoding="utf-8")

    assert run(["--home", home, "import", "contracts", str(bad), "--skip-invalid", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {
        "table": "contracts",
        "source": str(bad),
        "format": "csv",
        "rows_read": 9,
        "inserted": 2,
        "updated": 0,
        "unchanged": 0,
        "rejected": 7,
        "reject_file": str(tmp_path / "bad.rejects.csv"),
        "problems": [{**p} for p in _problem_dicts()],
    }
    rejects = (tmp_path / "bad.rejects.csv").read_text(encoding="utf-8").splitlines()
    assert rejects[0].endswith(",renews_line_id,_reject_reason")
    assert [line.split(",")[0] for line in rejects[1:]] == [
        "L2",
        "L3",
        "L4",
        "L5",
        "L6",
        "L1",
        "L7",
    ]

    assert run(["--home", home, "export", "contracts", "--format", "jsonl"]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == [
        {
            "id": "L1",
            "account_id": "A1",
            "product": "Core",
            "arr": 1200.0,
            "currency": "USD",
            "quantity": 10,
            "start_date": "2025-01-01",
            "end_date": "2025-12-31",
            "status": "active",
            "renews_line_id": None,
        },
        {
            "id": "L8",
            "account_id": "A3",
            "product": "Addon",
            "arr": 250.5,
            "currency": "EUR",
            "quantity": 2,
            "start_date": "2025-03-01",
            "end_date": "2026-02-28",
            "status": "pending",
            "renews_line_id": "L1",
        },
    ]

    # Human output: the summary table and where the rejects went; a re-run changes nothing.
    assert run(["--home", home, "import", "contracts", str(bad), "--skip-invalid"]) == 0
    out = capsys.readouterr().out
    assert "read" in out and "unchanged" in out and "rejected" in out
    assert "7 rejected row(s) written to" in out
    assert run(["--home", home, "import", "contracts", str(bad), "--skip-invalid", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["inserted"], again["updated"], again["unchanged"], again["rejected"]) == (
        0,
        0,
        2,
        7,
    )


def test_export_to_a_file_and_back(
    home: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "accounts.jsonl"
    assert run(["--home", home, "export", "accounts", "--output", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "table": "accounts",
        "rows": 3,
        "output": str(out),
    }
    assert json.loads(out.read_text(encoding="utf-8").splitlines()[0]) == {
        "id": "A1",
        "name": "株式会社サンプル",
        "parent_id": None,
        "segment": "enterprise",
        "industry": None,
        "region": None,
        "owner_id": None,
        "created_date": None,
        "attributes": {},
    }
    assert run(["--home", home, "import", "accounts", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["unchanged"] == 3


def test_unknown_table_and_format_are_explained(
    home: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--home", home, "export", "customers"]) == 1
    assert (
        "unknown table 'customers'; choose one of: team, accounts, contacts"
        in capsys.readouterr().err
    )
    data = tmp_path / "accounts.txt"
    data.write_text(ACCOUNTS_CSV, encoding="utf-8")
    assert run(["--home", home, "import", "accounts", str(data)]) == 1
    assert "pass --format csv|jsonl" in capsys.readouterr().err
    assert run(["--home", home, "import", "accounts", str(data), "--format", "csv", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["unchanged"] == 3
