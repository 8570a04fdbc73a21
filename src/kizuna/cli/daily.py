"""``kizuna daily``: the daily run (compaction → metrics → health → lifecycle → snapshot)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import typer
from rich.table import Table

from kizuna.cli._common import JsonOption, console, emit, err_console, get_platform, parse_dates
from kizuna.daily import DailyRun, daily_dates, run_daily
from kizuna.errors import InvalidInput, Problem

#: The run's date fields as this command's flags name them.
FLAGS = {"as_of": "--as-of", "start": "--from", "end": "--to"}


def _in_flags(exc: InvalidInput) -> InvalidInput:
    """The run's date problems worded with this command's flags."""
    problems = []
    for p in exc.problems:
        message = p.message
        for field, flag in FLAGS.items():
            message = message.replace(field, flag)
        problems.append(Problem(message, where=FLAGS.get(p.field or "", p.where), field=p.field))
    return InvalidInput(exc.message, problems)


def register(app: typer.Typer) -> None:
    """Add ``kizuna daily`` to the root app."""
    app.command("daily")(daily)


def daily(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Date to run for (YYYY-MM-DD). Default: today in the business timezone.",
        ),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First date of a backfill (every day to --to).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last date of a backfill.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Compute metrics, health and lifecycle for a date (or every day of a range) and save
    the portfolio figures the web UI reads. Re-running a date replaces its results."""
    platform = get_platform()
    parsed = parse_dates(as_of=as_of, from_=start, to=end)
    try:
        days = daily_dates(parsed["as_of"], parsed["from_"], parsed["to"], platform.today())
    except InvalidInput as exc:
        raise _in_flags(exc) from None
    # Progress on stderr, so ``--json`` output stays parseable.

    def progress(step: str, day: date, state: str) -> None:
        if state == "start":
            err_console.print(f"[bold]{step}[/] … ", end="", highlight=False)
        else:
            err_console.print("done", highlight=False)

    label = days[0].isoformat() if len(days) == 1 else f"{days[0]} … {days[-1]}"
    err_console.print(f"daily run for {label}", highlight=False)
    result = run_daily(platform, days, progress=progress)

    def render(r: DailyRun) -> None:
        table = Table("step", "seconds", "result", title=f"daily run {label}")
        for s in r.steps:
            table.add_row(s.step, f"{s.seconds:.2f}", s.detail)
        table.add_row("total", f"{r.seconds:.2f}", f"{len(r.snapshots)} portfolio snapshot(s)")
        console.print(table)

    emit(result, as_json, render)


__all__: list[Any] = ["daily", "register"]
