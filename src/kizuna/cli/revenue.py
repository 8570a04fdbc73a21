"""Revenue commands: ``kizuna opp ...``, ``kizuna forecast`` and ``kizuna framework``.

``kizuna import opportunities FILE --mapping salesforce|hubspot`` is part of
``kizuna import`` (:mod:`kizuna.cli.data`) and lands through :mod:`kizuna.revenue.crm`.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from kizuna.cli._common import JsonOption, console, emit, get_platform, parse_dates
from kizuna.errors import InvalidInput, Problem
from kizuna.jsonable import to_jsonable
from kizuna.revenue import (
    METRICS,
    OpportunityView,
    create_opportunity,
    definition_for,
    forecast_accuracy,
    framework,
    get_opportunity,
    list_opportunities,
    lose,
    move_stage,
    open_renewals,
    reassign,
    renewal_contexts,
    renewal_forecast,
    win,
)
from kizuna.revenue.readmodel import renewals_csv
from kizuna.store.revenue_models import OpportunityType

opp_app = typer.Typer(
    help="Opportunities: renewals, upsells, cross-sells and downsells in the pipeline.",
    no_args_is_help=True,
)


class Kind(StrEnum):
    renewal = "renewal"
    upsell = "upsell"
    cross_sell = "cross_sell"
    downsell = "downsell"


class Status(StrEnum):
    open = "open"
    won = "won"
    lost = "lost"


class Unit(StrEnum):
    month = "month"
    quarter = "quarter"


class By(StrEnum):
    segment = "segment"
    owner = "owner"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(opp_app, name="opp")
    app.command("forecast")(forecast_command)
    app.command("framework")(framework_command)


def _amount(text: str | None, flag: str) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
        if not value.is_finite():
            raise InvalidOperation
        return value
    except InvalidOperation:
        raise InvalidInput(
            "invalid amount", [Problem(f"{text!r} is not a number", where=flag)]
        ) from None


def _money(value: Decimal | float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _render_opps(opps: list[OpportunityView]) -> None:
    table = Table(title=f"{len(opps)} opportunities")
    for c in (
        "id",
        "account",
        "type",
        "stage",
        "prob.",
        "ARR",
        "weighted",
        "close",
        "owner",
        "status",
    ):
        table.add_column(c)
    for o in opps:
        amount = o.arr_total if o.type == "renewal" and o.arr_total is not None else o.arr_change
        table.add_row(
            o.id,
            o.account_id,
            o.type,
            o.stage,
            f"{o.probability:.0%}",
            _money(amount),
            _money(o.weighted_arr),
            str(o.expected_close_date),
            o.owner_id or "—",
            o.status,
        )
    console.print(table)


def _render_opp(o: OpportunityView) -> None:
    for key, value in to_jsonable(o).items():
        if key != "history":
            console.print(f"[bold]{key}[/]: {value}", highlight=False)
    console.print("[bold]history[/]:")
    for h in o.history:
        console.print(
            f"  {h.changed_on}  {h.from_stage or '—'} → {h.to_stage}  {h.changed_by or ''}"
        )


@opp_app.command("list")
def opp_list(
    status: Annotated[Status | None, typer.Option(help="open, won or lost.")] = None,
    kind: Annotated[Kind | None, typer.Option("--type", help="Deal type.")] = None,
    owner: Annotated[str | None, typer.Option(help="Owner's team member id.")] = None,
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Opportunities by expected close date."""
    platform = get_platform()
    definition = definition_for(platform.settings.home)
    opps = list_opportunities(
        platform,
        definition,
        status=status.value if status else None,
        type=kind.value if kind else None,
        owner=owner,
        account_id=account,
    )
    emit(opps, as_json, _render_opps)


@opp_app.command("show")
def opp_show(
    opportunity_id: Annotated[str, typer.Argument(help="Opportunity id.", show_default=False)],
    as_json: JsonOption = False,
) -> None:
    """One opportunity with its stage history."""
    platform = get_platform()
    emit(
        get_opportunity(platform, definition_for(platform.settings.home), opportunity_id),
        as_json,
        _render_opp,
    )


