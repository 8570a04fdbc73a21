"""CLI commands of the API and users capability: serve, users, tokens, event sources."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from rich.table import Table

from kizuna.cli._common import JsonOption, console, emit, get_platform, load_settings, state
from kizuna.store.models import TeamRole

user_app = typer.Typer(help="Team members who log in (UI) or use the API.", no_args_is_help=True)
token_app = typer.Typer(
    help="Personal API tokens (shown once, stored hashed).", no_args_is_help=True
)
source_app = typer.Typer(help="Event sources and their write keys.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("serve")(serve)
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
    app.add_typer(source_app, name="source")


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    with_scheduler: Annotated[
        bool,
        typer.Option(
            "--scheduler",
            help="Also start 'kizuna scheduler' as a process of its own beside the workers.",
        ),
    ] = False,
    log_format: Annotated[
        str | None,
        typer.Option(help="Log lines as 'text' or 'json' (default: KIZUNA_LOG_FORMAT)."),
    ] = None,
) -> None:
    """Serve the REST API (OpenAPI at /openapi.json, docs at /docs) with uvicorn."""
    import subprocess
    import sys

    import uvicorn

    from kizuna.api.serving import HTTP_PROTOCOL
    from kizuna.ops.logs import logging_config
    from kizuna.ops.prom import fresh_multiprocess_dir

    get_platform()  # refuse to start on a store that is missing or not migrated
    if state.home is not None:  # workers build their settings from the environment
        os.environ["KIZUNA_HOME"] = str(state.home)
    if log_format is not None:
        if log_format not in ("text", "json"):
            raise typer.BadParameter("use 'text' or 'json'", param_hint="--log-format")
        os.environ["KIZUNA_LOG_FORMAT"] = log_format
    settings = load_settings()
    # Each worker counts requests in its own process; Prometheus sums them from here.
    fresh_multiprocess_dir(settings.home / "prometheus")
    console.print(
        f"Kizuna API on http://{host}:{port} ({workers} worker{'s' if workers > 1 else ''}), "
        f"store {settings.store_url.split('@')[-1]}"
    )
    scheduler = None
    if with_scheduler:  # its own process: a daily run never shares a worker's CPU or memory
        scheduler = subprocess.Popen([sys.executable, "-m", "kizuna", "scheduler"])
        console.print(f"scheduler process {scheduler.pid}: the daily run at {settings.daily_time}")
    try:
        uvicorn.run(
            "kizuna.server:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            log_config=logging_config(settings.log_format, log_level),
            http=HTTP_PROTOCOL,
        )
    finally:
        if scheduler is not None:
            scheduler.terminate()
            try:
                scheduler.wait(30)
            except subprocess.TimeoutExpired:
                scheduler.kill()


@user_app.command("add")
def user_add(
    member_id: Annotated[str, typer.Argument(help="Team member id, e.g. 'jdoe'.")],
    email: Annotated[str, typer.Option(help="Login e-mail.")],
    role: Annotated[
        TeamRole, typer.Option(help="admin, manager, csm, viewer or sales.")
    ] = TeamRole.CSM,
    name: Annotated[str | None, typer.Option(help="Display name (default: the id).")] = None,
    password: Annotated[
        str | None,
        typer.Option(
            help="Password (at least 10 characters); prompted when omitted.",
            envvar="KIZUNA_NEW_PASSWORD",
        ),
    ] = None,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="API tokens only, no UI login.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Add a user (a team member with a login)."""
    from kizuna.auth.users import add_user

    if password is None and not no_password:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    user = add_user(
        get_platform(),
        member_id=member_id,
        name=name,
        email=email,
        role=role,
        password=password,
    )
    emit(user, as_json, lambda u: console.print(f"added {u.role.value} {u.id} <{u.email}>"))


@user_app.command("password")
def user_password(
    member_id: Annotated[str, typer.Argument(help="Team member id.")],
    password: Annotated[
        str | None,
        typer.Option(
            help="New password (at least 10 characters); prompted when omitted.",
            envvar="KIZUNA_NEW_PASSWORD",
        ),
    ] = None,
) -> None:
    """Set a user's password; their open UI sessions end."""
    from kizuna.auth.users import set_password

    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    set_password(get_platform(), member_id, password)
    console.print(f"password of {member_id} changed; their sessions ended")


