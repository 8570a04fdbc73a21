"""Shared fixtures: stores on SQLite and PostgreSQL, a platform with a fixed clock.

PostgreSQL: each test session (each xdist worker) creates a fresh database on
``KIZUNA_TEST_PG_URL`` (default: postgres on 127.0.0.1:5432) and drops it at
the end. Without a reachable server the PostgreSQL variants are skipped with the
reason, except under CI (``CI=true``), where that is an error.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from kizuna.clock import FixedClock
from kizuna.lake.ingest import forget_accounts
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.db import Store
from kizuna.store.models import Base

PG_ADMIN_URL = os.environ.get(
    "KIZUNA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ["sqlite", "postgresql"]


def _pg_available() -> str | None:
    try:
        engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means "no server"
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}"


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this test session, dropped afterwards."""
    reason = _pg_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"kizuna_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def _pg_migrated_store(pg_database_url: str) -> Iterator[Store]:
    store = Store(pg_database_url)
    store.upgrade()
    yield store
    store.dispose()


def _truncate_all(store: Store) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with store.engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} CASCADE"))
    forget_accounts(store)  # the ingest's known-accounts cache of the previous test


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store — once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        sqlite_store = Store(f"sqlite:///{tmp_path / 'kizuna.sqlite3'}")
        sqlite_store.upgrade()
        yield sqlite_store
        sqlite_store.dispose()
    else:
        pg_store: Store = request.getfixturevalue("_pg_migrated_store")
        _truncate_all(pg_store)
        yield pg_store


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty SQLite store, for tests where the backend does not matter."""
    s = Store(f"sqlite:///{tmp_path / 'kizuna.sqlite3'}")
    s.upgrade()
    yield s
    s.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2025, 6, 30, 12, 0, tzinfo=UTC))


@pytest.fixture
def platform(store: Store, tmp_path: Path, clock: FixedClock) -> Platform:
    """A platform on the parametrised store, a temporary data folder and a fixed clock."""
    settings = Settings(home=tmp_path / "home", database_url=store.url)
    return Platform(settings=settings, store=store, clock=clock)


@pytest.fixture
def sqlite_platform(sqlite_store: Store, tmp_path: Path, clock: FixedClock) -> Platform:
    settings = Settings(home=tmp_path / "home", database_url=sqlite_store.url)
    return Platform(settings=settings, store=sqlite_store, clock=clock)
