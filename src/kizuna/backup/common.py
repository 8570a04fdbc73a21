"""What backup and restore share: the archive format, reports, checksums, tables."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from kizuna.errors import BackupError
from kizuna.store.models import Base

__all__ = ["BackupError", "BackupReport", "RestoreReport"]

FORMAT = "kizuna-backup"
VERSION = 1
CHUNK = 5_000
#: Folders of the data folder that are not copied as plain files.
SKIP_HOME = ("lake", "backups")
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


@dataclass
class BackupReport:
    """What an archive holds."""

    path: Path
    dialect: str
    revision: str | None
    tables: dict[str, int]
    events: int
    files: int
    bytes: int


@dataclass
class RestoreReport:
    """What a restore brought back and what it checked."""

    dialect_from: str
    dialect_to: str
    tables: dict[str, int]
    events: int
    files: int
    checks: list[str] = field(default_factory=list)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def store_tables() -> list[sa.Table]:
    return list(Base.metadata.sorted_tables)


def self_references(table: sa.Table) -> list[str]:
    """Columns that name another row of the same table (a parent account, the line a
    contract renews): restored in a second pass, as rows may come before their target."""
    return sorted(fk.parent.name for fk in table.foreign_keys if fk.column.table is table)
