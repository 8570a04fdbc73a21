"""CLI commands of the metrics capability: compute, show, explain, list."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from kizuna.cli._common import JsonOption, console, emit, get_platform, parse_dates
from kizuna.errors import InvalidInput, NotFound, Problem
from kizuna.metrics import compute_metrics, explain_metric, load_definitions, read_metric_values

metrics_app = typer.Typer(
    help="Behavioural metrics per account, as of any date.", no_args_is_help=True
)

DefinitionsOption = typer.Option(
    None, "--definitions", help="Metric definition YAML (default: the shipped set)."
)


def register(app: typer.Typer) -> None:
    """Add the ``kizuna metrics`` group to the root app."""
    app.add_typer(metrics_app, name="metrics")


@metrics_app.command("compute")
def compute(
    as_of: str | None = typer.Option(None, "--as-of", help="Date to compute (default: today)."),
    start: str | None = typer.Option(None, "--from", help="First date of a history run."),
    end: str | None = typer.Option(None, "--to", help="Last date of a history run (inclusive)."),
    step: int = typer.Option(1, "--step", min=1, help="Days between dates of a history run."),
    definitions: Path | None = DefinitionsOption,
    as_json: JsonOption = False,
) -> None:
    """Compute every metric for every account as of a date (or dates) and store them."""
    platform = get_platform()
    first, last = parse_dates(from_=start, to=end).values()
    if (first is None) != (last is None):
        raise InvalidInput(
            "give both --from and --to", [Problem("both or neither", field="--from")]
        )
    if first is not None and last is not None:
        if as_of is not None:
            raise InvalidInput(
                "--as-of cannot be combined with --from/--to",
                [Problem("pick one", field="--as-of")],
            )
        if last < first:
            raise InvalidInput("--to is before --from", [Problem("swap them", field="--to")])
        dates = [first + timedelta(days=i) for i in range(0, (last - first).days + 1, step)]
    else:
        dates = [parse_dates(as_of=as_of)["as_of"] or platform.today()]
    run = compute_metrics(platform, dates, load_definitions(definitions))
    emit(
        run,
        as_json,
        lambda r: console.print(
            f"computed {len(r.metrics)} metrics for {r.accounts} accounts at {len(r.as_of)} "
            f"date(s) ({r.as_of[0]} … {r.as_of[-1]}) on {r.engine} in {r.seconds:.2f} s"
        ),
    )


@metrics_app.command("show")
def show(
    account: str = typer.Argument(..., help="Account id."),
    as_of: str | None = typer.Option(None, "--as-of", help="Date (default: the latest stored)."),
    as_json: JsonOption = False,
) -> None:
    """Show an account's stored metric values."""
    platform = get_platform()
    day = parse_dates(as_of=as_of)["as_of"]
    table = read_metric_values(platform, as_of=day, account_id=account)
    if table.num_rows == 0:
        raise NotFound(
            f"no metric values for account {account!r}"
            + (f" as of {day}" if day else "")
            + "; run 'kizuna metrics compute'"
        )
    if day is None:
        latest = max(table.column("as_of").to_pylist())
        rows = [r for r in table.to_pylist() if r["as_of"] == latest]
        day = latest
    else:
        rows = table.to_pylist()
    result = {
        "account_id": account,
        "as_of": day,
        "metrics": {r["metric"]: r["value"] for r in rows},
    }

    def render(r: Any) -> None:
        out = Table("metric", "value", title=f"{account} as of {r['as_of']}")
        for name, value in r["metrics"].items():
            out.add_row(name, "—" if value is None else f"{value:,.4g}")
        console.print(out)

    emit(result, as_json, render)


@metrics_app.command("explain")
def explain(
    name: str = typer.Argument(..., help="Metric name."),
    as_of: str | None = typer.Option(None, "--as-of", help="Date (default: today)."),
    definitions: Path | None = DefinitionsOption,
    as_json: JsonOption = False,
) -> None:
    """Print the definition and the SQL the active engine runs for a metric."""
    platform = get_platform()
    metrics = load_definitions(definitions)
    sql = explain_metric(platform, name, parse_dates(as_of=as_of)["as_of"], metrics)
    definition = metrics.get(name).model_dump(exclude_none=True, by_alias=True)
    result = {"metric": definition, "engine": platform.settings.engine, "sql": sql}

    def render(r: Any) -> None:
        console.print(
            f"[bold]{name}[/] ({r['metric']['kind']}): {r['metric'].get('description', '')}"
        )
        console.print(sql, highlight=False, markup=False)

    emit(result, as_json, render)


@metrics_app.command("list")
def list_metrics(definitions: Path | None = DefinitionsOption, as_json: JsonOption = False) -> None:
    """List the metric definitions (validated)."""
    metrics = load_definitions(definitions)
    result = [m.model_dump(exclude_none=True, by_alias=True) for m in metrics.metrics]

    def render(r: Any) -> None:
        out = Table("name", "kind", "window", "description")
        for m in r:
            out.add_row(
                m["name"], m["kind"], str(m.get("window_days", "")), m.get("description", "")
            )
        console.print(out)

    emit(result, as_json, render)


@metrics_app.command("suggest")
def suggest(
    write: Path | None = typer.Option(None, "--write", help="Save the derived metrics as YAML."),
    cap: int = typer.Option(30, "--cap", min=0, help="Most event types to derive metrics for."),
    definitions: Path | None = DefinitionsOption,
    as_json: JsonOption = False,
) -> None:
    """Derived metrics for the lake's event types that no metric definition covers."""
    from kizuna.risk.derived import suggest_metrics

    platform = get_platform(ready=False)
    found = suggest_metrics(platform.settings.lake_dir, load_definitions(definitions), cap)
    if write is not None:
        write.write_text(found.to_yaml(), encoding="utf-8")
    result = {
        "event_counts": found.event_counts,
        "covered": found.covered,
        "derived_for": found.derived_for,
        "left_out": found.left_out,
        "metrics": [m.model_dump(exclude_none=True, by_alias=True) for m in found.metrics.metrics],
        "written": str(write) if write else None,
    }

    def render(r: Any) -> None:
        if not r["derived_for"]:
            console.print("every event type in the lake is covered by a metric definition")
        for m in r["metrics"]:
            console.print(f"{m['name']:<48} {m['kind']:<16} {m.get('description', '')}")
        if r["left_out"]:
            console.print(f"left out (beyond the cap of {cap}): {', '.join(r['left_out'])}")
        if r["written"]:
            console.print(f"written to {r['written']}")

    emit(result, as_json, render)
