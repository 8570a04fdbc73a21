"""``kizuna runs list|show``, ``kizuna daily --step`` and ``kizuna scheduler --once``."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from kizuna.cli import run
from kizuna.daily import StepOutcome, daily_dates, run_daily
from kizuna.errors import InvalidInput
from kizuna.platform import Platform
from kizuna.settings import Settings


def test_runs_list_and_show_print_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KIZUNA_DATABASE_URL", raising=False)
    home = tmp_path / "home"
    assert run(["--home", str(home), "init"]) == 0
    platform = Platform.from_settings(Settings(home=home))
    done = run_daily(
        platform,
        [date(2025, 6, 30)],
        steps={"metrics": lambda p, d: StepOutcome("3 metrics", rows=42)},  # type: ignore[dict-item]
    )
    platform.close()
    capsys.readouterr()
    assert run(["--home", str(home), "runs", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["id"] == done.run_id and listed["status"] == "succeeded"
    assert listed["trigger"] == "cli" and listed["first_date"] == "2025-06-30"
    assert [(s["step"], s["rows"], s["detail"]) for s in listed["steps"]] == [
        ("metrics", 42, "3 metrics")
    ]
    assert run(["--home", str(home), "runs", "show", str(done.run_id), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == listed
    assert run(["--home", str(home), "runs", "list"]) == 0
    assert "succeeded" in capsys.readouterr().out
    assert run(["--home", str(home), "runs", "show", "999"]) == 1
    assert "no daily run 999" in capsys.readouterr().err
    assert run(["--home", str(home), "runs", "list", "--status", "odd"]) == 1
    assert "--status" in capsys.readouterr().err
    # --step is checked and worded as a flag
    assert run(["--home", str(home), "daily", "--as-of", "2025-06-30", "--step", "7"]) == 1
    assert "--step needs a range" in capsys.readouterr().err
    # the scheduler polls once: before the daily time it does nothing
    hour = datetime.now(UTC).hour
    monkeypatch.setenv("KIZUNA_DAILY_TIME", f"{(hour + 1) % 24:02d}:00")
    if hour < 23:
        assert run(["--home", str(home), "scheduler", "--once", "--json"]) == 0
        tick = json.loads(capsys.readouterr().out)
        assert tick["outcome"] == "not_yet" and tick["run_id"] is None


def test_backfill_dates_every_n_days() -> None:
    today = date(2026, 1, 1)
    days = daily_dates(None, date(2025, 1, 6), date(2025, 12, 29), today, 7)
    assert len(days) == 52 and days[0] == date(2025, 1, 6) and days[-1] == date(2025, 12, 29)
    assert {(b - a).days for a, b in itertools.pairwise(days)} == {7}
    with pytest.raises(InvalidInput) as bad:
        daily_dates(None, date(2000, 1, 1), date(2025, 1, 1), today, 1)
    assert bad.value.problems[0].message == "a run covers at most 3660 dates; split the range"
    with pytest.raises(InvalidInput):
        daily_dates(None, date(2025, 1, 1), date(2025, 2, 1), today, 0)
