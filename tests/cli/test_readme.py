"""The README stays true to the CLI and to CI."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from kizuna.cli import app

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_top_level_command_is_in_the_cli_reference() -> None:
    command = typer.main.get_command(app)
    names = set(command.commands)  # type: ignore[attr-defined]
    documented = set(re.findall(r"`kizuna (?:--home DIR )?([a-z][a-z-]*)", README))
    assert names - documented == set()


def test_ci_runs_exactly_the_readme_test_command() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", README, flags=re.S)
    test_command = blocks[1].strip()
    assert "pytest" in test_command
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()
