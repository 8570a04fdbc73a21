"""CLI of teams, preferences and stored secrets: ``kizuna team``, ``kizuna contact``,
``kizuna user language`` and ``kizuna secret``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from kizuna.actions.teams import (
    TeamView,
    create_team,
    delete_team,
    get_team,
    list_teams,
    remove_member,
    rename_team,
    set_member,
    set_member_language,
)
from kizuna.actions.techtouch import contact_preference, set_contact_preference
from kizuna.auth import vault
from kizuna.cli._common import JsonOption, console, emit, get_platform
from kizuna.cli.api import user_app

team_app = typer.Typer(help="Pooled teams and their members.", no_args_is_help=True)
contact_app = typer.Typer(
    help="Customer contacts: e-mail language, opt-out of tech touch.", no_args_is_help=True
)
secret_app = typer.Typer(
    help="Secrets Kizuna uses (SMTP password, webhook key), encrypted at rest.",
    no_args_is_help=True,
)

TeamId = Annotated[str, typer.Argument(help="Team id, e.g. 'smb-pool'.")]
MemberId = Annotated[str, typer.Argument(help="Team member id.")]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(team_app, name="team")
    app.add_typer(contact_app, name="contact")
    app.add_typer(secret_app, name="secret")


def _show(team: TeamView) -> None:
    console.print(f"{team.id}: {team.name} — {team.active_ctas} active CTAs")
    for m in team.members:
        console.print(f"  {m.member_id} ({m.name}) {m.role}")


@team_app.command("list")
def team_list(as_json: JsonOption = False) -> None:
    """Every team, its members and their roles."""

    def render(teams: list[TeamView]) -> None:
        table = Table("team", "name", "members", "active CTAs")
        for t in teams:
            members = ", ".join(f"{m.member_id} ({m.role})" for m in t.members) or "—"
            table.add_row(t.id, t.name, members, str(t.active_ctas))
        console.print(table)

    emit(list_teams(get_platform()), as_json, render)


@team_app.command("show")
def team_show(team_id: TeamId, as_json: JsonOption = False) -> None:
    """One team with its members."""
    emit(get_team(get_platform(), team_id), as_json, _show)


@team_app.command("create")
def team_create(
    team_id: TeamId,
    name: Annotated[str, typer.Option("--name", help="The team's name.")],
    as_json: JsonOption = False,
) -> None:
    """Create a team."""
    emit(create_team(get_platform(), team_id, name), as_json, _show)


@team_app.command("rename")
def team_rename(
    team_id: TeamId,
    name: Annotated[str, typer.Option("--name", help="The new name.")],
    as_json: JsonOption = False,
) -> None:
    """Rename a team."""
    emit(rename_team(get_platform(), team_id, name), as_json, _show)


@team_app.command("delete")
def team_delete(team_id: TeamId) -> None:
    """Delete a team (refused while its pool has active CTAs)."""
    delete_team(get_platform(), team_id)
    console.print(f"deleted team {team_id}")


@team_app.command("add")
def team_add(
    team_id: TeamId,
    member_id: MemberId,
    role: Annotated[str, typer.Option("--role", help="lead or member.")] = "member",
    as_json: JsonOption = False,
) -> None:
    """Put a team member in a team (or change their role in it)."""
    emit(set_member(get_platform(), team_id, member_id, role), as_json, _show)


@team_app.command("remove")
def team_remove(team_id: TeamId, member_id: MemberId, as_json: JsonOption = False) -> None:
    """Take a team member out of a team."""
    emit(remove_member(get_platform(), team_id, member_id), as_json, _show)


@user_app.command("language")
def user_language(
    member_id: MemberId,
    language: Annotated[str, typer.Argument(help="en or ja.")],
) -> None:
    """Set a user's language (their digest e-mails and the web UI)."""
    set_member_language(get_platform(), member_id, language)
    console.print(f"{member_id} reads {language}")


