"""View models of the admin page: definitions, users, tokens, event sources and imports.

Definitions are edited as files; the page shows the files in use and the result
of validating them (every problem, with its file and field), so a broken edit is
seen before the next daily run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from kizuna.actions import rules_for
from kizuna.auth import tokens as auth_tokens
from kizuna.auth.policy import Caller
from kizuna.auth.sources import Source, list_sources
from kizuna.auth.sources import add_source as _add_source
from kizuna.auth.sources import revoke_source as _revoke_source
from kizuna.auth.tokens import TokenInfo, list_tokens
from kizuna.auth.users import User, list_users
from kizuna.dataio import ImportReport, import_file
from kizuna.errors import Conflict, InvalidInput, KizunaError, NotFound, Problem
from kizuna.health.compute import scorecard_paths
from kizuna.health.scorecard import load_scorecards
from kizuna.lifecycle.definitions import definition_for as lifecycle_definition_for
from kizuna.metrics.definitions import load_definitions
from kizuna.platform import Platform

IMPORT_TABLES = ("accounts", "contacts", "contracts", "tickets", "surveys", "activities")


@dataclass
class Definition:
    """One definition set: where it comes from, whether it is valid, and its text."""

    kind: str  # "metrics" | "scorecards" | "lifecycle" | "rules"
    sources: list[str]
    valid: bool
    #: Why it is invalid (None: valid).
    summary: str | None
    problems: list[Problem] = field(default_factory=list)
    text: str = ""
    #: How many metrics, scorecards or stages it defines (None: invalid).
    count: int | None = None
    #: The file shipped with Kizuna (no file of the team's own).
    shipped: bool = False


@dataclass
class AdminOverview:
    definitions: list[Definition]
    users: list[User]
    tokens: list[TokenInfo]
    sources: list[Source]
    import_tables: tuple[str, ...] = IMPORT_TABLES


def _check(
    kind: str, paths: list[Path], default: tuple[str, str], load: Callable[[], Any]
) -> Definition:
    if paths:
        sources = [str(p) for p in paths]
        text = "\n".join(f"# {p}\n{p.read_text('utf-8')}" for p in paths if p.is_file())
    else:
        package, name = default
        sources = [f"{package}/{name}"]
        text = (resources.files(package) / name).read_text("utf-8")
    shipped = not paths
    try:
        loaded = load()
    except InvalidInput as exc:
        return Definition(
            kind, sources, False, exc.message, list(exc.problems), text, shipped=shipped
        )
    except KizunaError as exc:
        return Definition(kind, sources, False, exc.message, [], text, shipped=shipped)
    return Definition(kind, sources, True, None, [], text, _count(loaded), shipped)


def _count(loaded: Any) -> int | None:
    for attr in ("metrics", "scorecards", "stages", "rules"):
        items = getattr(loaded, attr, None)
        if items is not None:
            return len(items)
    return None


def definitions(platform: Platform) -> list[Definition]:
    """The metric, scorecard, lifecycle and rule definitions in use, validated."""
    home = platform.settings.home
    cards = scorecard_paths(platform.settings) or []
    lifecycle = [p for p in [home / "lifecycle.yaml"] if p.exists()]
    rules = [p for p in [home / "rules.yaml"] if p.exists()]
    return [
        _check(
            "metrics",
            [],
            ("kizuna.metrics", "default_metrics.yaml"),
            lambda: load_definitions(None),
        ),
        _check(
            "scorecards",
            cards,
            ("kizuna.health", "default_scorecard.yaml"),
            lambda: load_scorecards(cards or None),
        ),
        _check(
            "lifecycle",
            lifecycle,
            ("kizuna.lifecycle", "default_lifecycle.yaml"),
            lambda: lifecycle_definition_for(home),
        ),
        _check("rules", rules, ("kizuna.actions", "default_rules.yaml"), lambda: rules_for(home)),
    ]


def admin_overview(platform: Platform) -> AdminOverview:
    """Everything the admin page lists."""
    return AdminOverview(
        definitions=definitions(platform),
        users=list_users(platform),
        tokens=list_tokens(platform),
        sources=list_sources(platform),
    )


def run_import(platform: Platform, table: str, path: Path) -> ImportReport:
    """Import an uploaded file; :class:`ImportRejected` lists every bad row, nothing lands."""
    return import_file(platform, table, path)


def create_token(
    platform: Platform, caller: Caller, member_id: str, name: str
) -> tuple[str | None, dict[str, str]]:
    """A new API token for ``member_id`` (shown once), or the form's field errors."""
    errors: dict[str, str] = {}
    if not member_id.strip():
        errors["member_id"] = "Choose a user."
    if not name.strip():
        errors["name"] = "Give the token a name."
    elif len(name) > 200:
        errors["name"] = "Use at most 200 characters."
    if errors:
        return None, errors
    try:
        return auth_tokens.create_token(platform, member_id.strip(), name.strip()).token, {}
    except NotFound:
        return None, {"member_id": "No such user."}


def revoke_token(platform: Platform, token_id: str) -> None:
    auth_tokens.revoke_token(platform, token_id)


def add_source(platform: Platform, name: str) -> tuple[str | None, dict[str, str]]:
    """A new event source and its write key (shown once), or the form's field errors."""
    name = name.strip()
    if not name:
        return None, {"source_name": "Give the source a name."}
    if len(name) > 200:
        return None, {"source_name": "Use at most 200 characters."}
    try:
        return _add_source(platform, name).write_key, {}
    except Conflict:
        return None, {"source_name": "A source with this name already exists."}


def revoke_source(platform: Platform, source_id: str) -> None:
    _revoke_source(platform, source_id)
