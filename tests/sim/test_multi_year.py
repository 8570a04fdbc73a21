"""A window longer than a year: every yearly term ending inside it is decided, and
``kizuna sim``/``kizuna demo`` take the window as ``--start``/``--end``."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest

from kizuna.cli import run
from kizuna.sim import SimConfig
from kizuna.sim.customers import Block, Calendar, build_team, simulate_block

TWO_YEARS = SimConfig(
    accounts=1500, seed=5, start_date=date(2023, 7, 1), end_date=date(2025, 6, 30)
)


@pytest.fixture(scope="module")
def two_years() -> Block:
    return simulate_block(TWO_YEARS, Calendar(TWO_YEARS), build_team(TWO_YEARS), 0)


def _decisions(block: Block) -> dict[str, list[tuple[date, str]]]:
    """Every decided term of each account: (term end, outcome), oldest first."""
    truth = block.truth
    out: dict[str, list[tuple[date, str]]] = defaultdict(list)
    for acc, renewal, outcome, later in zip(
        truth["account_id"], truth["renewal_date"], truth["outcome"], truth["later_renewals"],
        strict=True,
    ):  # fmt: skip
        if renewal is not None:
            out[acc].append((date.fromisoformat(renewal), outcome))
        for item in later.split("; ") if later else ():
            day, decided = item.split(" ")
            out[acc].append((date.fromisoformat(day), decided))
    return out


def test_no_contract_lapses_without_a_churn_decision(two_years: Block) -> None:
    # before the fix a renewed contract simply ended a year later: every account that
    # renewed in the first year looked churned in the second
    last_day = TWO_YEARS.end_date
    covered: dict[str, list[tuple[date, date]]] = defaultdict(list)
    for _, acc, product, *_, start, end, _, _ in two_years.contracts:
        if product == "Platform":
            covered[acc].append((date.fromisoformat(start), date.fromisoformat(end)))
    churned_on = {
        (acc, day)
        for acc, ds in _decisions(two_years).items()
        for day, o in ds
        if o == "churned" and day < last_day
    }
    lapses = set()
    for acc, spans in covered.items():
        spans.sort()
        until = spans[0][1]
        for start, end in spans[1:]:
            if start > until + timedelta(days=1):
                lapses.add((acc, until))
            until = max(until, end)
        if until < last_day:
            lapses.add((acc, until))
    assert lapses and lapses == churned_on


def test_later_terms_churn_like_the_first_year(two_years: Block) -> None:
    truth = two_years.truth
    churned: dict[str, list[bool]] = defaultdict(list)
    for acc, start, renewal in zip(
        truth["account_id"], truth["contract_start"], truth["renewal_date"], strict=True
    ):
        decided = _decisions(two_years).get(acc, [])
        if renewal is not None:  # a customer before the window: first renewal in year one
            churned["existing, year 1"].append(decided[0][1] == "churned")
            churned["existing, later"].extend(o == "churned" for _, o in decided[1:])
        elif start < "2024-06-01":  # a new customer of year one renews in year two
            assert decided, acc
            churned["new, first renewal"].append(decided[0][1] == "churned")
    rate = {kind: sum(v) / len(v) for kind, v in churned.items()}
    assert len(churned["existing, later"]) > 0.6 * len(churned["existing, year 1"])
    assert 0.15 < rate["existing, year 1"] < 0.35
    assert abs(rate["existing, later"] - rate["existing, year 1"]) < 0.05
    # onboarding problems make a new customer's first renewal the riskiest
    assert rate["new, first renewal"] > rate["existing, year 1"]


def test_one_year_window_has_no_later_decisions() -> None:
    one_year = SimConfig(accounts=300, seed=5)
    block = simulate_block(one_year, Calendar(one_year), build_team(one_year), 0)
    assert set(block.truth["later_renewals"]) == {""}


def test_sim_cli_takes_the_window(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    argv = ["sim", "--out", str(out), "--preset", "test", "--accounts", "10", "--json"]
    assert run([*argv, "--start", "2025-05-01", "--end", "2025-06-30"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert (body["start_date"], body["end_date"]) == ("2025-05-01", "2025-06-30")
    assert "2025-05-01" <= body["first_event_at"][:10] <= body["last_event_at"][:10] <= "2025-06-30"


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (["--start", "2025-13-01"], "--start: '2025-13-01' is not a date; use YYYY-MM-DD"),
        (["--start", "2025-06-01", "--end", "2025-05-31"], "--start/--end: end_date 2025-05-31"),
        (["--start", "2020-01-01"], "--start/--end: the simulated window may be at most three"),
    ],
)
def test_sim_and_demo_reject_a_bad_window(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], window: list[str], message: str
) -> None:
    assert run(["sim", "--out", str(tmp_path / "x"), *window]) == 1
    assert message in capsys.readouterr().err
    assert run(["--home", str(tmp_path / "h"), "demo", "--no-serve", *window]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "h" / "kizuna.sqlite3").exists()


def test_demo_over_two_years_loads_and_books_each_deal_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # a renewed line and a renewed mid-term expansion share their successor in the second
    # year: its upsell was booked twice and the demo failed on the duplicate id
    monkeypatch.delenv("KIZUNA_DATABASE_URL", raising=False)
    home = tmp_path / "home"
    argv = ["--home", str(home), "demo", "--accounts", "120", "--seed", "3", "--no-serve"]
    assert run([*argv, "--start", "2023-07-01", "--end", "2025-06-30", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["loaded"] == body["simulation"]["rows"]
    assert body["simulation"]["start_date"] == "2023-07-01"
    with sqlite3.connect(home / "kizuna.sqlite3") as conn:
        upsells = conn.execute(
            "select count(*), count(distinct line_id) from opportunities where type = 'upsell'"
        ).fetchone()
        second_year = conn.execute(
            "select count(*) from opportunities"
            " where type = 'renewal' and closed_on >= '2024-07-01'"
        ).fetchone()[0]
    assert upsells[0] == upsells[1] > 0
    assert second_year > 0
