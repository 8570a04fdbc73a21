"""``kizuna plan ...`` as a user runs it (SQLite home, JSON output)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kizuna.cli import run
from kizuna.clock import FixedClock
from kizuna.platform import Platform
from kizuna.settings import Settings

from .test_plans import metric_values, plan_data, seed


def _json(capsys: pytest.CaptureFixture[str]) -> Any:
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def home(tmp_path: Path, clock: FixedClock, capsys: pytest.CaptureFixture[str]) -> str:
    home = tmp_path / "data"
    assert run(["--home", str(home), "init"]) == 0
    platform = Platform.from_settings(Settings(home=home), clock=clock)
    seed(platform)
    metric_values(platform, [(date(2025, 1, 31), "acme", 20.0)])
    platform.close()
    capsys.readouterr()
    return str(home)


def test_a_plan_through_the_cli(
    home: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--home", home, "plan", "templates", "--json"]) == 0
    names = [t["name"] for t in _json(capsys)]
    assert names == ["enterprise_high_touch", "mid_market"]

    good = tmp_path / "p1.yaml"
    import yaml

    good.write_text(yaml.safe_dump(plan_data(), allow_unicode=True), "utf-8")
    assert run(["--home", home, "plan", "import", str(good)]) == 0
    capsys.readouterr()
    args = ["plan", "kpi", "checkin", "acme", "hours", "--value", "3", "--date", "2025-01-31"]
    assert run(["--home", home, *args, "--by", "Pat"]) == 0
    capsys.readouterr()

    assert run(["--home", home, "plan", "show", "acme", "--as-of", "2025-02-15", "--json"]) == 0
    shown = _json(capsys)
    assert shown["status"] == "off_track"
    kpis = {k["key"]: k for i in shown["initiatives"] for k in i["kpis"]}
    logins = {k: kpis["logins"][k] for k in ("name", "baseline", "target", "current", "status")}
    assert logins == {
        "name": "Logins",
        "baseline": 10.0,
        "target": 110.0,
        "current": 20.0,
        "status": "off_track",
    }
    assert kpis["logins"]["measured_on"] == "2025-01-31"
    assert kpis["logins"]["progress"] == pytest.approx(0.1)
    assert kpis["logins"]["expected_progress"] == pytest.approx(0.375)
    assert kpis["hours"]["current"] == 3.0 and kpis["hours"]["status"] == "on_track"
    assert shown["kgi"]["status"] == "no_data"

    assert (
        run(
            [
                "--home",
                home,
                "plan",
                "list",
                "--status",
                "off_track",
                "--as-of",
                "2025-02-15",
                "--json",
            ]
        )
        == 0
    )
    listed = _json(capsys)
    assert [(p["account_id"], p["status"], p["kpis_off_track"]) for p in listed] == [
        ("acme", "off_track", ["Logins"])
    ]
    assert (
        run(
            [
                "--home",
                home,
                "plan",
                "list",
                "--status",
                "on_track",
                "--as-of",
                "2025-02-15",
                "--json",
            ]
        )
        == 0
    )
    assert _json(capsys) == []

    out = tmp_path / "out.yaml"
    assert run(["--home", home, "plan", "export", "acme", "--out", str(out)]) == 0
    assert run(["--home", home, "plan", "import", str(out)]) == 0
    again = tmp_path / "again.yaml"
    assert run(["--home", home, "plan", "export", "acme", "--out", str(again)]) == 0
    assert again.read_text("utf-8") == out.read_text("utf-8")

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        out.read_text("utf-8")
        .replace("impact: 5", "impact: 9")
        .replace("title: Acme plan", "title: ''"),
        "utf-8",
    )
    capsys.readouterr()
    assert run(["--home", home, "plan", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "initiatives.0.impact" in err and "field title" in err

    assert run(["--home", home, "plan", "create", "acme", "--template", "mid_market"]) == 1
    assert "already has an active plan" in capsys.readouterr().err
