"""``kizuna sim`` (write a simulated customer base to a folder) and ``kizuna demo``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kizuna.cli._common import JsonOption, console, emit, err_console, get_platform, parse_dates
from kizuna.errors import InvalidInput, Problem
from kizuna.sim import PRESETS, SimConfig, SimSummary, simulate

AccountsOption = Annotated[
    int | None, typer.Option("--accounts", help="Number of accounts (default: the preset's).")
]
SeedOption = Annotated[int | None, typer.Option("--seed", help="Random seed (default 42).")]
PresetOption = Annotated[str, typer.Option("--preset", help=f"Size preset: {', '.join(PRESETS)}.")]
StartOption = Annotated[
    str | None,
    typer.Option(
        "--start", help="First day of simulated history, YYYY-MM-DD (default 2024-07-01)."
    ),
]
EndOption = Annotated[
    str | None,
    typer.Option(
        "--end",
        help="Last day of simulated history, YYYY-MM-DD (default 2025-06-30; at most 3 years).",
    ),
]


def register(app: typer.Typer) -> None:
    """Add ``sim`` and ``demo`` to the root app."""
    app.command("sim")(sim)
    app.command("demo")(demo)


#: The option that sets each config field, where its name differs.
_FLAG = {"start_date": "--start", "end_date": "--end"}


def _config(
    preset: str,
    accounts: int | None,
    seed: int | None,
    start: str | None = None,
    end: str | None = None,
) -> SimConfig:
    dates = parse_dates(start=start, end=end)
    try:
        return SimConfig.preset(
            preset, accounts=accounts, seed=seed, start_date=dates["start"], end_date=dates["end"]
        )
    except ValidationError as exc:
        problems = [
            Problem(
                # a check across fields (the window) has no location: it is about the dates
                e["msg"].removeprefix("Value error, "),
                where=_FLAG.get(str(e["loc"][0]), f"--{e['loc'][0]}")
                if e["loc"]
                else "--start/--end",
                field=str(e["loc"][0]) if e["loc"] else None,
            )
            for e in exc.errors()
        ]
        raise InvalidInput("invalid simulator settings", problems) from None
    except ValueError as exc:
        raise InvalidInput(
            str(exc), [Problem(str(exc), where="--preset", field="preset")]
        ) from None


@contextmanager
def _progress_bar() -> Iterator[Callable[[str, int, int], None]]:
    """A rich progress bar on stderr (stdout stays clean for --json)."""
    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield report


def _sim_table(s: SimSummary, title: str) -> Table:
    table = Table(title=title)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("seed", str(s.seed))
    table.add_row("history", f"{s.start_date} → {s.end_date}")
    for segment, count in s.accounts_by_segment.items():
        table.add_row(f"accounts ({segment})", f"{count:,}")
    table.add_row("ARR on the last day (USD, list rates)", f"{s.arr_end_usd:,.0f}")
    for outcome, count in s.outcomes.items():
        table.add_row(f"renewal outcome: {outcome}", f"{count:,}")
    for name, count in s.rows.items():
        table.add_row(f"rows: {name}", f"{count:,}")
    table.add_row("usage events", f"{s.events:,}")
    table.add_row("first / last event", f"{s.first_event_at} / {s.last_event_at}")
    return table


def sim(
    out: Annotated[Path, typer.Option("--out", help="Folder to write (must not hold sim output).")],
    accounts: AccountsOption = None,
    seed: SeedOption = None,
    preset: PresetOption = "demo",
    as_json: JsonOption = False,
    start: StartOption = None,
    end: EndOption = None,
) -> None:
    """Simulate a B2B SaaS customer base into a folder: CSVs, Parquet events, ground truth."""
    config = _config(preset, accounts, seed, start, end)
    with _progress_bar() as report:
        summary = simulate(config, out, report)
    emit(summary, as_json, lambda s: console.print(_sim_table(s, f"Simulated into {s.out_dir}")))


def demo(
    accounts: AccountsOption = None,
    seed: SeedOption = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing store and lake in the data folder.")
    ] = False,
    as_json: JsonOption = False,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the web UI after loading.")
    ] = True,
    host: Annotated[str, typer.Option(help="Interface the UI listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port of the UI.")] = 8000,
    start: StartOption = None,
    end: EndOption = None,
) -> None:
    """Initialise a data folder, simulate a customer base (500 accounts), load and serve it."""
    from kizuna.sim.demo import run_demo

    config = _config("demo", accounts, seed, start, end)
    platform = get_platform(ready=False)
    with _progress_bar() as report:
        result = run_demo(platform, config, force=force, progress=report)
    from kizuna.web.demo import DEMO_EMAIL, DEMO_PASSWORD, ensure_demo_login

    ensure_demo_login(platform)  # with --no-serve too: 'kizuna serve' later needs a login

    def render(r: Any) -> None:
        console.print(_sim_table(r.simulation, f"Demo loaded into {r.home}"))
        console.print(
            f"store {r.store}; events in {r.lake_events_dir}; ground truth {r.truth_file}"
        )
        if r.backup is not None:
            console.print(f"the data it replaced was saved in {r.backup}")
        console.print(f"demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}")

    emit(result, as_json, render)
    if serve and not as_json:
        from kizuna.server import serve_demo

        serve_demo(platform, host, port, as_of=result.simulation.end_date, say=console.print)
