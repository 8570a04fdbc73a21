"""``kizuna demo --no-serve``, ``kizuna backup`` and ``kizuna restore`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kizuna.auth.users import list_users
from kizuna.cli import run
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.web.demo import DEMO_EMAIL


def test_demo_backup_and_restore_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KIZUNA_DATABASE_URL", raising=False)
    home, archive, restored = tmp_path / "home", tmp_path / "k.tar", tmp_path / "restored"
    assert run(["--home", str(home), "demo", "--accounts", "20", "--no-serve"]) == 0
    assert f"demo login: {DEMO_EMAIL}" in capsys.readouterr().out
    platform = Platform.from_settings(Settings(home=home))
    logins = [u.email for u in list_users(platform) if u.has_password]
    assert logins == [DEMO_EMAIL]  # issue 13: with --no-serve too
    platform.close()
    assert run(["--home", str(home), "backup", "--out", str(archive), "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["tables"]["accounts"] == 20 and made["events"] > 0
    assert run(["--home", str(restored), "restore", str(archive), "--json"]) == 0
    back = json.loads(capsys.readouterr().out)
    assert (back["tables"], back["events"]) == (made["tables"], made["events"])
    assert back["checks"][-1] == f"the lake has the backed-up {made['events']} events"
    # restoring over data is refused, with the reason
    assert run(["--home", str(restored), "restore", str(archive)]) != 0
    assert "empty" in capsys.readouterr().err