@opp_app.command("create")
def opp_create(
    account: Annotated[str, typer.Argument(help="Account id.", show_default=False)],
    kind: Annotated[Kind, typer.Option("--type", help="renewal, upsell, cross_sell or downsell.")],
    close: Annotated[str, typer.Option("--close", help="Expected close date (YYYY-MM-DD).")],
    arr_change: Annotated[
        str, typer.Option("--arr-change", help="ARR change if won (≤ 0 for a downsell).")
    ] = "0",
    arr_total: Annotated[
        str | None, typer.Option("--arr-total", help="ARR after it (a renewal's ARR).")
    ] = None,
    product: Annotated[
        list[str] | None, typer.Option("--product", help="A product (repeat).")
    ] = None,
    stage: Annotated[str | None, typer.Option(help="Pipeline stage (default: the first).")] = None,
    probability: Annotated[float | None, typer.Option(help="0–1; default: the stage's.")] = None,
    owner: Annotated[str | None, typer.Option(help="Owner; default: from the owner table.")] = None,
    name: Annotated[str | None, typer.Option(help="A name (default: account and type).")] = None,
    currency: Annotated[str | None, typer.Option(help="Currency (default: reporting).")] = None,
    renews: Annotated[
        str | None, typer.Option("--renews", help="The contract line it renews.")
    ] = None,
    opportunity_id: Annotated[
        str | None, typer.Option("--id", help="Your id (default: OPP-n).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Open an opportunity (source: manual)."""
    platform = get_platform()
    d = parse_dates(close=close)
    assert d["close"] is not None
    view = create_opportunity(
        platform,
        definition_for(platform.settings.home),
        account_id=account,
        type=OpportunityType(kind.value),
        arr_change=_amount(arr_change, "--arr-change") or Decimal(0),
        arr_total=_amount(arr_total, "--arr-total"),
        expected_close_date=d["close"],
        products=product or [],
        stage=stage,
        probability=probability,
        owner_id=owner,
        name=name,
        currency=currency,
        renews_line_id=renews,
        opportunity_id=opportunity_id,
    )
    emit(view, as_json, _render_opp)


@opp_app.command("stage")
def opp_stage(
    opportunity_id: Annotated[str, typer.Argument(help="Opportunity id.", show_default=False)],
    stage: Annotated[
        str, typer.Argument(help="An open stage of the pipeline.", show_default=False)
    ],
    on: Annotated[str | None, typer.Option(help="Day of the move (default today).")] = None,
    by: Annotated[str | None, typer.Option(help="Who moved it.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Move an opportunity to another stage (kept in its history)."""
    platform = get_platform()
    d = parse_dates(on=on)
    emit(
        move_stage(
            platform,
            definition_for(platform.settings.home),
            opportunity_id,
            stage,
            on=d["on"],
            by=by,
        ),
        as_json,
        _render_opp,
    )


@opp_app.command("won")
def opp_won(
    opportunity_id: Annotated[str, typer.Argument(help="Opportunity id.", show_default=False)],
    on: Annotated[str | None, typer.Option(help="Day it was won (default today).")] = None,
    by: Annotated[str | None, typer.Option(help="Who closed it.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why it was won.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Mark an opportunity won: links the renewing line, or creates it without a billing feed."""
    platform = get_platform()
    d = parse_dates(on=on)
    emit(
        win(
            platform,
            definition_for(platform.settings.home),
            opportunity_id,
            on=d["on"],
            by=by,
            reason=reason,
        ),
        as_json,
        _render_opp,
    )


@opp_app.command("lost")
def opp_lost(
    opportunity_id: Annotated[str, typer.Argument(help="Opportunity id.", show_default=False)],
    reason: Annotated[str, typer.Option(help="Why it was lost (required).")],
    on: Annotated[str | None, typer.Option(help="Day it was lost (default today).")] = None,
    by: Annotated[str | None, typer.Option(help="Who closed it.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Mark an opportunity lost with the reason and date."""
    platform = get_platform()
    d = parse_dates(on=on)
    emit(
        lose(
            platform,
            definition_for(platform.settings.home),
            opportunity_id,
            reason=reason,
            on=d["on"],
            by=by,
        ),
        as_json,
        _render_opp,
    )


@opp_app.command("owner")
def opp_owner(
    opportunity_id: Annotated[str, typer.Argument(help="Opportunity id.", show_default=False)],
    member: Annotated[
        str, typer.Argument(help="The new owner (an active team member id).", show_default=False)
    ],
    as_json: JsonOption = False,
) -> None:
    """Give an open opportunity to another owner (a CSM or an account executive)."""
    platform = get_platform()
    emit(
        reassign(platform, definition_for(platform.settings.home), opportunity_id, member),
        as_json,
        _render_opp,
    )


@opp_app.command("open-renewals")
def opp_open_renewals(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Default today; a past date opens nothing.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Open renewal opportunities for lines ending within the lead time (as the daily run)."""
    platform = get_platform()
    d = parse_dates(as_of=as_of)
    run = open_renewals(
        platform, definition_for(platform.settings.home), d["as_of"] or platform.today()
    )

    def render(r: Any) -> None:
        if r.dry:
            console.print(f"as of {r.as_of} is in the past: a backfill opens no opportunity")
        else:
            console.print(
                f"opened {r.opened} renewal opportunities (lead {r.lead_days} days); "
                f"linked {r.linked} won renewals"
            )

    emit(run, as_json, render)


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def forecast_command(
    period: Annotated[
        Unit, typer.Option("--period", help="Totals per month or quarter.")
    ] = Unit.quarter,
    from_: Annotated[
        str | None,
        typer.Option("--from", help="First expected close date (default: this period's start)."),
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Last expected close date (default: a year on).")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The forecast's date (default today).")
    ] = None,
    quarters: Annotated[
        int,
        typer.Option(
            "--accuracy-quarters", min=0, max=20, help="Past quarters whose accuracy is shown."
        ),
    ] = 4,
    as_json: JsonOption = False,
    csv_file: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            help="Also write every renewal (with health, churn risk and plan status) to FILE.",
        ),
    ] = None,
) -> None:
    """The renewal forecast: renewals per month or quarter, weighted, and its accuracy."""
    platform = get_platform()
    d = parse_dates(from_=from_, to=to, as_of=as_of)
    today = d["as_of"] or platform.today()
    start = d["from_"] or (
        _quarter_start(today) if period == Unit.quarter else today.replace(day=1)
    )
    end = d["to"] or (start + timedelta(days=364))
    definition = definition_for(platform.settings.home)
    report = renewal_forecast(
        platform,
        definition,
        start,
        end,
        as_of=today,
        period=period.value,
        context=renewal_contexts(platform),
    )
    accuracy = forecast_accuracy(platform, definition, as_of=today, quarters=quarters)
    result = {**to_jsonable(report), "accuracy": to_jsonable(accuracy)}
    if csv_file is not None:
        csv_file.write_text(renewals_csv(report.renewals), encoding="utf-8")

    def render(_: Any) -> None:
        table = Table(
            title=f"Renewal forecast {report.start} → {report.end} (as of {report.as_of})"
        )
        for c in (
            "period",
            "renewals",
            "ARR",
            "weighted",
            "commit",
            "best case",
            "pipeline",
            "won",
            "lost",
        ):
            table.add_column(c, justify="right")
        for p in [*report.periods, report.totals]:
            cat = p.by_category
            table.add_row(
                p.period,
                str(p.renewals),
                _money(p.arr),
                _money(p.weighted_arr),
                _money(cat["commit"]),
                _money(cat["best_case"]),
                _money(cat["pipeline"]),
                _money(cat["won"]),
                _money(cat["lost"]),
            )
        console.print(table)
        acc = Table(title="Forecast accuracy (forecast at quarter start vs. renewed)")
        for c in ("quarter", "forecast", "won", "lost", "accuracy"):
            acc.add_column(c, justify="right")
        for r in accuracy:
            acc.add_row(
                r.period,
                _money(r.forecast_weighted),
                _money(r.actual_won),
                _money(r.actual_lost),
                "—" if r.accuracy is None else f"{r.accuracy:.0%}",
            )
        console.print(acc)

    emit(result, as_json, render)


def _format(unit: str, value: float | None) -> str:
    if value is None:
        return "—"
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "money":
        return f"{value:,.2f}"
    return f"{value:g}"


def framework_command(
    from_: Annotated[str, typer.Option("--from", help="First day of the period (YYYY-MM-DD).")],
    to: Annotated[str, typer.Option("--to", help="Last day of the period, inclusive.")],
    by: Annotated[By | None, typer.Option("--by", help="Also per segment or owner.")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Default: the period's end or today.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Seed 004's fifteen metrics by lifecycle category, each with its definition."""
    platform = get_platform()
    d = parse_dates(from_=from_, to=to, as_of=as_of)
    assert d["from_"] and d["to"]
    report = framework(platform, d["from_"], d["to"], by=by.value if by else None, as_of=d["as_of"])
    units = {m.id: m.unit for m in METRICS}
    names = {m.id: m.name["en"] for m in METRICS}

    def render(r: Any) -> None:
        table = Table(title=f"The fifteen metrics, {r.start} → {r.end} ({r.currency})")
        table.add_column("category")
        table.add_column("metric")
        table.add_column("all", justify="right")
        for g in r.groups:
            table.add_column(str(g.key), justify="right")
        for i, m in enumerate(r.overall):
            table.add_row(
                m.category,
                names[m.id],
                _format(units[m.id], m.value),
                *(_format(units[m.id], g.metrics[i].value) for g in r.groups),
            )
        console.print(table)
        for m in METRICS:
            console.print(f"[bold]{m.name['en']}[/]: {m.definition['en']}", highlight=False)

    emit(report, as_json, render)
