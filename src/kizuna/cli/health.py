"""CLI commands of the health capability: compute, show, list, sentiment, scorecards."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from kizuna.cli._common import JsonOption, console, emit, get_platform, parse_dates
from kizuna.errors import InvalidInput
from kizuna.health import (
    compute_health_range,
    explain_account,
    list_health,
    load_scorecards,
    record_sentiment,
    scorecard_paths,
)

health_app = typer.Typer(
    help="Health scores: compute daily snapshots, explain one account, list by band.",
    no_args_is_help=True,
)

DateOption = Annotated[
    str | None, typer.Option("--as-of", help="Date (YYYY-MM-DD); default: today.")
]
ScorecardOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--scorecard",
        help="Scorecard YAML file (repeatable). Default: <home>/scorecards/*.yaml, "
        "else the shipped default.",
    ),
]
_BAND_STYLE = {"red": "red", "yellow": "yellow", "green": "green"}


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(health_app, name="health")


def _fmt(score: float | None, signed: bool = False) -> str:
    if score is None:
        return "—"
    return f"{score:+.1f}" if signed else f"{score:.1f}"


@health_app.command("compute")
def compute(
    as_of: DateOption = None,
    start: Annotated[str | None, typer.Option("--from", help="First date of a range.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last date of a range.")] = None,
    step: Annotated[
        int, typer.Option("--step", "--every", min=1, help="Days between dates of a range.")
    ] = 1,
    scorecard: ScorecardOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compute every account's health as of a date or a date range (replaces snapshots)."""
    platform = get_platform()
    day, first, last = parse_dates(as_of=as_of, from_=start, to=end).values()
    if day is not None and (first or last):
        raise InvalidInput("give --as-of or --from/--to, not both")
    if (first is None) != (last is None):
        raise InvalidInput("a range needs both --from and --to")
    if first is None or last is None:
        first = last = day or platform.today()
    cards = load_scorecards(scorecard_paths(platform.settings, scorecard))
    runs = compute_health_range(platform, first, last, step, cards)
    result = {"runs": runs}

    def render(_: Any) -> None:
        for run in runs:
            bands = ", ".join(f"{b} {n}" for b, n in run.bands.items())
            console.print(f"{run.as_of}: {run.scored}/{run.accounts} accounts scored ({bands})")
            for note in run.notes:
                console.print(f"  [yellow]note:[/] {note}")

    emit(result, as_json, render)


@health_app.command("show")
def show(
    account: Annotated[str, typer.Argument(help="Account id.")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Snapshot date; default: the newest.")
    ] = None,
    history_days: Annotated[
        int, typer.Option("--history-days", help="Days of score history to include.")
    ] = 90,
    as_json: JsonOption = False,
) -> None:
    """One account's score, band, groups, measures and contributions, trend and top movers."""
    platform = get_platform(ready=False)
    result = explain_account(
        platform.settings, account, parse_dates(as_of=as_of)["as_of"], history_days
    )

    def render(r: dict[str, Any]) -> None:
        band = r["band"] or "no data"
        console.print(
            f"[bold]{r['name']}[/] ({r['account_id']}) as of {r['as_of']}: "
            f"[{_BAND_STYLE.get(band, 'white')}]{_fmt(r['score'])} {band}[/] "
            f"— scorecard {r['scorecard']} ({r['method']})"
        )
        if r["method"] == "roll-up":
            table = Table("child", "ARR", "weight", "score", "contribution")
            for c in r["children"]:
                table.add_row(
                    c["account_id"],
                    f"{c['arr']:,.0f}",
                    f"{c['effective_weight']:.3f}",
                    _fmt(c["score"]),
                    _fmt(c["contribution"]),
                )
        else:
            table = Table("group", "measure", "raw", "score", "weight", "contribution")
            for m in r["measures"]:
                raw = "missing" if m["raw_value"] is None else f"{m['raw_value']:.4g}"
                table.add_row(
                    m["group"],
                    m["name"],
                    raw,
                    _fmt(m["score"]),
                    f"{m['effective_weight']:.3f}",
                    _fmt(m["contribution"]),
                )
        console.print(table)
        for key, trend in r["trend"].items():
            movers = ", ".join(f"{m['measure']} {m['change']:+.1f}" for m in trend["top_movers"])
            console.print(
                f"change vs {key} earlier: {_fmt(trend['change'], signed=True)}"
                + (f" (top movers: {movers})" if movers else "")
            )

    emit(result, as_json, render)


@health_app.command("list")
def list_command(
    band: Annotated[
        str | None, typer.Option("--band", help="Only this band: red, yellow or green.")
    ] = None,
    segment: Annotated[str | None, typer.Option("--segment", help="Only this segment.")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Snapshot date; default: the newest.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Accounts by health, lowest first, with their 7- and 30-day changes."""
    platform = get_platform(ready=False)
    result = list_health(platform.settings, parse_dates(as_of=as_of)["as_of"], band, segment, limit)

    def render(r: dict[str, Any]) -> None:
        table = Table("account", "name", "segment", "score", "band", "7d", "30d", "missing")
        for row in r["accounts"]:
            table.add_row(
                row["account_id"],
                row["name"] or "",
                row["segment"] or "",
                _fmt(row["score"]),
                row["band"] or "no data",
                _fmt(row["change_7d"], signed=True),
                _fmt(row["change_30d"], signed=True),
                ", ".join(row["missing"]),
            )
        console.print(f"as of {r['as_of']}: {r['count']} accounts")
        console.print(table)

    emit(result, as_json, render)


@health_app.command("sentiment")
def sentiment(
    account: Annotated[str, typer.Argument(help="Account id.")],
    value: Annotated[int, typer.Option("--value", help="1 very negative … 5 very positive.")],
    by: Annotated[str, typer.Option("--by", help="Who gives it (CSM name or id).")],
    comment: Annotated[str | None, typer.Option("--comment", help="Why.")] = None,
    expires: Annotated[
        str | None, typer.Option("--expires", help="Last day it counts (YYYY-MM-DD).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Record a CSM's manual sentiment about an account (counts from today)."""
    platform = get_platform()
    entry = record_sentiment(
        platform, account, value, by, comment, parse_dates(expires=expires)["expires"]
    )
    emit(
        entry,
        as_json,
        lambda e: console.print(
            f"sentiment {e['value']} recorded for {e['account_id']} by {e['author']}"
            + (f", until {e['expires_on']}" if e["expires_on"] else "")
        ),
    )


@health_app.command("scorecards")
def scorecards(scorecard: ScorecardOption = None, as_json: JsonOption = False) -> None:
    """Validate and show the scorecards in use (every problem is reported with file and field)."""
    platform = get_platform(ready=False)
    cards = load_scorecards(scorecard_paths(platform.settings, scorecard))

    def render(_: Any) -> None:
        for card in cards.scorecards:
            segments = ", ".join(card.applies_to.segments) or "all other segments"
            console.print(f"[bold]{card.name}[/] ({segments})")
            for group in card.groups:
                measures = ", ".join(f"{m.name}×{m.weight:g}" for m in group.measures)
                console.print(f"  {group.name} ×{group.weight:g}: {measures}")

    emit(cards, as_json, render)
