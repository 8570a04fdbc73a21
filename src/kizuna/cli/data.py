"""CLI commands of the data capability: ``kizuna import`` and ``kizuna export``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from kizuna.cli._common import JsonOption, console, emit, err_console, get_platform, to_jsonable
from kizuna.dataio import TABLES, ImportReport, ProgressCallback, export_table, import_file
from kizuna.errors import ImportRejected, InvalidInput, Problem

_TABLES_HELP = (
    "Table: "
    + ", ".join(TABLES)
    + ", or opportunities (a Salesforce or HubSpot export, see --mapping)."
)
_PROGRESS_MIN_BYTES = 2 * 1024 * 1024
_MAX_PROBLEMS_SHOWN = 50

FormatOption = Annotated[
    str | None,
    typer.Option("--format", help="csv or jsonl (default: from the file extension)."),
]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("import")(import_command)
    app.command("export")(export_command)


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[ProgressCallback | None]:
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[amount]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}
        bytes_column = DownloadColumn()
        rows_column = MofNCompleteColumn()

        def update(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                label = "validating" if phase == "validate" else "writing"
                tasks[phase] = bar.add_task(label, total=total or None, amount="")
            task_id = tasks[phase]
            bar.update(task_id, completed=done, total=total or None)
            column = bytes_column if phase == "validate" else rows_column
            bar.update(task_id, amount=column.render(bar.tasks[task_id]))

        yield update


def _render_report(report: ImportReport) -> None:
    table = Table(title=escape(f"import {report.table} from {report.source}"))
    for name in ("read", "inserted", "updated", "unchanged", "rejected"):
        table.add_column(name, justify="right")
    table.add_row(
        *(
            f"{n:,}"
            for n in (
                report.rows_read,
                report.inserted,
                report.updated,
                report.unchanged,
                report.rejected,
            )
        )
    )
    console.print(table)
    if report.rejected:
        console.print(
            f"[yellow]{report.rejected:,} rejected row(s)[/] written to "
            f"{escape(str(report.reject_file))}",
            highlight=False,
        )
        for problem in report.problems[:_MAX_PROBLEMS_SHOWN]:
            console.print(f"  - {problem}", highlight=False, markup=False, soft_wrap=True)
        if len(report.problems) > _MAX_PROBLEMS_SHOWN:
            more = len(report.problems) - _MAX_PROBLEMS_SHOWN
            console.print(f"  … and {more:,} more (see the reject file)")


def import_command(
    table: Annotated[str, typer.Argument(help=_TABLES_HELP, show_default=False)],
    file: Annotated[
        Path, typer.Argument(help="CSV or JSON Lines file to import.", show_default=False)
    ],
    skip_invalid: Annotated[
        bool,
        typer.Option(
            "--skip-invalid",
            help="Import the good rows; write bad ones to <name>.rejects.csv|jsonl beside FILE.",
        ),
    ] = False,
    fmt: FormatOption = None,
    mapping: Annotated[
        str | None,
        typer.Option(
            "--mapping",
            help="opportunities only: the CRM the export comes from, salesforce or hubspot.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Import customer data, upserting on your ids. Bad input never half-lands.

    The whole file is validated first; every problem is reported with its row
    and column, and without --skip-invalid nothing changes.
    """
    platform = get_platform()
    if mapping is not None and table != "opportunities":
        raise InvalidInput(
            "--mapping is for opportunities",
            [Problem("only with opportunities", where="--mapping")],
        )
    large = file.is_file() and file.stat().st_size >= _PROGRESS_MIN_BYTES
    try:
        if table == "opportunities":
            from kizuna.revenue import definition_for
            from kizuna.revenue.crm import import_opportunities

            report = import_opportunities(
                platform,
                definition_for(platform.settings.home),
                file,
                crm=mapping or "salesforce",  # type: ignore[arg-type]
                skip_invalid=skip_invalid,
                fmt=fmt,
            )
        else:
            with _progress_bar(large) as progress:
                report = import_file(
                    platform, table, file, skip_invalid=skip_invalid, fmt=fmt, progress=progress
                )
    except ImportRejected as exc:
        if as_json:  # the problems as JSON on stdout; the message still goes to stderr
            sys.stdout.write(json.dumps(exc.to_dict(), ensure_ascii=False, indent=2) + "\n")
        raise
    if as_json:  # problems in the same shape as a rejected import's "errors"
        body = to_jsonable(report)
        body["problems"] = [p.to_dict() for p in report.problems]
        emit(body, True, _render_report)
    else:
        _render_report(report)


def export_command(
    table: Annotated[str, typer.Argument(help=_TABLES_HELP, show_default=False)],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write (default: standard output)."),
    ] = None,
    fmt: FormatOption = None,
    as_json: JsonOption = False,
) -> None:
    """Export a table with exactly the import columns, values verbatim (re-importable as is;
    not neutralised for spreadsheets, unlike the web UI's CSV downloads)."""
    platform = get_platform()
    if output is None:
        export_table(platform, table, sys.stdout, fmt or "csv")
        sys.stdout.flush()
        return
    rows = export_table(platform, table, output, fmt)
    result = {"table": table, "rows": rows, "output": str(output)}
    emit(
        to_jsonable(result),
        as_json,
        lambda r: err_console.print(
            f"exported {r['rows']:,} {r['table']} rows to {r['output']}", markup=False
        ),
    )
