"""The :class:`Store`: one database (SQLite file or PostgreSQL) and its migrations."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.orm import Session, sessionmaker

from kizuna.errors import StoreNotReady


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _create_owner_only(path: Path) -> None:
    """Create a new SQLite file readable by its owner only (0600), like the secret key;
    SQLite gives its -wal and -shm files the same mode. An existing file is left alone."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except (FileExistsError, OSError):
        return
    os.close(fd)


class Store:
    """Owns the SQLAlchemy engine of the operational store.

    Nothing connects at construction; the first session or migration does.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            path = url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                _create_owner_only(Path(path))
        self.engine = sa.create_engine(url, echo=echo, future=True)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    # -- migrations ---------------------------------------------------------

    def _alembic_config(self) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(resources.files("kizuna.store") / "migrations"))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        return cfg

    def upgrade(self, revision: str = "head") -> None:
        """Apply migrations up to ``revision`` (default: the newest)."""
        cfg = self._alembic_config()
        with self.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)

    def current_revision(self) -> str | None:
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()

    def ensure_ready(self) -> None:
        """Raise :class:`StoreNotReady` unless the store is migrated to head."""
        try:
            current = self.current_revision()
        except sa.exc.OperationalError as exc:
            raise StoreNotReady(f"cannot open the store at {self.safe_url}: {exc.orig}") from exc
        head = self.head_revision()
        if current is None:
            raise StoreNotReady(
                f"the store at {self.safe_url} is empty: run 'kizuna init' (or 'kizuna demo')"
            )
        if current != head:
            raise StoreNotReady(
                f"the store at {self.safe_url} is at migration {current}, code expects {head}: "
                "run 'kizuna db upgrade'"
            )

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        self.engine.dispose()