@contact_app.command("prefs")
def contact_prefs(
    contact_id: Annotated[str, typer.Argument(help="Contact id.")],
    language: Annotated[
        str | None, typer.Option("--language", help="en or ja: the contact's e-mails.")
    ] = None,
    opt_out: Annotated[
        bool, typer.Option("--opt-out", help="Send this contact no more tech-touch e-mails.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Show (or change) a contact's e-mail language and opt-out."""
    platform = get_platform()
    if language is not None or opt_out:
        pref = set_contact_preference(
            platform, contact_id, language=language, opted_out=True if opt_out else None
        )
    else:
        pref = contact_preference(platform, contact_id)
    emit(
        pref,
        as_json,
        lambda p: console.print(
            f"{p.contact_id} ({p.name}, {p.account_id}): {p.language}"
            + (", opted out of tech-touch e-mails" if p.opted_out else "")
        ),
    )


@secret_app.command("new-key")
def secret_new_key() -> None:
    """Print a fresh key for KIZUNA_SECRETS_KEY (keep it outside the data folder)."""
    print(vault.new_key())


@secret_app.command("list")
def secret_list(as_json: JsonOption = False) -> None:
    """The secrets Kizuna knows of (names and dates, never values)."""

    def render(items: list[vault.SecretInfo]) -> None:
        table = Table("name", "stored (encrypted)", "from the environment", "updated")
        for s in items:
            table.add_row(
                s.name, "yes" if s.stored else "no", f"yes ({s.env})" if s.from_environment
                else "no", f"{s.updated_at:%Y-%m-%d %H:%M} by {s.updated_by or '?'}"
                if s.updated_at else "—",
            )  # fmt: skip
        console.print(table)

    emit(vault.list_secrets(get_platform()), as_json, render)


@secret_app.command("set")
def secret_set(
    name: Annotated[str, typer.Argument(help=", ".join(vault.SECRET_NAMES))],
    stdin: Annotated[
        bool, typer.Option("--stdin", help="Read the value from standard input.")
    ] = False,
    by: Annotated[str | None, typer.Option("--by", help="Who sets it (for the record).")] = None,
) -> None:
    """Store a secret, encrypted (prompted without echo unless --stdin)."""
    if stdin:
        value = sys.stdin.readline().rstrip("\r\n")
    else:
        value = typer.prompt(name, hide_input=True, confirmation_prompt=True)
    vault.set_secret(get_platform(), name, value, by)
    console.print(f"stored {name} (encrypted)")


@secret_app.command("delete")
def secret_delete(name: Annotated[str, typer.Argument(help="The secret's name.")]) -> None:
    """Forget a stored secret."""
    vault.delete_secret(get_platform(), name)
    console.print(f"deleted {name}")


@secret_app.command("rotate")
def secret_rotate() -> None:
    """Re-encrypt every stored secret under the first key of KIZUNA_SECRETS_KEY."""
    count = vault.rotate_secrets(get_platform())
    console.print(f"re-encrypted {count} values under the first key")


@secret_app.command("import-env")
def secret_import_env(
    path: Annotated[Path, typer.Argument(help="An environment file (KEY=value lines).")],
    by: Annotated[str | None, typer.Option("--by", help="Who moves them.")] = None,
) -> None:
    """Move plaintext secrets out of an environment file into the encrypted store
    (the original is kept as <file>.bak-<time>, owner-only)."""
    done = vault.import_env_file(get_platform(), path, by)
    console.print(
        f"stored {', '.join(done.stored)} encrypted; {path} no longer holds them "
        f"(original kept in {done.backup})"
    )


@secret_app.command("migrate")
def secret_migrate(
    backup: Annotated[
        Path | None,
        typer.Option("--backup", help="Write a full backup archive here first (kizuna backup)."),
    ] = None,
) -> None:
    """Encrypt the plaintext Slack URLs older outbox rows still carry."""
    platform = get_platform()
    if backup is not None:
        from kizuna.backup import backup as write_backup

        write_backup(platform, backup)
        console.print(f"backed up to {backup}")
    count = vault.encrypt_outbox_targets(platform)
    console.print(f"encrypted {count} outbox targets")
