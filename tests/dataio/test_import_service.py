# ruff: noqa: E501  (expected reject files are clearer unbroken)
"""import_file / import_rows on both backends: validation, rejects, upserts, idempotence."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kizuna.clock import FixedClock
from kizuna.dataio import ROW_MODELS, import_file, import_rows
from kizuna.errors import ImportRejected, NotFound
from kizuna.platform import Platform

Exported = Callable[[Platform, str], list[dict[str, Any]]]
WriteFile = Callable[[str, str], Path]

ACCOUNTS = [
    {"id": "A1", "name": "株式会社サンプル", "segment": "enterprise"},
    {"id": "A2", "name": "Beta GmbH", "segment": "smb"},
    {"id": "A3", "name": "Gamma LLC"},
]

BAD_CONTRACTS = """\
id,account_id,product,arr,currency,quantity,start_date,end_date,status,renews_line_id
L1,A1,Core,1200.00,USD,10,2025-01-01,2025-12-31,active,
L2,A1,Core,1200,USD,,2025-02-30,2026-01-31,active,
L3,A1,Core,-500,USD,,2025-01-01,2025-12-31,active,
L4,NOPE,Core,100,USD,,2025-01-01,2025-12-31,active,
L5,A2,Core,100,USD,,2025-01-01,2025-12-31,bogus,
L6,A2,Core,100,USD,,2025-06-01,2025-05-31,active,
L1,A3,Core,100,USD,,2025-01-01,2025-12-31,active,
L7,A3,,100,USD,,2025-01-01,2025-12-31,active,
L8,A3,Addon,99.5,jpy,,2026-01-01,2026-12-31,active,L9
L9,A3,Addon,100,JPY,,2025-01-01,2025-12-31,active,
L10,A1,Core,1300,USD,,2026-01-01,2026-12-31,pending,L3
L11,A2,Core,10,US,,2025-01-01,2025-12-31,active,
"""


def _problem(row: int, column: str, message: str, source: str = "contracts.csv") -> dict[str, Any]:
    return {
        "message": message,
        "where": f"{source} row {row}, column {column}",
        "field": column,
        "row": row,
    }


EXPECTED_PROBLEMS = [
    _problem(3, "start_date", "'2025-02-30' is not a date (YYYY-MM-DD)"),
    _problem(4, "arr", "must be at least 0, got -500"),
    _problem(5, "account_id", "no account 'NOPE' in the store"),
    _problem(6, "status", "'bogus' is not one of 'active', 'ended', 'cancelled' or 'pending'"),
    _problem(7, "end_date", "end_date 2025-05-31 is before start_date 2025-06-01"),
    _problem(8, "id", "duplicate id 'L1' (first at row 2)"),
    _problem(9, "product", "required value missing"),
    _problem(13, "currency", "'US' is not a 3-letter currency code (ISO 4217, e.g. USD)"),
]


def test_bad_contracts_are_all_reported_and_nothing_lands(
    platform: Platform, write_file: WriteFile, exported: Exported
) -> None:
    import_rows(platform, "accounts", ACCOUNTS)
    path = write_file("contracts.csv", BAD_CONTRACTS)

    with pytest.raises(ImportRejected) as caught:
        import_file(platform, "contracts", path)

    assert [p.to_dict() for p in caught.value.problems] == EXPECTED_PROBLEMS
    assert caught.value.message == (
        "contracts.csv: 8 problems in 8 rows; nothing was imported "
        "(fix them, or skip invalid rows with --skip-invalid)"
    )
    assert exported(platform, "contracts") == []
    assert not (path.parent / "contracts.rejects.csv").exists()


def test_skip_invalid_lands_good_rows_and_writes_rejects(
    platform: Platform, write_file: WriteFile, exported: Exported
) -> None:
    import_rows(platform, "accounts", ACCOUNTS)
    path = write_file("contracts.csv", BAD_CONTRACTS)

    report = import_file(platform, "contracts", path, skip_invalid=True)

    reject_file = path.parent / "contracts.rejects.csv"
    assert (report.rows_read, report.inserted, report.updated, report.unchanged) == (12, 3, 0, 0)
    assert report.rejected == 9
    assert report.reject_file == reject_file
    # L10 renews L3, which is rejected and not in the store: rejected with it.
    cascade = _problem(12, "renews_line_id", "refers to 'L3', rejected at row 4")
    assert [p.to_dict() for p in report.problems] == [
        *EXPECTED_PROBLEMS[:-1],
        cascade,
        EXPECTED_PROBLEMS[-1],
    ]
    assert reject_file.read_text(encoding="utf-8").splitlines() == [
        "id,account_id,product,arr,currency,quantity,start_date,end_date,status,renews_line_id,_reject_reason",
        "L2,A1,Core,1200,USD,,2025-02-30,2026-01-31,active,,start_date: '2025-02-30' is not a date (YYYY-MM-DD)",
        'L3,A1,Core,-500,USD,,2025-01-01,2025-12-31,active,,"arr: must be at least 0, got -500"',
        "L4,NOPE,Core,100,USD,,2025-01-01,2025-12-31,active,,account_id: no account 'NOPE' in the store",
        "L5,A2,Core,100,USD,,2025-01-01,2025-12-31,bogus,,"
        "\"status: 'bogus' is not one of 'active', 'ended', 'cancelled' or 'pending'\"",
        "L6,A2,Core,100,USD,,2025-06-01,2025-05-31,active,,end_date: end_date 2025-05-31 is before start_date 2025-06-01",
        "L1,A3,Core,100,USD,,2025-01-01,2025-12-31,active,,id: duplicate id 'L1' (first at row 2)",
        "L7,A3,,100,USD,,2025-01-01,2025-12-31,active,,product: required value missing",
        "L10,A1,Core,1300,USD,,2026-01-01,2026-12-31,pending,L3,"
        "\"renews_line_id: refers to 'L3', rejected at row 4\"",
        "L11,A2,Core,10,US,,2025-01-01,2025-12-31,active,,"
        "\"currency: 'US' is not a 3-letter currency code (ISO 4217, e.g. USD)\"",
    ]
    line = {"product": "Addon", "quantity": None, "status": "active"}
    assert exported(platform, "contracts") == [
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
        # L8 renews L9, which comes later in the file: written once L9 exists.
        {
            "id": "L8",
            "account_id": "A3",
            **line,
            "arr": 99.5,
            "currency": "JPY",
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
            "renews_line_id": "L9",
        },
        {
            "id": "L9",
            "account_id": "A3",
            **line,
            "arr": 100.0,
            "currency": "JPY",
            "start_date": "2025-01-01",
            "end_date": "2025-12-31",
            "renews_line_id": None,
        },
    ]


ACCOUNTS_CSV = """\
id,name,parent_id,segment,industry,region,owner_id,created_date,attributes
A1,株式会社サンプル,,enterprise,software,APAC,,2024-01-15,"{""plan"": ""gold"", ""seats"": 40}"
A2,Beta GmbH,A1,smb,,EMEA,,,
A3,Gamma LLC,,mid-market,,,,2023-05-02,
"""


def test_reimport_changes_nothing_and_keeps_updated_at(
    platform: Platform, clock: FixedClock, write_file: WriteFile, stamps: Callable[..., Any]
) -> None:
    path = write_file("accounts.csv", ACCOUNTS_CSV)
    first = import_file(platform, "accounts", path)
    assert (first.rows_read, first.inserted, first.updated, first.unchanged, first.rejected) == (
        3,
        3,
        0,
        0,
        0,
    )
    before = stamps(platform.store, "accounts")

    clock.set(clock.now() + timedelta(days=1))
    again = import_file(platform, "accounts", path)

    assert (again.rows_read, again.inserted, again.updated, again.unchanged, again.rejected) == (
        3,
        0,
        0,
        3,
        0,
    )
    assert again.problems == [] and again.reject_file is None
    assert stamps(platform.store, "accounts") == before


def test_changed_rows_are_updated_and_missing_columns_keep_stored_values(
    platform: Platform,
    clock: FixedClock,
    write_file: WriteFile,
    exported: Exported,
    stamps: Callable[..., Any],
) -> None:
    import_file(platform, "accounts", write_file("accounts.csv", ACCOUNTS_CSV))
    created = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
    later = created + timedelta(hours=5)
    clock.set(later)

    # Only id, name and segment: the other columns keep what is stored.
    update = write_file(
        "rename.csv", "id,name,segment\nA1,株式会社サンプル,enterprise\nA2,Beta AG,\nA4,Delta,smb\n"
    )
    report = import_file(platform, "accounts", update)

    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 1)
    rows = {r["id"]: r for r in exported(platform, "accounts")}
    assert rows["A2"] == {
        "id": "A2",
        "name": "Beta AG",
        "parent_id": "A1",
        "segment": None,
        "industry": None,
        "region": "EMEA",
        "owner_id": None,
        "created_date": None,
        "attributes": {},
    }
    assert rows["A1"]["attributes"] == {"plan": "gold", "seats": 40}
    assert rows["A4"]["attributes"] == {}
    assert stamps(platform.store, "accounts") == {
        ("A1",): (created, created),
        ("A2",): (created, later),
        ("A3",): (created, created),
        ("A4",): (later, later),
    }


def test_parent_references_forward_stored_unknown_and_cycles(
    platform: Platform, write_file: WriteFile, exported: Exported
) -> None:
    import_rows(
        platform,
        "accounts",
        [{"id": "P", "name": "Parent"}, {"id": "Q", "name": "Q", "parent_id": "P"}],
    )
    path = write_file(
        "accounts.csv",
        "id,name,parent_id\n"
        "C1,Child of later,C2\n"  # forward reference within the file
        "C2,Later parent,P\n"  # reference to the store
        "C3,Orphan,ZZ\n"
        "X,X,Y\n"
        "Y,Y,X\n"
        "S,Self,S\n"
        "P,Parent,Q\n",  # P → Q → P through the stored Q
    )
    with pytest.raises(ImportRejected) as caught:
        import_file(platform, "accounts", path)
    assert [(p.row, p.field, p.message) for p in caught.value.problems] == [
        (4, "parent_id", "no account 'ZZ' in the store or in this file"),
        (5, "parent_id", "references form a cycle: X → Y → X"),
        (6, "parent_id", "references form a cycle: X → Y → X"),
        (7, "parent_id", "references form a cycle: S → S"),
        (8, "parent_id", "references form a cycle: P → Q → P"),
    ]

    report = import_file(platform, "accounts", path, skip_invalid=True)
    assert (report.inserted, report.updated, report.rejected) == (2, 0, 5)
    parents = {r["id"]: r["parent_id"] for r in exported(platform, "accounts")}
    assert parents == {"C1": "C2", "C2": "P", "P": None, "Q": "P"}


def test_rows_depending_on_rejected_rows_are_rejected_in_a_chain(
    platform: Platform, write_file: WriteFile, exported: Exported
) -> None:
    path = write_file(
        "accounts.jsonl",
        '{"id": "G", "name": "Grandchild", "parent_id": "C"}\n'
        '{"id": "C", "name": "Child", "parent_id": "R"}\n'
        '{"id": "R", "name": "Root", "created_date": "2025-13-01"}\n'
        '{"id": "K", "name": "Keeper"}\n',
    )
    report = import_file(platform, "accounts", path, skip_invalid=True)

    assert [(p.row, p.field, p.message) for p in report.problems] == [
        (1, "parent_id", "refers to 'C', rejected at row 2"),
        (2, "parent_id", "refers to 'R', rejected at row 3"),
        (3, "created_date", "'2025-13-01' is not a date (YYYY-MM-DD)"),
    ]
    assert report.reject_file == path.parent / "accounts.rejects.jsonl"
    assert report.reject_file.read_text(encoding="utf-8").splitlines() == [
        '{"id":"G","name":"Grandchild","parent_id":"C","_reject_reason":"parent_id: refers to \'C\', rejected at row 2"}',
        '{"id":"C","name":"Child","parent_id":"R","_reject_reason":"parent_id: refers to \'R\', rejected at row 3"}',
        '{"id":"R","name":"Root","created_date":"2025-13-01",'
        '"_reject_reason":"created_date: \'2025-13-01\' is not a date (YYYY-MM-DD)"}',
    ]
    assert [r["id"] for r in exported(platform, "accounts")] == ["K"]


def test_timestamps_without_offset_are_read_in_the_business_timezone(
    tokyo_platform: Platform, write_file: WriteFile, exported: Exported
) -> None:
    import_rows(tokyo_platform, "accounts", [{"id": "A1", "name": "Acme"}])
    path = write_file(
        "tickets.csv",
        "id,account_id,subject,opened_at,closed_at,priority,status,csat\n"
        "T1,A1,ログインできない,2025-04-01T09:00:00,2025-04-01T18:30:15.250000,high,solved,5\n"
        "T2,A1,Export broken,2025-04-01T09:00:00+02:00,,,,\n"
        "T3,A1,Slow,2025-04-01T23:00:00Z,2025-04-01T22:00:00Z,urgent,closed,6\n",
    )
    with pytest.raises(ImportRejected) as caught:
        import_file(tokyo_platform, "tickets", path)
    assert [(p.row, p.field, p.message) for p in caught.value.problems] == [
        (4, "csat", "must be at most 5, got 6"),
    ]
    path.write_text(path.read_text(encoding="utf-8").replace(",6\n", ",\n"), encoding="utf-8")
    with pytest.raises(ImportRejected) as caught:
        import_file(tokyo_platform, "tickets", path)
    assert [(p.row, p.field, p.message) for p in caught.value.problems] == [
        (
            4,
            "closed_at",
            "closed_at 2025-04-01T22:00:00+00:00 is before opened_at 2025-04-01T23:00:00+00:00",
        ),
    ]
    path.write_text(
        path.read_text(encoding="utf-8").replace("22:00:00Z", "23:30:00Z"), encoding="utf-8"
    )
    assert import_file(tokyo_platform, "tickets", path).inserted == 3

    rows = exported(tokyo_platform, "tickets")
    assert [
        (r["id"], r["opened_at"], r["closed_at"], r["priority"], r["status"]) for r in rows
    ] == [
        ("T1", "2025-04-01T00:00:00+00:00", "2025-04-01T09:30:15.250000+00:00", "high", "solved"),
        ("T2", "2025-04-01T07:00:00+00:00", None, "normal", "open"),
        ("T3", "2025-04-01T23:00:00+00:00", "2025-04-01T23:30:00+00:00", "urgent", "closed"),
    ]


def test_fx_rates_upsert_on_currency_and_valid_from(
    platform: Platform, write_file: WriteFile, exported: Exported
) -> None:
    path = write_file(
        "fx.csv",
        "currency,valid_from,rate\nJPY,2025-01-01,0.0066\nEUR,2025-01-01,1.08\njpy,2025-04-01,0.0068\n",
    )
    assert import_file(platform, "fx-rates", path).inserted == 3
    path.write_text(
        "currency,valid_from,rate\nJPY,2025-01-01,0.0067\nEUR,2025-01-01,1.08\nEUR,2025-01-01,1.09\nGBP,2025-01-01,0\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as caught:
        import_file(platform, "fx-rates", path)
    assert [(p.row, p.field, p.message) for p in caught.value.problems] == [
        (4, "currency", "duplicate currency+valid_from 'EUR 2025-01-01' (first at row 3)"),
        (5, "rate", "must be greater than 0, got 0"),
    ]
    report = import_file(platform, "fx-rates", path, skip_invalid=True)
    assert (report.inserted, report.updated, report.unchanged, report.rejected) == (0, 1, 1, 2)
    assert exported(platform, "fx-rates") == [
        {"currency": "EUR", "valid_from": "2025-01-01", "rate": 1.08},
        {"currency": "JPY", "valid_from": "2025-01-01", "rate": 0.0067},
        {"currency": "JPY", "valid_from": "2025-04-01", "rate": 0.0068},
    ]


def test_team_emails_are_unique_in_the_file_and_the_store(
    platform: Platform, write_file: WriteFile
) -> None:
    import_rows(
        platform,
        "team",
        [{"id": "U1", "name": "Aiko", "email": "aiko@example.com", "role": "manager"}],
    )
    path = write_file(
        "team.csv",
        "id,name,email,role,manager_id,active\n"
        "U2,Ben,aiko@example.com,csm,U1,true\n"
        "U3,Chie,chie@example.com,csm,U1,yes\n"
        "U4,Dan,chie@example.com,boss,U9,maybe\n",
    )
    with pytest.raises(ImportRejected) as caught:
        import_file(platform, "team", path)
    assert [(p.row, p.field, p.message) for p in caught.value.problems] == [
        (2, "email", "'aiko@example.com' already belongs to 'U1' in the store"),
        (4, "role", "'boss' is not one of 'admin', 'manager', 'csm', 'viewer' or 'sales'"),
        (4, "active", "'maybe' is not true or false"),
    ]


def test_csv_header_problems_are_reported_once_and_stop_the_import(
    platform: Platform, write_file: WriteFile
) -> None:
    path = write_file(
        "contacts.csv", "id,name,mobile,email\nK1,Kei,090,kei@example.com\nK2,Mao,080,\n"
    )
    with pytest.raises(ImportRejected) as caught:
        import_file(platform, "contacts", path, skip_invalid=True)
    assert [(p.row, p.field, p.message) for p in caught.value.problems] == [
        (
            1,
            "mobile",
            "unknown column 'mobile'; the contacts columns are "
            "id, account_id, name, email, title, success_role",
        ),
        (1, "account_id", "required column 'account_id' is missing"),
    ]


def test_jsonl_structure_problems_and_unknown_keys(
    platform: Platform, write_file: WriteFile, exported: Exported
) -> None:
    import_rows(platform, "accounts", [{"id": "A1", "name": "Acme"}])
    path = write_file(
        "contacts.jsonl",
        '{"id": "K1", "account_id": "A1", "name": "Kei", "success_role": "evaluator", "phone": "1"}\n'
        "\n"
        '{"id": "K2", "account_id": "A1", "name": "Mao", "phone": "2"}\n'
        "[1, 2]\n"
        '{"id": "K3", "account_id": "A1", "name": \n'
        '{"id": 4, "account_id": "A1", "name": "Number id", "email": "not-an-email"}\n',
    )
    with pytest.raises(ImportRejected) as caught:
        import_file(platform, "contacts", path, skip_invalid=True)
    # Unknown keys fail the whole file even with --skip-invalid, named once; rows still checked.
    assert [(p.row, p.field, p.message) for p in caught.value.problems] == [
        (
            1,
            "phone",
            "unknown column 'phone'; the contacts columns are "
            "id, account_id, name, email, title, success_role",
        ),
        (4, None, "must be a JSON object ({...})"),
        (5, None, "is not valid JSON (unexpected end of data at character 42)"),
        (6, "email", "'not-an-email' is not an e-mail address"),
    ]
    assert exported(platform, "contacts") == []


def test_csv_with_bom_multiline_cells_and_ragged_rows(
    platform: Platform, tmp_path: Path, exported: Exported
) -> None:
    import_rows(platform, "accounts", [{"id": "A1", "name": "Acme"}])
    path = tmp_path / "activities.csv"
    path.write_bytes(
        "\ufeffid,account_id,kind,author_id,activity_date,text\n"
        'N1,A1,meeting,,2025-06-01,"Kick-off:\nagreed KPIs"\n'
        "N2,A1,call,,2025-06-02\n"
        "N3,A1,fax,,2025-06-03,\n".encode()
    )
    with pytest.raises(ImportRejected) as caught:
        import_file(platform, "activities", path)
    assert [(p.row, p.field, p.message) for p in caught.value.problems] == [
        (4, None, "has 5 cells but the header has 6"),
        (5, "kind", "'fax' is not one of 'meeting', 'call', 'email' or 'note'"),
    ]
    report = import_file(platform, "activities", path, skip_invalid=True)
    assert (report.inserted, report.rejected) == (1, 2)
    assert exported(platform, "activities") == [
        {
            "id": "N1",
            "account_id": "A1",
            "kind": "meeting",
            "author_id": None,
            "activity_date": "2025-06-01",
            "text": "Kick-off:\nagreed KPIs",
            "contact_id": None,
            "meeting_series_id": None,
            "shared_with_customer": False,
        },
    ]
    assert (tmp_path / "activities.rejects.csv").read_text(encoding="utf-8").splitlines() == [
        "id,account_id,kind,author_id,activity_date,text,_reject_reason",
        "N2,A1,call,,2025-06-02,,has 5 cells but the header has 6",
        "N3,A1,fax,,2025-06-03,,\"kind: 'fax' is not one of 'meeting', 'call', 'email' or 'note'\"",
    ]


def test_file_that_is_not_utf8_or_missing(platform: Platform, tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_bytes("id,name\nA1,株式会社\n".encode("shift_jis"))
    with pytest.raises(ImportRejected) as caught:
        import_file(platform, "accounts", path)
    assert [(p.row, p.message) for p in caught.value.problems] == [
        (2, "byte 0x8a at position 4 is not UTF-8; save the file as UTF-8 (with or without BOM)"),
    ]
    with pytest.raises(NotFound):
        import_file(platform, "accounts", tmp_path / "nope.csv")


def test_import_rows_takes_python_values_and_row_models_are_public(
    platform: Platform, exported: Exported
) -> None:
    assert set(ROW_MODELS) == {
        "team",
        "accounts",
        "contacts",
        "contracts",
        "tickets",
        "surveys",
        "activities",
        "fx-rates",
    }
    import_rows(platform, "accounts", [{"id": "A1", "name": "Acme"}])
    import_rows(platform, "contacts", [{"id": "K1", "account_id": "A1", "name": "Kei"}])
    with pytest.raises(ImportRejected) as caught:
        import_rows(
            platform,
            "surveys",
            [
                {
                    "id": "S1",
                    "account_id": "A1",
                    "contact_id": "K1",
                    "kind": "nps",
                    "score": 11,
                    "answered_at": datetime(2025, 6, 1, 9, tzinfo=UTC),
                },
                {
                    "id": "S2",
                    "account_id": "A1",
                    "contact_id": "K9",
                    "kind": "csat",
                    "score": 4,
                    "answered_at": "2025-06-01T09:00:00",
                },
            ],
            source="api",
        )
    assert [p.to_dict() for p in caught.value.problems] == [
        {
            "message": "nps score must be between 0 and 10, got 11",
            "where": "api row 1, column score",
            "field": "score",
            "row": 1,
        },
        {
            "message": "no contact 'K9' in the store",
            "where": "api row 2, column contact_id",
            "field": "contact_id",
            "row": 2,
        },
    ]
    report = import_rows(
        platform,
        "surveys",
        [
            {
                "id": "S1",
                "account_id": "A1",
                "contact_id": "K1",
                "kind": "csat",
                "score": 5,
                "comment": "  とても良い  ",
                "answered_at": datetime(2025, 6, 1, 9, tzinfo=UTC),
            }
        ],
    )
    assert (report.source, report.inserted, report.reject_file) == ("rows", 1, None)
    assert exported(platform, "surveys") == [
        {
            "id": "S1",
            "account_id": "A1",
            "contact_id": "K1",
            "kind": "csat",
            "score": 5,
            "comment": "とても良い",
            "answered_at": "2025-06-01T09:00:00+00:00",
        },
    ]


def test_progress_is_reported_for_both_passes(platform: Platform, write_file: WriteFile) -> None:
    path = write_file("accounts.csv", ACCOUNTS_CSV)
    size = path.stat().st_size
    calls: list[tuple[str, int, int]] = []
    import_file(platform, "accounts", path, progress=lambda *args: calls.append(args))
    assert calls == [("validate", size, size), ("write", 3, 3)]


def test_a_header_that_is_not_utf8_leaves_no_file_open(platform: Platform, tmp_path: Path) -> None:
    import gc
    import warnings

    path = tmp_path / "accounts.csv"
    path.write_bytes("id,名前\nA1,x\n".encode("shift_jis"))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(ImportRejected, match="is not UTF-8"):
            import_file(platform, "accounts", path)
        gc.collect()
    assert [w for w in seen if issubclass(w.category, ResourceWarning)] == []
