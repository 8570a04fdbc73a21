"""``kizuna daily`` (the daily run), ``kizuna runs`` (its log) and ``kizuna scheduler``."""

from __future__ import annotations

import signal
import threading
from datetime import date
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kizuna.cli._common import (
    JsonOption,
    console,
    emit,
    err_console,
    get_platform,
    load_settings,
    parse_dates,
)
from kizuna.daily import STEPS, DailyRun, daily_dates, run_daily
from kizuna.errors import InvalidInput, NotFound, Problem
from kizuna.ops.runlog import TRIGGERS

#: The run's date fields as this command's flags name them.
FLAGS = {"as_of": "--as-of", "start": "--from", "end": "--to", "step": "--step"}

runs_app = typer.Typer(help="The daily runs' log: each run and step.", no_args_is_help=True)


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
    """Add ``kizuna daily``, ``kizuna runs`` and ``kizuna scheduler`` to the root app."""
    app.command("daily")(daily)
    app.add_typer(runs_app, name="runs")
    app.command("scheduler")(scheduler)


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
    step: Annotated[
        int, typer.Option("--step", help="A backfill every N days: --from, --from + N, … ≤ --to.")
    ] = 1,
    restart: Annotated[
        bool,
        typer.Option(
            "--restart",
            help="Run every step even if an unfinished run for these dates can be resumed.",
        ),
    ] = False,
    trigger: Annotated[
        str, typer.Option("--trigger", hidden=True, help="Who starts the run (run log).")
    ] = "cli",
    owner: Annotated[
        str | None,
        typer.Option("--owner", hidden=True, help="The daily lock's owner this run continues."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Compute metrics, health and lifecycle for a date (or the dates of a range) and save
    the portfolio figures the web UI reads. Re-running a date replaces its results; a failed
    or killed run for the same dates resumes from the step that did not finish. Rules and
    notifications run dry for past dates."""
    platform = get_platform()
    parsed = parse_dates(as_of=as_of, from_=start, to=end)
    try:
        days = daily_dates(parsed["as_of"], parsed["from_"], parsed["to"], platform.today(), step)
    except InvalidInput as exc:
        raise _in_flags(exc) from None
    label = days[0].isoformat() if len(days) == 1 else f"{days[0]} … {days[-1]} ({len(days)} dates)"
    err_console.print(f"daily run for {label}", highlight=False)
    # Progress on stderr, so ``--json`` output stays parseable; a line per finished step
    # as well as the bar, so a log without a terminal shows each step too.
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    task = bar.add_task("daily", total=len(STEPS))

    def progress(name: str, day: date, state: str) -> None:
        if state == "start":
            bar.update(task, description=name)
        else:
            bar.advance(task)
            bar.console.print(f"{name} … done", highlight=False)

    with bar:
        result = run_daily(
            platform,
            days,
            progress=progress,
            date_step=step,
            resume=not restart,
            trigger=trigger if trigger in TRIGGERS else "cli",
            owner=owner,
        )

    def render(r: DailyRun) -> None:
        title = f"daily run {r.run_id} for {label}"
        if r.resumed_from is not None:
            title += f" (resumed run {r.resumed_from})"
        table = Table("step", "seconds", "rows", "result", title=title)
        for s in r.steps:
            rows = "" if s.rows is None else f"{s.rows:,}"
            table.add_row(s.step, f"{s.seconds:.2f}", rows, s.detail)
        table.add_row("total", f"{r.seconds:.2f}", "", f"{len(r.snapshots)} portfolio snapshot(s)")
        console.print(table)

    emit(result, as_json, render)


@runs_app.command("list")
def runs_list(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many runs, newest first.")] = 20,
    status: Annotated[
        str | None,
        typer.Option(help="Only runs in this state: running, succeeded, failed, killed."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The newest daily runs: dates, trigger, status, duration and each step."""
    from kizuna.ops import list_runs

    if status is not None and status not in ("running", "succeeded", "failed", "killed"):
        raise InvalidInput(
            "invalid status",
            [Problem("use running, succeeded, failed or killed", where="--status", field="status")],
        )
    runs = list_runs(get_platform().store, limit=limit, status=status)

    def render(items: list[Any]) -> None:
        table = Table("run", "dates", "trigger", "status", "started (UTC)", "seconds", "steps")
        for r in items:
            dates = str(r.first_date) if r.dates == 1 else f"{r.first_date} … {r.last_date}"
            steps = ", ".join(
                f"{s.step} {s.seconds:.1f}s" if s.status == "succeeded" else f"{s.step} {s.status}"
                for s in r.steps
            )
            table.add_row(
                str(r.id),
                dates,
                r.trigger,
                r.status + (f" at {r.failed_step}" if r.failed_step else ""),
                f"{r.started_at:%Y-%m-%d %H:%M:%S}",
                "" if r.seconds is None else f"{r.seconds:.1f}",
                steps,
            )
        console.print(table)

    emit(runs, as_json, render)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[int, typer.Argument(help="The run's number (kizuna runs list).")],
    as_json: JsonOption = False,
) -> None:
    """One daily run with each step's timing, rows, result and error."""
    from kizuna.ops import run_of

    found = run_of(get_platform().store, run_id)
    if found is None:
        raise NotFound(f"no daily run {run_id}")

    def render(r: Any) -> None:
        table = Table(
            "step", "status", "seconds", "rows", "result", title=f"run {r.id}: {r.status}"
        )
        for s in r.steps:
            table.add_row(
                s.step,
                s.status,
                "" if s.seconds is None else f"{s.seconds:.2f}",
                "" if s.rows is None else f"{s.rows:,}",
                s.error or s.detail or "",
            )
        console.print(table)

    emit(found, as_json, render)


def scheduler(
    once: Annotated[
        bool, typer.Option("--once", help="Poll once (run today's run if due) and exit.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run the daily run every day at KIZUNA_DAILY_TIME in the business timezone, one run at
    a time across every scheduler that shares the store. Stops on Ctrl+C or SIGTERM."""
    from kizuna.ops.logs import configure_logging
    from kizuna.ops.scheduler import Scheduler, Tick

    settings = load_settings()
    configure_logging(settings.log_format)
    instance = Scheduler(get_platform())
    if once:
        emit(instance.tick(), as_json, lambda t: console.print(f"{t.day}: {t.outcome} {t.detail}"))
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    err_console.print(
        f"scheduler {instance.owner}: the daily run at {settings.daily_time} "
        f"{settings.timezone}, polling every {settings.scheduler_poll_seconds:g} s",
        highlight=False,
    )

    def show(tick: Tick) -> None:
        if tick.outcome in ("succeeded", "failed"):
            err_console.print(f"{tick.day}: run {tick.run_id} {tick.outcome} {tick.detail}")

    instance.serve(stop, on_tick=show)


__all__: list[Any] = ["daily", "register", "runs_list", "runs_show", "scheduler"]
