"""CLI commands for backup and restore (``kizuna backup``, ``kizuna restore``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kizuna.cli._common import JsonOption, console, emit, get_platform


def register(app: typer.Typer) -> None:
    """Add ``kizuna backup`` and ``kizuna restore`` to the root app."""
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)


def backup_command(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Archive file to write (must not exist).")
    ],
    as_json: JsonOption = False,
) -> None:
    """Write a consistent archive of the store, the lake, definitions and derived data
    (safe while Kizuna runs; see docs/operations.md)."""
    from kizuna.backup import backup

    report = backup(get_platform(), out)
    emit(
        report,
        as_json,
        lambda r: console.print(
            f"backed up the {r.dialect} store (schema {r.revision}, "
            f"{sum(r.tables.values())} rows in {len(r.tables)} tables), {r.events} events and "
            f"{r.files} files to {r.path} ({r.bytes} bytes)"
        ),
    )


def restore_command(
    file: Annotated[Path, typer.Argument(help="Archive written by 'kizuna backup'.")],
    as_json: JsonOption = False,
) -> None:
    """Restore an archive into an empty data folder (and empty database), then check it."""
    from kizuna.backup import restore

    report = restore(get_platform(ready=False), file)

    def show(r: object) -> None:
        console.print(
            f"restored a {report.dialect_from} backup into {report.dialect_to}: "
            f"{sum(report.tables.values())} rows, {report.events} events, {report.files} files"
        )
        for check in report.checks:
            console.print(f"  [green]ok[/] {check}")

    emit(report, as_json, show)
