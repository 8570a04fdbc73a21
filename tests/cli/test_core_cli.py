"""The store lifecycle commands, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kizuna.cli import run


def _json(capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    return json.loads(capsys.readouterr().out)


def test_init_creates_store_and_lake_then_refuses_to_reinit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "data"
    assert run(["--home", str(home), "init", "--json"]) == 0
    out = _json(capsys)
    assert out["revision"]  # the head migration id
    assert (home / "kizuna.sqlite3").exists()
    assert (home / "lake").is_dir()

    assert run(["--home", str(home), "init"]) == 1
    assert "a store already exists" in capsys.readouterr().err


def test_info_reports_settings_and_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "data"
    run(["--home", str(home), "init"])
    capsys.readouterr()
    assert run(["--home", str(home), "info", "--json"]) == 0
    info = _json(capsys)
    assert info["home"] == str(home)
    assert info["timezone"] == "UTC"
    assert info["tables"]["accounts"] == 0


def test_commands_on_a_missing_store_explain_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--home", str(tmp_path / "nothing"), "info"]) == 1
    assert "run 'kizuna init'" in capsys.readouterr().err


def test_db_status_and_upgrade(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(tmp_path / "data")
    assert run(["--home", home, "db", "upgrade", "--json"]) == 0
    upgraded = _json(capsys)
    assert upgraded["from"] is None and upgraded["to"]
    assert run(["--home", home, "db", "status", "--json"]) == 0
    assert _json(capsys)["up_to_date"] is True


def test_bad_settings_are_reported_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KIZUNA_TIMEZONE", "Nowhere/City")
    assert run(["--home", str(tmp_path), "info"]) == 1
    err = capsys.readouterr().err
    assert "KIZUNA_TIMEZONE" in err and "unknown timezone" in err


def test_unknown_option_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--home", str(tmp_path), "init", "--bogus"]) == 2
    assert "No such option: --bogus" in capsys.readouterr().err


def test_exit_codes_raised_inside_commands_reach_the_shell() -> None:
    import typer

    from kizuna.cli._common import app

    @app.command("fail-for-test", hidden=True)
    def _fail() -> None:
        raise typer.Exit(3)

    try:
        assert run(["fail-for-test"]) == 3
    finally:
        app.registered_commands.pop()
