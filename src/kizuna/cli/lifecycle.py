"""CLI of the lifecycle capability: ``kizuna lifecycle ...`` and ``kizuna onboarding ...``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from kizuna.cli._common import JsonOption, console, emit, get_platform
from kizuna.errors import InvalidInput, Problem
from kizuna.lifecycle import (
    AccountLifecycle,
    ComputeResult,
    OnboardingReport,
    complete_milestone,
    compute_lifecycle,
    definition_for,
    onboarding_report,
    show_account,
)
from kizuna.platform import Platform

lifecycle_app = typer.Typer(
    help="Lifecycle stages and onboarding milestones of accounts.", no_args_is_help=True
)
onboarding_app = typer.Typer(
    help="Onboarding outcomes: time to value, activation and on-time rates.",
    no_args_is_help=True,
)

DefinitionsOption = Annotated[
    Path | None,
    typer.Option(
        "--definitions",
        help="Lifecycle YAML (default: <home>/lifecycle.yaml if present, else the built-in one).",
        show_default=False,
    ),
]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(lifecycle_app, name="lifecycle")
    app.add_typer(onboarding_app, name="onboarding")


def _date(value: str | None, option: str, platform: Platform | None = None) -> date:
    if value is None:
        assert platform is not None
        return platform.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{option} must be a date",
            [Problem(f"{value!r} is not a YYYY-MM-DD date", where=option, field=option)],
        ) from None


@lifecycle_app.command("compute")
def compute(
    as_of: Annotated[str, typer.Option("--as-of", help="Last day to evaluate (YYYY-MM-DD).")],
    from_date: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="First day to re-evaluate (default: the day after the previous run).",
            show_default=False,
        ),
    ] = None,
    definitions: DefinitionsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate stages and milestones through a date and record the transitions."""
    platform = get_platform()
    definition = definition_for(platform.settings.home, definitions)
    result = compute_lifecycle(
        platform,
        definition,
        _date(as_of, "--as-of"),
        from_date=_date(from_date, "--from") if from_date else None,
    )

    def render(r: ComputeResult) -> None:
        console.print(
            f"lifecycle as of {r.as_of}: {r.accounts} accounts, "
            f"{r.transitions_written} transitions written "
            f"(from {r.from_date or 'each contract start'})"
        )
        for stage, count in r.stages.items():
            console.print(f"  {stage:<16} {count:>6}")

    emit(result, as_json, render)


@lifecycle_app.command("show")
def show(
    account: Annotated[str, typer.Argument(help="Account id.")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Date (default: today).", show_default=False)
    ] = None,
    definitions: DefinitionsOption = None,
    as_json: JsonOption = False,
) -> None:
    """An account's stage, since when, its history and its onboarding milestones."""
    platform = get_platform()
    definition = definition_for(platform.settings.home, definitions)
    result = show_account(platform, definition, account, _date(as_of, "--as-of", platform))

    def render(r: AccountLifecycle) -> None:
        stage = (
            f"{r.stage_name} since {r.since} ({r.days_in_stage} days)"
            if r.stage
            else "no stage (run 'kizuna lifecycle compute')"
        )
        console.print(f"[bold]{r.name}[/] ({r.account_id}, {r.segment}) as of {r.as_of}: {stage}")
        if r.reason:
            console.print(f"  because {r.reason}")
        if r.onboarding_tracked is False:
            console.print(
                "  onboarding not tracked: a customer since before tracking began "
                "(counts as onboarded)"
            )
        table = Table(title="milestones")
        for col in ("milestone", "owner", "due", "done", "status"):
            table.add_column(col)
        for m in r.milestones:
            table.add_row(m.name, m.owner, str(m.due), str(m.done or ""), m.status)
        if r.milestones:
            console.print(table)
        for t in r.history:
            console.print(f"  {t.date}  {t.from_stage or '-'} → {t.to_stage}")

    emit(result, as_json, render)


