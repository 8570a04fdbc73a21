"""CLI of the actions capability: ``kizuna rules``, ``cta``, ``task`` and ``outbox``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from kizuna.actions import (
    CtaView,
    RuleRun,
    close_cta,
    get_cta,
    list_ctas,
    load_rules,
    open_cta,
    reassign_task,
    rules_for,
    run_rules,
    set_task_status,
    snooze_cta,
    start_cta,
)
from kizuna.actions.outbox import list_outbox, retry_outbox
from kizuna.cli._common import JsonOption, console, emit, get_platform, parse_dates

rules_app = typer.Typer(
    help="Rules that open calls to action: check and run.", no_args_is_help=True
)
cta_app = typer.Typer(
    help="Calls to action: list, show, open, close, snooze.", no_args_is_help=True
)
task_app = typer.Typer(help="Playbook tasks of a CTA: done, skip, reassign.", no_args_is_help=True)
outbox_app = typer.Typer(help="Notifications waiting or failed: list, retry.", no_args_is_help=True)

RulesOption = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        help="Rules YAML (default: <home>/rules.yaml if present, else the built-in set).",
        show_default=False,
    ),
]
ByOption = Annotated[str, typer.Option("--by", help="Who does it (a team member id).")]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(rules_app, name="rules")
    app.add_typer(cta_app, name="cta")
    app.add_typer(task_app, name="task")
    app.add_typer(outbox_app, name="outbox")


@rules_app.command("check")
def check(
    path: Annotated[Path | None, typer.Argument(help="Rules YAML to validate.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Validate a rules file (every problem is reported with its file and path)."""
    ruleset = load_rules(path) if path is not None else rules_for(_home())
    result = {
        "source": ruleset.source,
        "rules": [r.id for r in ruleset.rules],
        "playbooks": [p.id for p in ruleset.playbooks],
        "tiers": [t.id for t in ruleset.coverage.tiers],
    }
    emit(
        result,
        as_json,
        lambda r: console.print(
            f"{r['source']}: valid — {len(r['rules'])} rules, {len(r['playbooks'])} playbooks, "
            f"{len(r['tiers'])} coverage tiers"
        ),
    )


def _home() -> Path:
    from kizuna.cli._common import load_settings

    return load_settings().home


