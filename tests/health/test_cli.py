"""The health commands as a user runs them: compute, show, list, sentiment, scorecards."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.health.conftest import write_metrics
from tests.health.test_compute import CARD

from kizuna.cli import run
from kizuna.platform import Platform


def _json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def cli(customer_base: Platform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """Arguments that point the CLI at the hand-built base, and its scorecard file."""
    monkeypatch.setenv("KIZUNA_DATABASE_URL", customer_base.store.url)
    scorecard = tmp_path / "hand.yaml"
    scorecard.write_text(yaml.safe_dump(CARD.model_dump(mode="json", by_alias=True)))
    folder = customer_base.settings.home / "scorecards"
    folder.mkdir(parents=True)
    (folder / "hand.yaml").write_text(scorecard.read_text())
    return ["--home", str(customer_base.settings.home)]


def test_compute_a_range_then_show_and_list(
    cli: list[str], customer_base: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    write_metrics(customer_base.settings, date(2025, 6, 23), {})
    assert run([*cli, "health", "compute", "--from", "2025-06-16", "--to", "2025-06-30",
                "--step", "7", "--json"]) == 0  # fmt: skip
    runs = _json(capsys)["runs"]
    assert [(r["as_of"], r["accounts"]) for r in runs] == [
        ("2025-06-16", 5),
        ("2025-06-23", 5),
        ("2025-06-30", 5),
    ]
    assert runs[0]["notes"] == [
        "no metric values computed as of 2025-06-16: run 'kizuna metrics compute "
        "--as-of 2025-06-16'; metric measures count as missing"
    ]
    assert runs[2]["bands"] == {"red": 1, "yellow": 2, "green": 2}

    assert run([*cli, "health", "show", "A1", "--json"]) == 0
    shown = _json(capsys)
    assert sorted(shown) == sorted(
        [
            "account_id", "name", "as_of", "segment", "scorecard", "method", "score", "band",
            "arr", "missing", "groups", "measures", "children", "trend", "history",
        ]
    )  # fmt: skip
    assert (shown["as_of"], round(shown["score"], 4), shown["band"]) == (
        "2025-06-30",
        67.7083,
        "yellow",
    )
    assert [m["name"] for m in shown["measures"]] == ["logins", "open_tickets", "nps", "csm"]
    assert shown["trend"]["7d"]["top_movers"][0]["measure"] == "usage.logins"
    assert [h["as_of"] for h in shown["history"]] == ["2025-06-16", "2025-06-23", "2025-06-30"]

    assert run([*cli, "health", "list", "--band", "red", "--json"]) == 0
    listed = _json(capsys)
    assert [(a["account_id"], a["band"]) for a in listed["accounts"]] == [("C2", "red")]

    assert run([*cli, "health", "show", "A1"]) == 0  # the human rendering works too
    assert "top movers" in capsys.readouterr().out


def test_errors_exit_non_zero_with_the_reason(
    cli: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run([*cli, "health", "show", "A1"]) == 1
    assert "no health snapshots yet" in capsys.readouterr().err
    assert run([*cli, "health", "compute", "--as-of", "30/06/2025"]) == 1
    assert "--as-of: '30/06/2025' is not a date; use YYYY-MM-DD" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ngroups: []\n")
    assert run([*cli, "health", "scorecards", "--scorecard", str(bad)]) == 1
    assert f"{bad}: groups" in capsys.readouterr().err
    assert run([*cli, "health", "list", "--band", "purple"]) == 1
    assert "unknown band 'purple'" in capsys.readouterr().err


def test_sentiment_is_recorded_and_counts_from_today(
    cli: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # the CLI runs on the wall clock, so the sentiment is entered "now"
    assert run([*cli, "health", "sentiment", "A2", "--value", "2", "--by", "kim",
                "--comment", "champion left", "--json"]) == 0  # fmt: skip
    entry = _json(capsys)
    assert {k: entry[k] for k in ("account_id", "value", "author", "comment", "expires_on")} == {
        "account_id": "A2",
        "value": 2,
        "author": "kim",
        "comment": "champion left",
        "expires_on": None,
    }
    assert run([*cli, "health", "sentiment", "NOPE", "--value", "9", "--by", " "]) == 1
    err = capsys.readouterr().err
    assert "value must be 1 to 5, got 9" in err and "say who gives the sentiment" in err


def test_scorecards_lists_the_cards_in_use(
    cli: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run([*cli, "health", "scorecards", "--json"]) == 0
    cards = _json(capsys)["scorecards"]
    assert [c["name"] for c in cards] == ["hand"]