@lifecycle_app.command("complete")
def complete(
    account: Annotated[str, typer.Argument(help="Account id.")],
    milestone: Annotated[str, typer.Argument(help="Milestone id, e.g. kickoff_held.")],
    by: Annotated[str, typer.Option("--by", help="Who completed it.")],
    on: Annotated[
        str | None,
        typer.Option("--on", help="Day it was completed (default: today).", show_default=False),
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="A note.")] = None,
    definitions: DefinitionsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Mark an onboarding milestone done by hand (kept across recomputes)."""
    platform = get_platform()
    definition = definition_for(platform.settings.home, definitions)
    row = complete_milestone(
        platform,
        definition,
        account,
        milestone,
        completed_on=_date(on, "--on", platform),
        completed_by=by,
        note=note,
    )
    result: dict[str, Any] = {
        "account_id": row.account_id,
        "milestone": row.milestone_id,
        "completed_on": row.completed_on,
        "completed_by": row.completed_by,
        "note": row.note,
    }
    emit(
        result,
        as_json,
        lambda r: console.print(
            f"{r['milestone']} of {r['account_id']} done on {r['completed_on']} "
            f"by {r['completed_by']}"
        ),
    )


@lifecycle_app.command("check")
def check(
    path: Annotated[Path | None, typer.Argument(help="Lifecycle YAML to validate.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Validate a lifecycle definition file (every problem is reported)."""
    from kizuna.lifecycle import load_definition

    definition = load_definition(path)
    result = {
        "source": definition.source,
        "stages": [s.id for s in definition.stages],
        "templates": [list(t.segments) for t in definition.onboarding.templates],
    }
    emit(result, as_json, lambda r: console.print(f"{r['source']}: valid"))


@onboarding_app.command("report")
def report(
    from_date: Annotated[str, typer.Option("--from", help="First contract start of the cohort.")],
    to_date: Annotated[str, typer.Option("--to", help="Last contract start of the cohort.")],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Measure outcomes on this date (default: today).", show_default=False
        ),
    ] = None,
    accounts: Annotated[
        bool, typer.Option("--accounts", help="Include one row per account.")
    ] = False,
    definitions: DefinitionsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Time to value (median, quartiles), activation rate and on-time rate, by segment."""
    platform = get_platform()
    definition = definition_for(platform.settings.home, definitions)
    result = onboarding_report(
        platform,
        definition,
        _date(from_date, "--from"),
        _date(to_date, "--to"),
        _date(as_of, "--as-of", platform),
    )
    out: Any = result
    if not accounts:
        out = {k: getattr(result, k) for k in result.__dataclass_fields__ if k != "accounts"}

    def render(_: Any) -> None:
        r: OnboardingReport = result
        table = Table(title=f"onboarding of contracts started {r.start}..{r.end}, as of {r.as_of}")
        for col in (
            "group",
            "accounts",
            "TTV median",
            "TTV q1–q3",
            "not reached",
            "activation",
            "on time",
        ):
            table.add_column(col)

        def pct(rate: float | None) -> str:
            return "–" if rate is None else f"{rate:.0%}"

        groups = [("all", r.overall), *r.by_segment.items()]
        for name, s in groups:
            ttv = s.time_to_value
            table.add_row(
                name,
                str(s.accounts),
                "–" if ttv.median is None else f"{ttv.median:g} d",
                "–" if ttv.q1 is None else f"{ttv.q1:g}–{ttv.q3:g} d",
                str(ttv.not_reached),
                f"{pct(s.activation.rate)} of {s.activation.eligible}",
                f"{pct(s.on_time.rate)} of {s.on_time.eligible}",
            )
        console.print(table)
        if r.untracked_accounts:
            console.print(
                f"{r.untracked_accounts} accounts of the period were customers before "
                f"tracking began on {r.tracking_started}: not counted"
            )

    emit(out, as_json, render)
