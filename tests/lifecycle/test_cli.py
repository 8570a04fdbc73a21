"""``kizuna lifecycle`` and ``kizuna onboarding`` as a user runs them (JSON output)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from tests.lifecycle.conftest import Builder

from kizuna.cli import run
from kizuna.clock import FixedClock
from kizuna.platform import Platform
from kizuna.settings import Settings


@pytest.fixture
def home(tmp_path: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str]) -> Iterator[str]:
    home = tmp_path / "data"
    assert run(["--home", str(home), "init"]) == 0
    platform = Platform.from_settings(Settings(home=home), clock=clock)
    build = Builder(platform)
    # the home's own definition (JSON is YAML): the test schedule, tracking since 2024
    (home / "lifecycle.yaml").write_text(build.definition.model_dump_json(), "utf-8")
    build.account("acme", "smb", lines=((date(2025, 3, 1), date(2026, 2, 28), 1000),))
    build.activity("acme", date(2025, 3, 3), "Kick-off: success metrics and baselines agreed")
    build.event("acme", "onboarding_data_connected", date(2025, 3, 25), "acme-u1")
    build.logins("acme", date(2025, 3, 28), range(3))
    build.event("acme", "onboarding_first_value", date(2025, 4, 4), "acme-u1")
    build.flush_events()
    build.account("beta", "smb", lines=((date(2025, 3, 10), date(2026, 3, 9), 1000),))
    platform.close()
    capsys.readouterr()
    yield str(home)


def _json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


def test_compute_then_show_as_json(home: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--home", home, "lifecycle", "compute", "--as-of", "2025-06-30", "--json"]) == 0
    assert _json(capsys) == {
        "as_of": "2025-06-30",
        "from_date": None,
        "accounts": 2,
        "transitions_written": 4,  # acme: onboarding, adoption; beta: onboarding, at_risk
        "automatic_completions": 5,
        "stages": {"at_risk": 1, "adoption": 1},
        "advanced": 0,  # a first run: every account from its contract start
    }
    assert (
        run(
            [
                "--home",
                home,
                "lifecycle",
                "complete",
                "beta",
                "kickoff_held",
                "--by",
                "Ken",
                "--on",
                "2025-03-12",
                "--json",
            ]
        )
        == 0
    )
    assert _json(capsys) == {
        "account_id": "beta",
        "milestone": "kickoff_held",
        "completed_on": "2025-03-12",
        "completed_by": "Ken",
        "note": None,
    }
    assert (
        run(["--home", home, "lifecycle", "show", "acme", "--as-of", "2025-06-30", "--json"]) == 0
    )

    def milestone(
        mid: str,
        name: str,
        owner: str,
        due: str,
        done: str,
        why: str,
        status: str = "done",
        late: int = 0,
        **flags: bool,
    ) -> dict[str, Any]:
        return {
            "id": mid,
            "name": name,
            "owner": owner,
            "due": due,
            "done": done,
            "status": status,
            "overdue": False,
            "days_late": late,
            "source": "automatic",
            "completed_by": None,
            "condition": why,
            "first_value": flags.get("first_value", False),
            "activation": flags.get("activation", False),
        }

    kickoff = "activities meeting 'kick-off' (since start) >= 1 (is 1)"
    assert _json(capsys) == {
        "account_id": "acme",
        "name": "Account acme",
        "segment": "smb",
        "as_of": "2025-06-30",
        "contract_start": "2025-03-01",
        "stage": "adoption",
        "stage_name": "Adoption",
        "since": "2025-04-04",
        "days_in_stage": 87,
        "reason": "no earlier stage's entry rule held",
        "history": [
            {
                "date": "2025-03-01",
                "from_stage": None,
                "to_stage": "onboarding",
                "reason": "onboarding_complete = false (is false)",
            },
            {
                "date": "2025-04-04",
                "from_stage": "onboarding",
                "to_stage": "adoption",
                "reason": "no earlier stage's entry rule held",
            },
        ],
        "onboarding_tracked": True,
        "milestones": [
            milestone(
                "kickoff_held", "Kick-off held", "vendor", "2025-03-08", "2025-03-03", kickoff
            ),
            milestone(
                "success_metrics_agreed",
                "Success metrics and baselines agreed",
                "vendor",
                "2025-03-15",
                "2025-03-03",
                "activities 'success metrics' (since start) >= 1 (is 1)",
            ),
            milestone(
                "data_connected",
                "Data connected",
                "customer",
                "2025-03-22",
                "2025-03-25",
                "count of onboarding_data_connected (since start) >= 1 (is 1)",
                status="done_late",
                late=3,
            ),
            milestone(
                "first_users_active",
                "First users active",
                "customer",
                "2025-03-31",
                "2025-03-28",
                "distinct_users of login (7d) >= 3 (is 3)",
                activation=True,
            ),
            milestone(
                "first_value",
                "First value reached",
                "customer",
                "2025-04-15",
                "2025-04-04",
                "count of onboarding_first_value (since start) >= 1 (is 1)",
                first_value=True,
            ),
        ],
        "time_to_value_days": 34,
        "onboarding_planned": "2025-04-15",
        "onboarding_finished": "2025-04-04",
    }


def test_onboarding_report_as_json(home: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "--home",
        home,
        "onboarding",
        "report",
        "--from",
        "2025-03-01",
        "--to",
        "2025-03-31",
        "--as-of",
        "2025-06-30",
        "--json",
    ]
    assert run(args) == 0
    summary = {
        "accounts": 2,
        "time_to_value": {
            "reached": 1,
            "not_reached": 1,
            "median": 34.0,
            "q1": 34.0,
            "q3": 34.0,
            "min": 34,
            "max": 34,
        },
        "activation": {"eligible": 2, "hits": 1, "rate": 0.5},
        "on_time": {"eligible": 2, "hits": 1, "rate": 0.5},
    }
    assert _json(capsys) == {
        "start": "2025-03-01",
        "end": "2025-03-31",
        "as_of": "2025-06-30",
        "activation_window_days": 30,
        "tracking_started": "2024-01-01",
        "untracked_accounts": 0,
        "overall": summary,
        "by_segment": {"smb": summary},
        "by_cohort": {"2025-03": summary},
    }
    assert run([*args, "--accounts"]) == 0
    rows = _json(capsys)["accounts"]
    assert [(r["account_id"], r["on_time"], r["overdue_milestones"]) for r in rows] == [
        ("acme", True, 0),
        ("beta", False, 5),
    ]


def test_errors_exit_non_zero_with_the_reason(
    home: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--home", home, "lifecycle", "compute", "--as-of", "30/06/2025"]) == 1
    assert "'30/06/2025' is not a YYYY-MM-DD date" in capsys.readouterr().err
    assert run(["--home", home, "lifecycle", "show", "nobody", "--as-of", "2025-06-30"]) == 1
    assert "no account with id 'nobody'" in capsys.readouterr().err
    assert run(["--home", home, "lifecycle", "complete", "acme", "go_live", "--by", "Ken"]) == 1
    assert "unknown milestone 'go_live'" in capsys.readouterr().err
