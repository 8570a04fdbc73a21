"""Settings defaults and validation, business dates, the error tree."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from kizuna.clock import FixedClock, business_date
from kizuna.errors import ImportRejected, InvalidInput, KizunaError, NotFound, Problem
from kizuna.settings import Settings


def test_defaults_need_no_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("KIZUNA_HOME", "KIZUNA_DATABASE_URL", "KIZUNA_TIMEZONE", "KIZUNA_ENGINE"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.home == Path("kizuna-data")
    assert s.store_url == "sqlite:///kizuna-data/kizuna.sqlite3"
    assert s.lake_dir == Path("kizuna-data/lake")
    assert s.timezone == "UTC"
    assert s.engine == "duckdb"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KIZUNA_HOME", str(tmp_path))
    monkeypatch.setenv("KIZUNA_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("KIZUNA_TIMEZONE", "Asia/Tokyo")
    monkeypatch.setenv("KIZUNA_REPORTING_CURRENCY", "jpy")
    s = Settings()
    assert s.home == tmp_path
    assert s.store_url == "postgresql+psycopg://u@h/db"
    assert s.timezone == "Asia/Tokyo"
    assert s.reporting_currency == "JPY"


def test_bad_timezone_and_currency_say_what_is_wrong() -> None:
    with pytest.raises(ValidationError) as info:
        Settings(timezone="Mars/Olympus", reporting_currency="dollars")
    text = str(info.value)
    assert "unknown timezone 'Mars/Olympus'" in text
    assert "3-letter ISO 4217 code" in text


def test_business_date_follows_the_timezone() -> None:
    late_utc = datetime(2025, 3, 31, 15, 30, tzinfo=UTC)  # 00:30 on April 1st in Tokyo
    assert business_date(late_utc, "UTC") == date(2025, 3, 31)
    assert business_date(late_utc, "Asia/Tokyo") == date(2025, 4, 1)
    # naive timestamps are UTC by convention of the store
    assert business_date(datetime(2025, 3, 31, 15, 30), "Asia/Tokyo") == date(2025, 4, 1)


def test_fixed_clock_refuses_naive_time_and_reports_utc() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FixedClock(datetime(2025, 1, 1))
    from zoneinfo import ZoneInfo

    clock = FixedClock(datetime(2025, 1, 1, 9, 0, tzinfo=ZoneInfo("Asia/Tokyo")))
    assert clock.now() == datetime(2025, 1, 1, 0, 0, tzinfo=UTC)


def test_errors_carry_status_and_every_problem() -> None:
    problems = [
        Problem(
            "not a date", where="contracts.csv row 3, column start_date", field="start_date", row=3
        ),
        Problem("unknown account 'A9'", where="contracts.csv row 5, column account_id", row=5),
    ]
    exc = ImportRejected("2 bad rows; nothing was imported", problems)
    assert isinstance(exc, InvalidInput) and isinstance(exc, KizunaError)
    assert exc.status_code == 422
    assert exc.to_dict() == {
        "title": "Import rejected",
        "status": 422,
        "detail": "2 bad rows; nothing was imported",
        "errors": [
            {
                "message": "not a date",
                "where": "contracts.csv row 3, column start_date",
                "field": "start_date",
                "row": 3,
            },
            {
                "message": "unknown account 'A9'",
                "where": "contracts.csv row 5, column account_id",
                "row": 5,
            },
        ],
    }
    assert str(exc).splitlines() == [
        "2 bad rows; nothing was imported",
        "  - contracts.csv row 3, column start_date: not a date",
        "  - contracts.csv row 5, column account_id: unknown account 'A9'",
    ]
    assert NotFound("x").status_code == 404
