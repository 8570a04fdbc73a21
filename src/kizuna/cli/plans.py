"""CLI of success plans: ``kizuna plan ...``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from kizuna.cli._common import JsonOption, console, emit, get_platform, parse_dates
from kizuna.errors import InvalidInput, Problem
from kizuna.jsonable import to_jsonable
from kizuna.plans import (
    STATUS_LABELS,
    add_checkin,
    create_plan,
    export_yaml,
    import_plan_file,
    list_plans,
    load_templates,
    plan_of_account,
    plan_view,
    record_plan_status,
    set_plan_state,
)
from kizuna.plans.report import plan_data
from kizuna.store.plans_models import PlanState

plan_app = typer.Typer(
    help="Success plans (成果支援計画書): goals, roadmap, KPIs measured live, meetings.",
    no_args_is_help=True,
)
kpi_app = typer.Typer(help="KPIs of an account's plan.", no_args_is_help=True)
plan_app.add_typer(kpi_app, name="kpi")

STATUSES = ("on_track", "at_risk", "off_track", "achieved")
AsOfOption = Annotated[
    str | None, typer.Option("--as-of", help="Date (default: today).", show_default=False)
]


def register(app: typer.Typer) -> None:
    """Add ``kizuna plan`` to the root app."""
    app.add_typer(plan_app, name="plan")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


@plan_app.command("templates")
def templates(as_json: JsonOption = False) -> None:
    """The plan templates: packaged ones and the team's own (<home>/plan_templates)."""
    platform = get_platform(ready=False)
    found = list(load_templates(platform.settings).values())
    rows = [
        {
            "name": t.name,
            "label": t.label.model_dump(),
            "segments": t.segments,
            "months": t.months,
            "initiatives": len(t.initiatives),
            "kpis": 1 + sum(len(i.kpis) for i in t.initiatives),
            "source": t.source,
        }
        for t in found
    ]

    def render(items: list[dict[str, Any]]) -> None:
        table = Table(title="plan templates")
        for col in ("name", "label", "segments", "months", "KPIs", "file"):
            table.add_column(col)
        for r in items:
            table.add_row(
                r["name"],
                f"{r['label']['en']} / {r['label']['ja']}",
                ", ".join(r["segments"]) or "any",
                str(r["months"]),
                str(r["kpis"]),
                r["source"],
            )
        console.print(table)

    emit(rows, as_json, render)


@plan_app.command("create")
def create(
    account: Annotated[str, typer.Argument(help="Account id.")],
    template: Annotated[str, typer.Option("--template", help="Template name (plan templates).")],
    start: Annotated[
        str | None, typer.Option("--start", help="Start date (default: today).", show_default=False)
    ] = None,
    language: Annotated[str, typer.Option("--language", help="Plan language: en or ja.")] = "en",
    as_json: JsonOption = False,
) -> None:
    """Create the account's plan from a template (refused if one is active)."""
    platform = get_platform()
    day = parse_dates(start=start)["start"] or platform.today()
    plan_id = create_plan(platform, account, template, start=day, language=language)
    emit(
        {"plan_id": plan_id, "account_id": account, "template": template, "start": day},
        as_json,
        lambda r: console.print(f"created plan {r['plan_id']} for {account} from {template}"),
    )


