"""Export → import into an empty store gives back identical rows, for every table and format."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from kizuna.dataio import TABLES, export_table, import_file, import_rows
from kizuna.platform import Platform

JST = timezone(timedelta(hours=9))

DATASET: dict[str, list[dict[str, Any]]] = {
    "team": [
        {"id": "U1", "name": "佐藤 愛子", "email": "aiko@example.jp", "role": "manager"},
        {
            "id": "U2",
            "name": "Ben",
            "email": "ben@example.com",
            "manager_id": "U1",
            "active": False,
        },
        {"id": "U3", "name": "Viewer", "role": "viewer"},
    ],
    "accounts": [
        {
            "id": "A1",
            "name": "株式会社サンプル",
            "segment": "enterprise",
            "industry": "製造",
            "region": "APAC",
            "owner_id": "U1",
            "created_date": date(2023, 4, 1),
            "attributes": {
                "plan": "gold",
                "seats": 40,
                "tags": ["jp", "エンタープライズ"],
                "x": None,
            },
        },
        {"id": "A2", "name": 'Acme, "Best"\nInc', "parent_id": "A1", "owner_id": "U2"},
        {"id": "A3", "name": "Bare"},
    ],
    "contacts": [
        {
            "id": "K1",
            "account_id": "A1",
            "name": "山田 太郎",
            "email": "yamada@sample.co.jp",
            "title": "部長",
            "success_role": "final_evaluator",
        },
        {"id": "K2", "account_id": "A2", "name": "Kim"},
    ],
    "contracts": [
        {
            "id": "L1",
            "account_id": "A1",
            "product": "Core",
            "arr": Decimal("1234567.89"),
            "currency": "JPY",
            "quantity": 3,
            "start_date": date(2024, 4, 1),
            "end_date": date(2025, 3, 31),
            "status": "ended",
        },
        {
            "id": "L2",
            "account_id": "A1",
            "product": "Core",
            "arr": Decimal("0"),
            "currency": "JPY",
            "start_date": date(2025, 4, 1),
            "end_date": date(2026, 3, 31),
            "status": "active",
            "renews_line_id": "L1",
        },
        {
            "id": "L3",
            "account_id": "A2",
            "product": "Whale",
            "arr": Decimal("9999999999999999.99"),
            "currency": "USD",
            "start_date": date(2025, 1, 1),
            "end_date": date(2025, 1, 1),
        },
    ],
    "tickets": [
        {
            "id": "T1",
            "account_id": "A1",
            "subject": "ログインできない",
            "opened_at": datetime(2025, 5, 1, 9, 30, 15, 123456, tzinfo=JST),
            "closed_at": datetime(2025, 5, 2, 1, 0, tzinfo=UTC),
            "priority": "urgent",
            "status": "closed",
            "csat": 4,
        },
        {"id": "T2", "account_id": "A3", "opened_at": datetime(2025, 6, 1, tzinfo=UTC)},
    ],
    "surveys": [
        {
            "id": "S1",
            "account_id": "A1",
            "contact_id": "K1",
            "kind": "nps",
            "score": 0,
            "comment": "遅い 😀\n二行目",
            "answered_at": datetime(2025, 6, 3, 8, 0, tzinfo=UTC),
        },
        {
            "id": "S2",
            "account_id": "A2",
            "kind": "csat",
            "score": 5,
            "answered_at": datetime(2025, 6, 4, 23, 59, 59, tzinfo=UTC),
        },
    ],
    "activities": [
        {
            "id": "N1",
            "account_id": "A1",
            "kind": "meeting",
            "author_id": "U1",
            "activity_date": date(2025, 6, 10),
            "text": 'KGI/KPI 合意, "baseline" set',
        },
        {"id": "N2", "account_id": "A2", "kind": "note", "activity_date": date(2025, 6, 11)},
    ],
    "fx-rates": [
        {"currency": "JPY", "valid_from": date(2025, 1, 1), "rate": 0.0066},
        {"currency": "EUR", "valid_from": date(2025, 1, 1), "rate": 1.0812345678901234},
    ],
}


def _empty_the_store(platform: Platform) -> None:
    with platform.store.session() as session:
        session.execute(sa.update(TABLES["accounts"].table).values(parent_id=None))
        for spec in reversed(list(TABLES.values())):
            session.execute(sa.delete(spec.table))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_then_import_into_an_empty_store_round_trips(
    platform: Platform, tmp_path: Path, fmt: str, exported: Callable[[Platform, str], list[Any]]
) -> None:
    for table, rows in DATASET.items():
        import_rows(platform, table, rows)
    before = {table: exported(platform, table) for table in TABLES}
    first = tmp_path / "first"
    first.mkdir()
    for table in TABLES:
        assert export_table(platform, table, first / f"{table}.{fmt}") == len(DATASET[table])

    _empty_the_store(platform)
    assert all(exported(platform, table) == [] for table in TABLES)
    for table in TABLES:
        report = import_file(platform, table, first / f"{table}.{fmt}")
        assert (report.inserted, report.rejected) == (len(DATASET[table]), 0)

    assert {table: exported(platform, table) for table in TABLES} == before
    second = tmp_path / "second"
    second.mkdir()
    for table in TABLES:
        export_table(platform, table, second / f"{table}.{fmt}")
        assert (second / f"{table}.{fmt}").read_bytes() == (first / f"{table}.{fmt}").read_bytes()
        again = import_file(platform, table, second / f"{table}.{fmt}")
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(DATASET[table]))


def test_exported_values_are_written_as_documented(platform: Platform, tmp_path: Path) -> None:
    for table, rows in DATASET.items():
        import_rows(platform, table, rows)
    export_table(platform, "accounts", tmp_path / "accounts.csv")
    export_table(platform, "tickets", tmp_path / "tickets.jsonl")
    export_table(platform, "contracts", tmp_path / "contracts.jsonl")

    assert (tmp_path / "accounts.csv").read_text(encoding="utf-8") == (
        "id,name,parent_id,segment,industry,region,owner_id,created_date,attributes\n"
        "A1,株式会社サンプル,,enterprise,製造,APAC,U1,2023-04-01,"
        '"{""plan"":""gold"",""seats"":40,""tags"":[""jp"",""エンタープライズ""],""x"":null}"\n'
        'A2,"Acme, ""Best""\nInc",A1,,,,U2,,{}\n'
        "A3,Bare,,,,,,,{}\n"
    )
    assert (tmp_path / "tickets.jsonl").read_text(encoding="utf-8").splitlines() == [
        '{"id":"T1","account_id":"A1","subject":"ログインできない",'
        '"opened_at":"2025-05-01T00:30:15.123456+00:00","closed_at":"2025-05-02T01:00:00+00:00",'
        '"priority":"urgent","status":"closed","csat":4}',
        '{"id":"T2","account_id":"A3","subject":null,"opened_at":"2025-06-01T00:00:00+00:00",'
        '"closed_at":null,"priority":"normal","status":"open","csat":null}',
    ]
    arrs = [
        line.split('"arr":')[1].split(",")[0]
        for line in (tmp_path / "contracts.jsonl").read_text().splitlines()
    ]
    assert arrs == ["1234567.89", "0.0", '"9999999999999999.99"']