@rules_app.command("run")
def run(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Date (YYYY-MM-DD); default today. A past date runs dry."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Show what would open, update and close; change nothing."),
    ] = False,
    rules: RulesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the rules: open, update, close and queue CTAs (dry for a past date)."""
    from kizuna.daily.rule_facts import rule_facts_from_snapshot

    platform = get_platform()
    day = parse_dates(as_of=as_of)["as_of"]
    # the daily run's snapshot of the date already holds ARR, renewals, overdue milestones
    handed = rule_facts_from_snapshot(platform, day or platform.today())
    ids, given = handed if handed is not None else (None, None)
    result = run_rules(
        platform, day, dry_run=dry_run, ruleset=rules_for(platform.settings.home, rules),
        given=given, ids=ids,
    )  # fmt: skip

    def render(_: Any) -> None:
        r: RuleRun = result
        mode = "past date, dry: nothing opened or sent" if r.past else ("dry run" if r.dry else "")
        console.print(
            f"rules as of {r.as_of} over {r.accounts} accounts"
            + (f" ({mode})" if mode else "")
            + f" in {r.seconds:.2f} s"
        )
        table = Table()
        for col in ("rule", "fired"):
            table.add_column(col)
        for rule_id, n in r.fired.items():
            table.add_row(rule_id, str(n))
        console.print(table)
        d = r.to_dict()
        verb = "would have " if r.dry else ""
        console.print(
            f"{verb}opened {d['opened']}, released from the queue {d['released']}, "
            f"updated {d['updated']}, woke from snooze {d['woke']}, closed {d['closed']}, "
            f"queued {d['queued']} (still queued {d['still_queued']}); "
            f"{d['cooling']} in their cooldown after a close"
        )
        per_owner = dict(d["opened_per_owner"])
        digital = per_owner.pop("digital", 0)
        if per_owner:
            counts = sorted(per_owner.values())
            console.print(
                f"new CTAs per owner: {len(per_owner)} owners, median "
                f"{counts[len(counts) // 2]}, max {counts[-1]}"
                + (f"; {digital} digital (tech touch) actions" if digital else "")
            )

    emit(result.to_dict(), as_json, render)


@rules_app.command("report")
def report(
    as_json: JsonOption = False,
    by_playbook: Annotated[
        bool, typer.Option("--playbooks", help="With --json: the report by playbook instead.")
    ] = False,
) -> None:
    """Did it work? Per rule: CTAs opened, how they closed, health 30/90 days later and
    customers kept, next to accounts whose CTA was queued or snoozed; then by playbook.
    ``--json`` prints the per-rule list as before (``--playbooks``: the per-playbook list)."""
    from kizuna.actions.report import playbook_report, rule_report

    platform = get_platform()
    rows = rule_report(platform)
    playbooks = playbook_report(platform)

    def render(_: Any) -> None:
        def change(v: float | None) -> str:
            return "—" if v is None else f"{v:+.1f}"

        def share(v: float | None) -> str:
            return "—" if v is None else f"{v:.0%}"

        table = Table(title="did it work? (acted on / queued or snoozed)")
        for col in ("rule", "opened", "closed", "days to close", "health +30 d", "health +90 d",
                    "customer +90 d"):  # fmt: skip
            table.add_column(col)
        for r in rows:
            table.add_row(
                r.rule_id,
                str(r.opened),
                ", ".join(f"{k} {v}" for k, v in sorted(r.closed.items())) or "—",
                "—" if r.days_to_close is None else f"{r.days_to_close:.1f}",
                *(
                    f"{change(r.acted.health_change.get(d))} / "
                    f"{change(r.not_acted.health_change.get(d))}"
                    for d in (30, 90)
                ),
                f"{share(r.acted.still_customer_90d)} / {share(r.not_acted.still_customer_90d)}",
            )
        console.print(table)
        by_playbook = Table(title="by playbook")
        for col in ("playbook", "opened", "active", "won", "lost", "resolved", "days to close"):
            by_playbook.add_column(col)
        for p in playbooks:
            by_playbook.add_row(
                p.playbook_id, str(p.opened), str(p.active), str(p.closed_won),
                str(p.closed_lost), str(p.resolved),
                "—" if p.days_to_close is None else f"{p.days_to_close:.1f}",
            )  # fmt: skip
        console.print(by_playbook)

    emit(playbooks if by_playbook else rows, as_json, render)


def _cta_table(ctas: list[CtaView]) -> Table:
    table = Table()
    for col in ("id", "priority", "due", "status", "type", "account", "owner", "title"):
        table.add_column(col)
    for c in ctas:
        table.add_row(
            str(c.id), c.priority, str(c.due_date or ""), c.status, c.type,
            f"{c.account_name} ({c.account_id})", c.owner_id or c.team_id or c.assignee_kind,
            c.title,
        )  # fmt: skip
    return table


@cta_app.command("list")
def list_command(
    owner: Annotated[str | None, typer.Option("--owner", help="Owner (team member id).")] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="open, in_progress, snoozed, queued, closed_won, closed_lost, or active.",
        ),
    ] = None,
    account: Annotated[str | None, typer.Option("--account", help="Account id.")] = None,
    cta_type: Annotated[str | None, typer.Option("--type", help="CTA type.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100000)] = 200,
    as_json: JsonOption = False,
) -> None:
    """CTAs by priority then due date."""
    platform = get_platform()
    ctas = list_ctas(
        platform, owner=owner, status=status, account_id=account, type=cta_type, limit=limit
    )
    emit(ctas, as_json, lambda r: console.print(_cta_table(r)))


def _render_cta(c: CtaView) -> None:
    console.print(f"[bold]CTA {c.id}[/]: {c.title} — {c.account_name} ({c.account_id})")
    console.print(
        f"  {c.type}, {c.priority} priority, {c.status}, due {c.due_date}, "
        f"owner {c.owner_id or c.team_id or c.assignee_kind}"
        + (f", tier {c.tier}" if c.tier else "")
    )
    console.print(f"  why: {c.reason}")
    if c.snoozed_until:
        console.print(f"  snoozed until {c.snoozed_until}: {c.snooze_reason}")
    if c.outcome:
        console.print(f"  outcome: {c.outcome}")
    for t in c.tasks:
        mark = {"done": "x", "skipped": "-", "open": " "}[t.status]
        console.print(f"  [{mark}] task {t.id}: {t.title} (due {t.due_date}, {t.owner_id or '-'})")
    if c.all_tasks_finished and c.status not in ("closed_won", "closed_lost"):
        console.print(f"  every task is finished: close it with 'kizuna cta close {c.id} --by ...'")


@cta_app.command("show")
def show(
    cta_id: Annotated[int, typer.Argument(help="CTA id.")],
    as_json: JsonOption = False,
) -> None:
    """One CTA: why it was opened, its facts and its playbook tasks."""
    emit(get_cta(get_platform(), cta_id), as_json, _render_cta)


@cta_app.command("open")
def open_command(
    account: Annotated[str, typer.Argument(help="Account id.")],
    title: Annotated[str, typer.Option("--title", help="What needs doing.")],
    by: ByOption,
    cta_type: Annotated[
        str, typer.Option("--type", help="risk, expansion, lifecycle, objective, activity.")
    ] = "activity",
    priority: Annotated[
        str, typer.Option("--priority", help="low, medium, high, urgent.")
    ] = "medium",
    due: Annotated[str | None, typer.Option("--due", help="Due date (default: in 7 days).")] = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="Owner (default: the account's).")
    ] = None,
    playbook: Annotated[str | None, typer.Option("--playbook", help="Playbook id.")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Open a CTA by hand."""
    platform = get_platform()
    cta = open_cta(
        platform,
        account,
        type=cta_type,
        title=title,
        actor=by,
        priority=priority,
        reason=reason,
        due_date=parse_dates(due=due)["due"],
        owner_id=owner,
        playbook=playbook,
        ruleset=rules_for(platform.settings.home),
    )
    emit(cta, as_json, _render_cta)