@user_app.command("deactivate")
def user_deactivate(
    member_id: Annotated[str, typer.Argument(help="Team member id.")],
    as_json: JsonOption = False,
) -> None:
    """Deactivate a user: their sessions end and their API tokens stop working."""
    from kizuna.auth.users import set_active

    user = set_active(get_platform(), member_id, False)
    emit(user, as_json, lambda u: console.print(f"deactivated {u.id}; their sessions ended"))


@user_app.command("activate")
def user_activate(
    member_id: Annotated[str, typer.Argument(help="Team member id.")],
    as_json: JsonOption = False,
) -> None:
    """Activate a user again (they log in anew)."""
    from kizuna.auth.users import set_active

    user = set_active(get_platform(), member_id, True)
    emit(user, as_json, lambda u: console.print(f"activated {u.id}"))


@user_app.command("list")
def user_list(as_json: JsonOption = False) -> None:
    """List team members and whether they can log in."""
    from kizuna.auth.users import list_users

    users = list_users(get_platform())

    def render(rows: list[Any]) -> None:
        table = Table()
        for column in ("id", "name", "email", "role", "active", "login"):
            table.add_column(column)
        for u in rows:
            table.add_row(
                u.id, u.name, u.email or "", u.role.value, str(u.active), str(u.has_password)
            )
        console.print(table)

    emit(users, as_json, render)


@token_app.command("create")
def token_create(
    member_id: Annotated[str, typer.Argument(help="Whose token.")],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "api",
    as_json: JsonOption = False,
) -> None:
    """Create a personal API token; the token is printed this once."""
    from kizuna.auth.tokens import create_token

    new = create_token(get_platform(), member_id, name)
    emit(
        new,
        as_json,
        lambda n: console.print(
            f"token {n.info.id} for {n.info.member_id} (store it now, it is not shown again):\n"
            f"{n.token}",
            highlight=False,
        ),
    )


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (not the secret).")],
    as_json: JsonOption = False,
) -> None:
    """Revoke an API token."""
    from kizuna.auth.tokens import revoke_token

    info = revoke_token(get_platform(), token_id)
    emit(info, as_json, lambda i: console.print(f"revoked token {i.id} of {i.member_id}"))


@token_app.command("list")
def token_list(
    member_id: Annotated[str | None, typer.Argument(help="Only this member's tokens.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List API tokens (never their secrets)."""
    from kizuna.auth.tokens import list_tokens

    rows = list_tokens(get_platform(), member_id)

    def render(items: list[Any]) -> None:
        table = Table()
        for column in ("id", "member", "name", "created", "last used", "revoked"):
            table.add_column(column)
        for t in items:
            table.add_row(
                t.id,
                t.member_id,
                t.name,
                f"{t.created_at:%Y-%m-%d %H:%M}",
                f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "",
                f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
            )
        console.print(table)

    emit(rows, as_json, render)


@source_app.command("add")
def source_add(
    name: Annotated[str, typer.Argument(help="The sending system, e.g. 'web-app'.")],
    as_json: JsonOption = False,
) -> None:
    """Add an event source; its write key is printed this once."""
    from kizuna.auth.sources import add_source

    new = add_source(get_platform(), name)
    emit(
        new,
        as_json,
        lambda n: console.print(
            f"source {n.source.name} ({n.source.id}); write key (not shown again):\n{n.write_key}",
            highlight=False,
        ),
    )


@source_app.command("list")
def source_list(as_json: JsonOption = False) -> None:
    """List event sources."""
    from kizuna.auth.sources import list_sources

    def render(rows: list[Any]) -> None:
        for s in rows:
            console.print(f"{s.id}  {s.name}  revoked={bool(s.revoked_at)}")

    emit(list_sources(get_platform()), as_json, render)


@source_app.command("revoke")
def source_revoke(
    source_id: Annotated[str, typer.Argument(help="The source's id.")],
    as_json: JsonOption = False,
) -> None:
    """Stop accepting a source's write key."""
    from kizuna.auth.sources import revoke_source

    source = revoke_source(get_platform(), source_id)
    emit(source, as_json, lambda s: console.print(f"revoked source {s.name} ({s.id})"))
