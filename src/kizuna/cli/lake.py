"""CLI commands of the lake capability: ingest, quarantine, replay, compact."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from kizuna.cli._common import JsonOption, console, emit, get_platform
from kizuna.errors import InvalidInput, Problem
from kizuna.lake.compact import (
    DEFAULT_MIN_FILES,
    DEFAULT_PURGE_AFTER,
    CompactReport,
    check_settings,
    compact_lake,
)
from kizuna.lake.ingest import expand_paths, ingest_file, ingest_paths
from kizuna.lake.layout import LakeLayout
from kizuna.lake.quarantine import replay, summarise

lake_app = typer.Typer(
    help="The usage-event lake: quarantine, replay and compaction.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    """Add ``kizuna ingest`` and the ``kizuna lake`` group to the root app."""
    app.command("ingest")(ingest)
    app.add_typer(lake_app, name="lake")


def ingest(
    sources: list[str] = typer.Argument(
        ...,
        metavar="FILE|DIR|GLOB...",
        help="JSON Lines, CSV, Parquet or Segment JSON file; a folder, a glob or several "
        "files load in bulk (a first history load).",
    ),
    fmt: str | None = typer.Option(
        None, "--format", help="jsonl, csv, parquet or json (default: from the file name)."
    ),
    rollup: bool = typer.Option(
        True, "--rollup/--no-rollup", help="Bulk loads: refresh the metrics' daily roll-up."
    ),
    as_json: JsonOption = False,
) -> None:
    """Land usage events in the lake (bad ones go to the quarantine).

    One file streams in blocks; a folder, a glob or several files are the bulk path:
    larger batches, then the metrics' roll-up refreshed once. Re-running is safe:
    events already in the lake count as duplicates.
    """
    platform = get_platform()
    single = len(sources) == 1 and Path(sources[0]).is_file()
    if single:
        file = Path(sources[0])
        label = file.name

        def run(progress: Any) -> Any:
            return ingest_file(platform, file, fmt=fmt, progress=progress)
    else:
        paths = [p for source in sources for p in expand_paths(source)]
        if not paths:
            raise InvalidInput(
                "nothing to ingest", [Problem("no JSON Lines, CSV, Parquet or JSON files found")]
            )
        label = f"{len(paths)} file(s)"

        def run(progress: Any) -> Any:
            return ingest_paths(platform, paths, fmt=fmt, progress=progress, rollup=rollup)

    if as_json:
        report = run(None)
    else:
        with Progress(
            TextColumn("[bold]ingest[/] {task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(label, total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = run(progress)

    def render(r: Any) -> None:
        console.print(
            f"[green]{r.accepted}[/] accepted, {r.duplicates} duplicates, "
            f"[{'red' if r.quarantined else 'green'}]{r.quarantined}[/] quarantined"
        )
        for problem in r.problems[:20]:
            console.print(f"  - {problem}", highlight=False)
        hidden = max(0, len(r.problems) - 20) + r.problems_omitted
        if hidden:
            console.print(f"  … and {hidden} more (see 'kizuna lake quarantine')")

    emit(report, as_json, render)


@lake_app.command("quarantine")
def quarantine(
    samples: int = typer.Option(3, "--samples", help="Sample records shown per reason."),
    as_json: JsonOption = False,
) -> None:
    """List quarantined events: counts by reason and samples."""
    platform = get_platform(ready=False)
    summary = summarise(LakeLayout(platform.settings.lake_dir), samples)

    def render(s: Any) -> None:
        resent = f" ({s.resent} of them re-sent copies of the same message id)" if s.resent else ""
        console.print(f"{s.total} quarantined event(s){resent}")
        if not s.total:
            return
        table = Table("reason", "count")
        for reason, count in s.by_reason.items():
            table.add_row(reason, str(count))
        console.print(table)
        for row in s.samples:
            console.print(
                f"  [{row['reason']}] {row['where']}: {row['message']}  {row['raw'][:120]}",
                highlight=False,
                markup=False,
            )

    emit(summary, as_json, render)


@lake_app.command("replay")
def replay_command(as_json: JsonOption = False) -> None:
    """Re-ingest quarantined events whose account now exists."""
    platform = get_platform()
    report = replay(platform)

    def show(r: Any) -> None:
        console.print(
            f"{r.candidates} replayable: {r.accepted} landed, {r.duplicates} already in the "
            f"lake, {r.still_quarantined} still quarantined"
        )
        for item in r.unreplayable:
            console.print(
                f"[yellow]cannot replay[/] {escape(item.where)}"
                + (f" (message {escape(item.message_id)})" if item.message_id else "")
                + f": {escape(item.reason)}; it stays in the quarantine"
            )

    emit(report, as_json, show)


@lake_app.command("compact")
def compact_command(
    min_files: int = typer.Option(
        DEFAULT_MIN_FILES,
        "--min-files",
        help="Compact a day partition once it has this many small part files (2 or more).",
    ),
    dates: list[str] | None = typer.Option(
        None, "--date", help="Only this UTC event date, YYYY-MM-DD (repeatable)."
    ),
    keep_superseded: float = typer.Option(
        DEFAULT_PURGE_AFTER.total_seconds() / 60,
        "--keep-superseded",
        help=(
            "Minutes to keep the files earlier compactions replaced, for readers that "
            "listed them before (0: delete them now)."
        ),
    ),
    as_json: JsonOption = False,
) -> None:
    """Merge each day partition's small part files into a few large, sorted ones."""
    days = _check_options(dates or [], min_files, keep_superseded)
    platform = get_platform(ready=False)
    options: dict[str, Any] = {
        "min_files": min_files,
        "dates": days,
        "purge_after": timedelta(minutes=keep_superseded),
    }
    if as_json:
        report = compact_lake(platform, **options)
    else:
        with Progress(
            TextColumn("[bold]compact[/] partitions"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("compact", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = compact_lake(platform, progress=progress, **options)

    def render(r: CompactReport) -> None:
        if r.partitions_compacted:
            console.print(
                f"[green]{r.partitions_compacted}[/] of {r.partitions_checked} partition(s) "
                f"compacted: {r.files_before:,} part files → {r.files_after:,}, "
                f"{r.events:,} events rewritten in {r.seconds:.1f} s"
            )
        elif not r.refused:
            console.print(
                f"nothing to compact in {r.partitions_checked} partition(s) "
                f"(fewer than {min_files} small part files each)"
            )
        if r.files_purged:
            console.print(
                f"{r.files_purged:,} part file(s) superseded by earlier compactions deleted"
            )
        for problem in r.refused:
            console.print(f"  [red]refused[/] {escape(str(problem))}", highlight=False)

    emit(report, as_json, render)


def _check_options(texts: list[str], min_files: int, keep_minutes: float) -> list[date] | None:
    """The dates of ``--date`` (None: every partition); every bad option reported at once."""
    problems = check_settings(min_files)
    if not keep_minutes >= 0:  # also refuses nan
        problems.append(
            Problem(
                f"{keep_minutes} is not a number of minutes (0 or more)",
                where="--keep-superseded",
                field="keep_superseded",
            )
        )
    days: list[date] = []
    for text in texts:
        try:
            days.append(date.fromisoformat(text))
        except ValueError:
            problems.append(
                Problem(f"{text!r} is not a date; use YYYY-MM-DD", where="--date", field="date")
            )
    if problems:
        raise InvalidInput("invalid options", problems)
    return days or None
