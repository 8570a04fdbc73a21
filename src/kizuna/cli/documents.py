"""CLI of customer-facing documents: ``kizuna report ...`` and ``kizuna share ...``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kizuna.cli._common import JsonOption, console, emit, err_console, get_platform, parse_dates
from kizuna.documents import check_request, render
from kizuna.documents.batch import batch_accounts, render_ebrs
from kizuna.documents.sharing import create_share, list_shares, revoke_share
from kizuna.errors import InvalidInput, Problem

report_app = typer.Typer(
    help="Customer documents: the success plan, a meeting report, the EBR (HTML, PDF, PPTX).",
    no_args_is_help=True,
)
share_app = typer.Typer(help="Read-only links for the customer.", no_args_is_help=True)

AsOf = Annotated[
    str | None, typer.Option("--as-of", help="Date (default: today).", show_default=False)
]
Format = Annotated[str, typer.Option("--format", help="html, pdf or pptx.")]
Lang = Annotated[
    str | None,
    typer.Option("--lang", help="ja or en (default: the plan's language).", show_default=False),
]
Internal = Annotated[
    bool, typer.Option("--internal", help="The internal edition (adds health and notes).")
]


def register(app: typer.Typer) -> None:
    """Add ``kizuna report`` and ``kizuna share`` to the root app."""
    app.add_typer(report_app, name="report")
    app.add_typer(share_app, name="share")


def _one(
    kind: str,
    account: str,
    as_of: str | None,
    fmt: str,
    lang: str | None,
    internal: bool,
    out: Path,
) -> None:
    check_request(kind, fmt, lang)
    day = parse_dates(as_of=as_of)["as_of"]
    platform = get_platform()
    doc = render(platform, kind, account, fmt=fmt, as_of=day, lang=lang, internal=internal)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(doc.content)
    console.print(
        f"wrote {out} ({len(doc.content):,} bytes, {doc.language}, "
        f"{'internal' if internal else 'customer'} edition)"
    )


OutFile = Annotated[Path, typer.Option("--out", help="File to write.")]


@report_app.command("plan")
def report_plan(
    account: str,
    out: OutFile,
    as_of: AsOf = None,
    fmt: Format = "pdf",
    lang: Lang = None,
    internal: Internal = False,
) -> None:
    """The success plan document: every section, the matrix, the KPI table and charts."""
    _one("plan", account, as_of, fmt, lang, internal, out)


@report_app.command("meeting")
def report_meeting(
    account: str,
    out: OutFile,
    as_of: AsOf = None,
    fmt: Format = "pdf",
    lang: Lang = None,
    internal: Internal = False,
) -> None:
    """A meeting report for the meeting on --as-of: what changed since the previous one."""
    _one("meeting", account, as_of, fmt, lang, internal, out)


@report_app.command("ebr")
def report_ebr(
    out: Annotated[Path, typer.Option("--out", help="File to write (a folder with --all).")],
    account: Annotated[str | None, typer.Argument(show_default=False)] = None,
    as_of: AsOf = None,
    fmt: Format = "pdf",
    lang: Lang = None,
    internal: Internal = False,
    all_: Annotated[bool, typer.Option("--all", help="Every account with an active plan.")] = False,
    segment: Annotated[
        str | None, typer.Option("--segment", help="With --all: only this segment.")
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", help="With --all: processes to render in (0: one per core).")
    ] = 0,
    owner: Annotated[
        str | None, typer.Option("--owner", help="With --all: only this owner's accounts.")
    ] = None,
) -> None:
    """The executive business review: value against the KPIs, adoption, support, renewal."""
    if not all_:
        if account is None:
            raise InvalidInput(
                "which account?", [Problem("give ACCOUNT or --all", field="account")]
            )
        _one("ebr", account, as_of, fmt, lang, internal, out)
        return
    if account is not None:
        raise InvalidInput(
            "ACCOUNT and --all", [Problem("give ACCOUNT or --all, not both", field="account")]
        )
    check_request("ebr", fmt, lang)
    platform = get_platform()
    day = parse_dates(as_of=as_of)["as_of"] or platform.today()
    accounts = batch_accounts(platform, day, segment=segment, owner=owner)
    with Progress(
        TextColumn("EBRs"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
    ) as bar:
        task = bar.add_task("ebr", total=len(accounts))
        result = render_ebrs(
            platform,
            day,
            out,
            accounts=accounts,
            fmt=fmt,
            lang=lang,
            internal=internal,
            progress=lambda _a, _ok: bar.advance(task),
            jobs=jobs,
        )
    console.print(f"wrote {len(result.written)} EBRs to {out}")
    if result.failed:
        table = Table(title=f"{len(result.failed)} failed")
        table.add_column("account")
        table.add_column("error")
        for account_id, message in result.failed:
            table.add_row(account_id, escape(message))
        err_console.print(table)
        raise typer.Exit(1)


@share_app.command("create")
def share_create(
    account: str,
    days: Annotated[int, typer.Option("--days", help="Days the link stays valid.")] = 30,
    contact: Annotated[str | None, typer.Option("--contact", help="The contact it is for.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a link to the account's read-only page; prints it (shown only once)."""
    platform = get_platform()
    new = create_share(platform, account, days, contact_id=contact, created_by="cli")
    emit(
        {"id": new.info.id, "url": new.url, "expires_at": new.info.expires_at},
        as_json,
        lambda r: console.print(
            f"{r['url']}\n(id {r['id']}, expires {r['expires_at']:%Y-%m-%d %H:%M} UTC)",
            soft_wrap=True,
            highlight=False,
        ),
    )


@share_app.command("list")
def share_list(
    account: Annotated[str | None, typer.Argument(show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Links (newest first), active or not."""
    rows = list_shares(get_platform(), account_id=account)

    def show(items: list[object]) -> None:
        table = Table(title="share links")
        for col in ("id", "account", "contact", "created", "expires", "state"):
            table.add_column(col)
        for r in rows:
            state = "revoked" if r.revoked_at else ("active" if r.active else "expired")
            table.add_row(
                r.id,
                r.account_id,
                r.contact_id or "",
                f"{r.created_at:%Y-%m-%d}",
                f"{r.expires_at:%Y-%m-%d %H:%M}",
                state,
            )
        console.print(table)

    emit(rows, as_json, show)


@share_app.command("revoke")
def share_revoke(share_id: str) -> None:
    """Revoke a link: the next visit is refused."""
    info = revoke_share(get_platform(), share_id, actor="cli")
    console.print(f"revoked {info.id} ({info.account_id})")
