"""``kizuna daily``: JSON report, progress per step, failures named, dates worded as flags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kizuna.cli import run
from kizuna.daily import STEPS


def test_cli_runs_reports_json_and_names_the_failing_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a relative home, like the README's default ./kizuna-data
    monkeypatch.chdir(tmp_path)
    home = Path("home")
    assert run(["--home", str(home), "demo", "--no-serve", "--accounts", "60"]) == 0
    capsys.readouterr()
    assert run(["--home", str(home), "daily", "--as-of", "2025-06-30", "--json"]) == 0
    out = capsys.readouterr()
    result = json.loads(out.out)
    assert [s["step"] for s in result["steps"]] == list(STEPS)
    assert result["dates"] == ["2025-06-30"]
    assert "portfolio" in out.err  # progress per step on stderr
    # A broken scorecard in the data folder makes the health step fail, by name.
    (home / "scorecards").mkdir()
    (home / "scorecards" / "bad.yaml").write_text("name: [unclosed\n")
    assert run(["--home", str(home), "daily", "--as-of", "2025-06-30"]) == 1
    assert "daily run step 'health' failed for 2025-06-30" in capsys.readouterr().err
    # Bad dates are all reported at once.
    assert run(["--home", str(home), "daily", "--from", "2025-13-01", "--to", "x"]) == 1
    err = capsys.readouterr().err
    assert "--from" in err and "--to" in err
    # The run's own problems, worded with the command's flags.
    assert (
        run(
            [
                "--home",
                str(home),
                "daily",
                "--as-of",
                "2025-06-30",
                "--from",
                "2025-06-01",
                "--to",
                "2025-06-02",
            ]
        )
        == 1
    )
    assert "give either --as-of or --from and --to, not both" in capsys.readouterr().err
