"""``kizuna ingest`` on a file, a folder and a glob (the bulk path), as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kizuna.cli import run
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.models import Account


def test_ingest_a_file_a_folder_and_a_glob(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "data"
    assert run(["--home", str(home), "init"]) == 0
    platform = Platform.from_settings(Settings(home=home))
    with platform.store.session() as session:
        session.add(Account(id="acme", name="Acme"))
    platform.close()
    folder = tmp_path / "history"
    folder.mkdir()
    for f in range(2):
        lines = [
            json.dumps(
                {
                    "message_id": f"f{f}-{i}",
                    "account_id": "acme" if i % 10 else "ghost",
                    "event": "login",
                    "timestamp": f"2025-03-{1 + i % 28:02d}T10:00:00Z",
                }
            )
            for i in range(50)
        ]
        (folder / f"part-{f}.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "notes.txt").write_text("not events")
    capsys.readouterr()
    assert run(["--home", str(home), "ingest", str(folder / "part-0.jsonl"), "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert (one["accepted"], one["duplicates"], one["quarantined"]) == (45, 0, 5)
    assert run(["--home", str(home), "ingest", str(folder), "--json", "--no-rollup"]) == 0
    bulk = json.loads(capsys.readouterr().out)
    assert (bulk["accepted"], bulk["duplicates"], bulk["quarantined"], bulk["files"]) == (
        45,
        45,
        10,
        2,
    )
    assert run(["--home", str(home), "ingest", str(folder / "*.jsonl"), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["accepted"], again["duplicates"]) == (0, 90)
    assert run(["--home", str(home), "ingest", str(tmp_path / "none-*.jsonl")]) == 1