@plan_app.command("show")
def show(
    account: Annotated[str, typer.Argument(help="Account id.")],
    as_of: AsOfOption = None,
    plan: Annotated[
        str | None, typer.Option("--plan", help="A plan id (default: the active one).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The account's plan as of a date: KPIs with progress and status, meetings, warnings."""
    platform = get_platform()
    day = parse_dates(as_of=as_of)["as_of"] or platform.today()
    view = plan_view(platform, plan_of_account(platform, account, plan), day)
    data = plan_data(view)

    def render(d: dict[str, Any]) -> None:
        label = STATUS_LABELS[d["status"]]["en"]
        console.print(
            f"[bold]{d['title']}[/] — {d['account_name']} ({d['account_id']}), plan {d['id']}, "
            f"{d['state']}, {d['start_date']} → {d['end_date']}"
        )
        console.print(f"status as of {d['as_of']}: [bold]{label}[/]")
        table = Table(title="KGI and KPIs")
        for col in ("key", "name", "baseline", "target", "current", "on", "progress", "expected"):
            table.add_column(col)
        table.add_column("status")
        kpis = ([d["kgi"]] if d["kgi"] else []) + [k for i in d["initiatives"] for k in i["kpis"]]
        for k in kpis:
            table.add_row(
                ("KGI " if k["is_kgi"] else "") + k["key"],
                k["name"],
                f"{k['baseline']:g}",
                f"{k['target']:g}",
                "—" if k["current"] is None else f"{k['current']:g}",
                str(k["measured_on"] or "—"),
                _pct(k["progress"]),
                _pct(k["expected_progress"]),
                STATUS_LABELS[k["status"]]["en"],
            )
        console.print(table)
        console.print("roadmap (position, proposed rank, impact × difficulty):")
        for i in d["initiatives"]:
            console.print(
                f"  {i['position']}. {i['name']} [{i['key']}] — proposed {i['proposed_rank']}, "
                f"impact {i['impact']}, difficulty {i['difficulty']}"
            )
        for m in d["milestones"]:
            flag = " [red]overdue[/]" if m["overdue"] else ""
            console.print(f"  milestone {m['due_date']} {m['name']} ({m['state']}){flag}")
        for s in d["meetings"]:
            flag = " [red]missed[/]" if s["missed"] else ""
            console.print(f"  meeting {s['name']} ({s['cadence']}): next {s['next_date']}{flag}")
        for w in d["warnings"]:
            console.print(f"  [yellow]warning[/] {w['kind']}: {w['message']}")

    emit(data, as_json, render)


@plan_app.command("list")
def list_command(
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only active plans of this status: " + "|".join(STATUSES)),
    ] = None,
    include_all: Annotated[bool, typer.Option("--all", help="Also closed plans.")] = False,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """Plans with their status, owner, next meeting and KPIs off track."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(
            "bad --status",
            [Problem(f"use one of {', '.join(STATUSES)}", where="--status", field="status")],
        )
    platform = get_platform()
    day = parse_dates(as_of=as_of)["as_of"] or platform.today()
    rows = list_plans(platform, day, status=status, include_closed=include_all)

    def render(items: list[Any]) -> None:
        table = Table(title=f"success plans as of {day}")
        for col in ("account", "plan", "state", "status", "owner", "next meeting", "off track"):
            table.add_column(col)
        for p in items:
            table.add_row(
                f"{p.account_name} ({p.account_id})",
                p.plan_id,
                p.state,
                STATUS_LABELS[p.status]["en"] if p.status else "—",
                p.owner_name or "—",
                str(p.next_meeting or "—"),
                ", ".join(p.kpis_off_track),
            )
        console.print(table)

    emit(rows, as_json, render)


@kpi_app.command("checkin")
def checkin(
    account: Annotated[str, typer.Argument(help="Account id.")],
    kpi: Annotated[str, typer.Argument(help="KPI key (or id, or exact name).")],
    value: Annotated[float, typer.Option("--value", help="The measured value.")],
    date_: Annotated[str, typer.Option("--date", help="Date measured (YYYY-MM-DD).")],
    by: Annotated[str, typer.Option("--by", help="Who measured it.")],
    note: Annotated[str | None, typer.Option("--note", help="A note.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Record a manual check-in of a KPI of the account's active plan."""
    platform = get_platform()
    day = parse_dates(date=date_)["date"]
    assert day is not None
    plan = plan_of_account(platform, account)
    row = add_checkin(platform, plan.id, kpi, value=value, day=day, by=by, note=note)
    emit(
        {"id": row.id, "plan_id": plan.id, "kpi": kpi, "value": row.value, "date": day, "by": by},
        as_json,
        lambda r: console.print(f"recorded {kpi} = {value:g} on {day} by {by} (plan {plan.id})"),
    )


@plan_app.command("export")
def export(
    account: Annotated[str, typer.Argument(help="Account id.")],
    out: Annotated[Path, typer.Option("--out", help="The YAML file to write.")],
    plan: Annotated[
        str | None, typer.Option("--plan", help="A plan id (default: the active one).")
    ] = None,
) -> None:
    """Write the account's plan as YAML (import gives the identical plan back)."""
    platform = get_platform()
    chosen = plan_of_account(platform, account, plan)
    out.write_text(export_yaml(platform, chosen.id), encoding="utf-8")
    console.print(f"wrote plan {chosen.id} to {out}")


@plan_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A plan YAML file (as plan export writes).")],
) -> None:
    """Create or replace a plan from YAML; a bad file changes nothing."""
    platform = get_platform()
    plan_id = import_plan_file(platform, file)
    console.print(f"imported plan {plan_id} from {file}")


@plan_app.command("status")
def status_command(
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """Store every active plan's status as of a date (the daily run does this)."""
    platform = get_platform()
    day = parse_dates(as_of=as_of)["as_of"] or platform.today()
    run = record_plan_status(platform, day)
    emit(
        run,
        as_json,
        lambda r: console.print(
            f"plan status as of {day}: {r.plans} plans {to_jsonable(r.by_status)}; "
            f"achieved {len(r.achieved)}, next plans proposed {len(r.proposed)}"
        ),
    )


@plan_app.command("activate")
def activate(
    account: Annotated[str, typer.Argument(help="Account id.")],
    plan: Annotated[str, typer.Option("--plan", help="The proposed plan's id.")],
) -> None:
    """Make a proposed plan the account's active plan."""
    platform = get_platform()
    chosen = plan_of_account(platform, account, plan)
    set_plan_state(platform, chosen.id, PlanState.ACTIVE, platform.today())
    console.print(f"plan {chosen.id} is now active")


@plan_app.command("close")
def close(
    account: Annotated[str, typer.Argument(help="Account id.")],
    plan: Annotated[
        str | None, typer.Option("--plan", help="A plan id (default: the active one).")
    ] = None,
) -> None:
    """Close the account's plan (its history is kept)."""
    platform = get_platform()
    chosen = plan_of_account(platform, account, plan)
    set_plan_state(platform, chosen.id, PlanState.CLOSED, platform.today())
    console.print(f"plan {chosen.id} closed")
