"""The ``kizuna`` command line: a thin layer over the service functions.

Each capability registers its commands from its own module, so the CLI grows
without one file growing with it.
"""

from __future__ import annotations

import sys
from importlib import import_module

import typer

from kizuna.cli._common import app, run

# Each module defines ``register(app)``. Order is the order of ``kizuna --help``.
_COMMAND_MODULES = (
    "core",
    "data",
    "sim",
    "lake",
    "metrics",
    "health",
    "lifecycle",
    "plans",
    "documents",
    "retention",
    "actions",
    "people",
    "risk",
    "revenue",
    "daily",
    "api",
    "backup",
)

for _name in _COMMAND_MODULES:
    import_module(f"kizuna.cli.{_name}").register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``kizuna`` console script."""
    sys.exit(run(argv))


__all__ = ["app", "main", "typer"]
