"""Store lifecycle commands: init, db upgrade, db status, info."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from kizuna import __version__
from kizuna.cli._common import JsonOption, console, emit, get_platform
from kizuna.errors import Conflict

db_app = typer.Typer(help="Manage the operational store's schema.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("info")(info)
    app.add_typer(db_app, name="db")


def init(
    force: bool = typer.Option(
        False, "--force", help="Migrate an existing store to head instead of refusing."
    ),
    as_json: JsonOption = False,
) -> None:
    """Create a fresh store (SQLite file in the data folder by default) and the lake folder."""
    platform = get_platform(ready=False)
    current = platform.store.current_revision()
    if current is not None and not force:
        raise Conflict(
            f"a store already exists at {platform.store.safe_url} (migration {current}); "
            "use 'kizuna db upgrade' to migrate it, or another --home"
        )
    platform.store.upgrade()
    platform.settings.lake_dir.mkdir(parents=True, exist_ok=True)
    result = {
        "store": platform.store.safe_url,
        "lake": str(platform.settings.lake_dir),
        "revision": platform.store.current_revision(),
    }
    emit(
        result,
        as_json,
        lambda r: console.print(
            f"[green]initialised[/] store {r['store']} "
            f"(migration {r['revision']}), lake {r['lake']}"
        ),
    )


@db_app.command("upgrade")
def db_upgrade(
    revision: str = typer.Argument("head", help="Target migration."),
    as_json: JsonOption = False,
) -> None:
    """Apply the store's migrations (never drops user data)."""
    platform = get_platform(ready=False)
    before = platform.store.current_revision()
    platform.store.upgrade(revision)
    after = platform.store.current_revision()
    emit(
        {"from": before, "to": after},
        as_json,
        lambda r: console.print(f"store migrated {r['from'] or 'empty'} → {r['to']}"),
    )


@db_app.command("status")
def db_status(as_json: JsonOption = False) -> None:
    """Show the store's current and expected migration."""
    platform = get_platform(ready=False)
    current = platform.store.current_revision()
    head = platform.store.head_revision()
    result = {
        "store": platform.store.safe_url,
        "current": current,
        "head": head,
        "up_to_date": current == head,
    }
    emit(
        result,
        as_json,
        lambda r: console.print(f"{r['store']}: at {r['current']}, head {r['head']}"),
    )


def info(as_json: JsonOption = False) -> None:
    """Show the effective settings and what the store holds."""
    from kizuna.store.stats import table_counts

    platform = get_platform()
    s = platform.settings
    result: dict[str, Any] = {
        "version": __version__,
        "home": str(s.home),
        "store": platform.store.safe_url,
        "lake": str(s.lake_dir),
        "timezone": s.timezone,
        "reporting_currency": s.reporting_currency,
        "engine": s.engine,
        "tables": table_counts(platform.store),
    }

    def render(r: dict[str, Any]) -> None:
        table = Table(title=f"Kizuna {r['version']}")
        table.add_column("setting")
        table.add_column("value")
        for key in ("home", "store", "lake", "timezone", "reporting_currency", "engine"):
            table.add_row(key, str(r[key]))
        for name, count in r["tables"].items():
            table.add_row(f"rows in {name}", f"{count:,}")
        console.print(table)

    emit(result, as_json, render)
