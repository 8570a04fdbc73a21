"""``kizuna user add``, ``token create|revoke``, ``source add`` on the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kizuna.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return int(exit_info.value.code or 0), capsys.readouterr().out


def test_user_token_and_source_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = ["--home", str(tmp_path)]
    assert run(capsys, *home, "init")[0] == 0
    code, out = run(
        capsys,
        *home,
        "user",
        "add",
        "boss",
        "--email",
        "boss@x.io",
        "--role",
        "admin",
        "--password",
        "a long password",
        "--json",
    )
    assert (code, json.loads(out)) == (
        0,
        {
            "id": "boss",
            "name": "boss",
            "email": "boss@x.io",
            "role": "admin",
            "active": True,
            "has_password": True,
        },
    )
    code, out = run(capsys, *home, "token", "create", "boss", "--name", "ci", "--json")
    created = json.loads(out)
    assert created["token"].startswith("kzt_") and created["info"]["name"] == "ci"
    code, out = run(capsys, *home, "token", "revoke", created["info"]["id"], "--json")
    assert json.loads(out)["revoked_at"] is not None
    code, out = run(capsys, *home, "source", "add", "web", "--json")
    assert json.loads(out)["write_key"].startswith("kzw_")
    # a duplicate user is an error with a non-zero exit
    code, _ = run(
        capsys,
        *home,
        "user",
        "add",
        "boss",
        "--email",
        "boss@x.io",
        "--password",
        "a long password",
    )
    assert code == 1
