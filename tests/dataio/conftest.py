"""Helpers for the import/export tests: write files, read tables back, a Tokyo platform."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from kizuna.clock import FixedClock
from kizuna.dataio import export_table
from kizuna.dataio.schemas import TABLES
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.db import Store


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write ``text`` to ``tmp_path / name`` (UTF-8) and return the path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def _exported(platform: Platform, table: str) -> list[dict[str, Any]]:
    out = io.StringIO()
    export_table(platform, table, out, "jsonl")
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


def _stamps(store: Store, table: str) -> dict[Any, tuple[Any, Any]]:
    spec = TABLES[table]
    t = spec.table
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(*(t.c[k] for k in spec.key), t.c.created_at, t.c.updated_at))
        return {tuple(r[: len(spec.key)]): (r[-2], r[-1]) for r in rows}


@pytest.fixture
def exported() -> Callable[[Platform, str], list[dict[str, Any]]]:
    """The table as export writes it in JSON Lines, parsed: what a user gets back."""
    return _exported


@pytest.fixture
def stamps() -> Callable[[Store, str], dict[Any, tuple[Any, Any]]]:
    """(created_at, updated_at) of every row of a table, by key."""
    return _stamps


@pytest.fixture
def tokyo_platform(store: Store, tmp_path: Path, clock: FixedClock) -> Platform:
    """A platform whose business timezone is Asia/Tokyo, on the parametrised store."""
    settings = Settings(home=tmp_path / "home", database_url=store.url, timezone="Asia/Tokyo")
    return Platform(settings=settings, store=store, clock=clock)
