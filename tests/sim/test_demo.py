"""``kizuna demo`` and ``kizuna sim`` end to end: what was simulated is what landed."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from kizuna.cli import run
from kizuna.errors import Conflict
from kizuna.lake.layout import LakeLayout
from kizuna.platform import Platform
from kizuna.sim import SimConfig
from kizuna.sim.demo import run_demo

SMALL = SimConfig(accounts=40, seed=3, start_date=date(2025, 1, 1), end_date=date(2025, 6, 30))


def test_demo_loads_every_simulated_row(platform: Platform) -> None:
    # the fixture's store is already migrated: the demo refuses, then replaces it with --force
    with pytest.raises(Conflict, match="use --force"):
        run_demo(platform, SMALL)
    result = run_demo(platform, SMALL, force=True)
    assert result.loaded == result.simulation.rows
    assert result.loaded["accounts"] == 40
    layout = LakeLayout(platform.settings.lake_dir)
    assert len(layout.event_files()) == result.simulation.event_partitions == 181
    assert result.truth_file == platform.settings.home / "sim" / "truth.parquet"
    assert result.truth_file.is_file()
    # a second forced demo replaces the data instead of adding to it
    again = run_demo(platform, SMALL.model_copy(update={"accounts": 30}), force=True)
    assert again.loaded["accounts"] == 30 and again.loaded == again.simulation.rows
    assert len(layout.event_files()) == again.simulation.event_partitions
    # ... and what it replaced is kept: the 40 accounts and their events
    assert again.backup is not None and again.backup.parent == platform.settings.home / "backups"
    assert _backed_up_accounts(again.backup) == 40
    assert len(list((again.backup / "lake-events").glob("event_date=*/*.parquet"))) == 181


def _backed_up_accounts(backup: Path) -> int:
    sqlite_copy = backup / "kizuna.sqlite3"
    if sqlite_copy.exists():
        import sqlite3

        with sqlite3.connect(sqlite_copy) as conn:
            return int(conn.execute("select count(*) from accounts").fetchone()[0])
    return len((backup / "accounts.jsonl").read_text().splitlines())


def test_demo_cli_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KIZUNA_DATABASE_URL", raising=False)
    home = tmp_path / "home"
    assert run(["--home", str(home), "demo", "--accounts", "100", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["loaded"] == body["simulation"]["rows"]
    assert sum(body["simulation"]["accounts_by_segment"].values()) == 100
    assert body["simulation"]["start_date"] == "2024-07-01"
    assert body["simulation"]["end_date"] == "2025-06-30"
    assert (home / "kizuna.sqlite3").is_file() and (home / "sim" / "truth.parquet").is_file()
    assert not list(home.glob(".sim-*"))  # the working folder is gone
    # a second demo on the same folder refuses with a clear message and exit code 1
    assert run(["--home", str(home), "demo", "--accounts", "100"]) == 1
    assert "already exists" in capsys.readouterr().err


def test_sim_cli_writes_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert (
        run(
            [
                "sim",
                "--out",
                str(out),
                "--preset",
                "test",
                "--accounts",
                "20",
                "--seed",
                "5",
                "--json",
            ]
        )
        == 0
    )
    body = json.loads(capsys.readouterr().out)
    assert body["seed"] == 5 and body["rows"]["accounts"] == 20
    assert (out / "accounts.csv").read_text().count("\n") == 21
    assert run(["sim", "--out", str(tmp_path / "x"), "--preset", "XL"]) == 1
    assert "unknown preset" in capsys.readouterr().err
    assert run(["sim", "--out", str(tmp_path / "y"), "--accounts", "0"]) == 1
    assert "--accounts" in capsys.readouterr().err
