"""Shared pieces of the CLI: the root app, platform access, output and errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from kizuna.errors import InvalidInput, KizunaError, Problem
from kizuna.jsonable import to_jsonable
from kizuna.platform import Platform
from kizuna.settings import Settings

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    name="kizuna",
    help="Kizuna (絆) — customer success on hard data: health, retention, lifecycle, plans.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class _State:
    home: Path | None = None
    platform: Platform | None = None


state = _State()


@app.callback()
def _root(
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="Data folder (default ./kizuna-data, or KIZUNA_HOME).",
            show_default=False,
        ),
    ] = None,
) -> None:
    state.home = home
    state.platform = None


def load_settings() -> Settings:
    """Settings from the environment, with ``--home`` taking precedence."""
    try:
        if state.home is not None:
            return Settings(home=state.home)
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"KIZUNA_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise KizunaError(f"invalid settings: {problems}") from None


def get_platform(*, ready: bool = True) -> Platform:
    """The platform for this invocation; by default checks the store is migrated."""
    if state.platform is None:
        state.platform = Platform.from_settings(load_settings())
    if ready:
        state.platform.store.ensure_ready()
    return state.platform


def emit(result: Any, as_json: bool, render: Callable[[Any], None]) -> None:
    """Print ``result`` as JSON on stdout, or with ``render`` for people."""
    if as_json:
        sys.stdout.write(json.dumps(to_jsonable(result), ensure_ascii=False, indent=2) + "\n")
    else:
        render(result)


def parse_dates(**values: str | None) -> dict[str, date | None]:
    """ISO dates from options, by keyword (``from_`` is ``--from``); every bad one
    reported at once."""
    out: dict[str, date | None] = {}
    problems = []
    for name, text in values.items():
        if text is None:
            out[name] = None
            continue
        try:
            out[name] = date.fromisoformat(text)
        except ValueError:
            flag = "--" + name.rstrip("_").replace("_", "-")
            problems.append(
                Problem(f"{text!r} is not a date; use YYYY-MM-DD", where=flag, field=name)
            )
    if problems:
        raise InvalidInput("invalid dates", problems)
    return out


JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and turn Kizuna errors into a message and a non-zero exit code."""
    try:
        code = app(args=argv, standalone_mode=False)
        # outside standalone mode, typer.Exit(n) raised in a command comes back as n
        if isinstance(code, int) and code:
            return code
    except KizunaError as exc:
        # escape(): messages may contain [brackets] that rich would take for markup
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        return 1
    except typer.Abort:
        err_console.print("aborted")
        return 1
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.TyperException as exc:  # bad usage: typer's own message and exit code
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err_console.print(f"error: {escape(str(exc))}")
        return int(getattr(exc, "exit_code", 2))
    finally:
        if state.platform is not None:
            state.platform.close()
            state.platform = None
    return 0