@cta_app.command("close")
def close(
    cta_id: Annotated[int, typer.Argument(help="CTA id.")],
    by: ByOption,
    outcome: Annotated[str, typer.Option("--outcome", help="won or lost.")] = "won",
    note: Annotated[str | None, typer.Option("--note", help="How it ended.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Close a CTA as won or lost."""
    emit(
        close_cta(get_platform(), cta_id, outcome=outcome, actor=by, note=note),
        as_json,
        _render_cta,
    )


@cta_app.command("snooze")
def snooze(
    cta_id: Annotated[int, typer.Argument(help="CTA id.")],
    until: Annotated[str, typer.Option("--until", help="Quiet until this date (YYYY-MM-DD).")],
    reason: Annotated[str, typer.Option("--reason", help="Why it can wait.")],
    by: ByOption,
    as_json: JsonOption = False,
) -> None:
    """Snooze a CTA until a date; the rules keep it quiet until then."""
    day = parse_dates(until=until)["until"]
    assert day is not None
    emit(
        snooze_cta(get_platform(), cta_id, until=day, reason=reason, actor=by), as_json, _render_cta
    )


@cta_app.command("start")
def start(
    cta_id: Annotated[int, typer.Argument(help="CTA id.")],
    by: ByOption,
    as_json: JsonOption = False,
) -> None:
    """Mark a CTA in progress."""
    emit(start_cta(get_platform(), cta_id, actor=by), as_json, _render_cta)


def _task_command(status: str) -> Any:
    def command(
        task_id: Annotated[int, typer.Argument(help="Task id (see 'kizuna cta show').")],
        by: ByOption,
        note: Annotated[str | None, typer.Option("--note", help="A note.")] = None,
        as_json: JsonOption = False,
    ) -> None:
        cta = set_task_status(get_platform(), task_id, status=status, actor=by, note=note)
        emit(cta, as_json, _render_cta)

    return command


task_app.command("done", help="Mark a task done.")(_task_command("done"))
task_app.command("skip", help="Skip a task.")(_task_command("skipped"))
task_app.command("reopen", help="Open a done or skipped task again.")(_task_command("open"))


@task_app.command("reassign")
def reassign(
    task_id: Annotated[int, typer.Argument(help="Task id.")],
    owner: Annotated[str, typer.Option("--to", help="New owner (team member id).")],
    by: ByOption,
    as_json: JsonOption = False,
) -> None:
    """Give a task to another team member."""
    emit(reassign_task(get_platform(), task_id, owner_id=owner, actor=by), as_json, _render_cta)


@outbox_app.command("list")
def outbox_list(
    status: Annotated[
        str | None, typer.Option("--status", help="pending, sent, failed or cancelled.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Notifications in the outbox, newest first, with their attempts and last error."""
    entries = list_outbox(get_platform(), status)

    def render(rows: Any) -> None:
        table = Table()
        for col in ("id", "delivery id", "channel", "target", "status", "attempts", "last error"):
            table.add_column(col)
        for e in rows:
            table.add_row(str(e.id), e.delivery_id, e.channel, e.target, e.status,
                          str(e.attempts), e.last_error or "")  # fmt: skip
        console.print(table)

    emit(entries, as_json, render)


@outbox_app.command("send")
def outbox_send(
    digests: Annotated[
        bool, typer.Option("--digests", help="First queue today's digest e-mail per CSM.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Deliver the notifications that are due (webhooks, Slack, e-mail), with retries."""
    from kizuna.actions.notify import deliver_pending, enqueue_digests

    platform = get_platform()
    queued = enqueue_digests(platform, platform.today()) if digests else 0
    report = deliver_pending(platform)
    result = {"digests_queued": queued, "sent": report.sent, "retried": report.retried,
              "failed": report.failed, "cancelled": report.cancelled}  # fmt: skip
    emit(
        result,
        as_json,
        lambda r: console.print(
            f"sent {r['sent']}, to retry {r['retried']}, failed {r['failed']}, "
            f"cancelled (opted out) {r['cancelled']}"
            + (f" ({r['digests_queued']} digests queued)" if r["digests_queued"] else "")
        ),
    )


@outbox_app.command("retry")
def outbox_retry(
    message_id: Annotated[
        int | None, typer.Argument(help="One message (default: every failed one).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Queue failed notifications again."""
    count = retry_outbox(get_platform(), message_id)
    emit(
        {"requeued": count},
        as_json,
        lambda r: console.print(f"{r['requeued']} message(s) queued again"),
    )
