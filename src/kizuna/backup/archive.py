"""Writing a backup archive (see :mod:`kizuna.backup`)."""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from kizuna.backup.common import (
    FORMAT,
    SKIP_HOME,
    SQLITE_SUFFIXES,
    VERSION,
    BackupError,
    BackupReport,
    file_sha256,
    store_tables,
)
from kizuna.errors import Conflict
from kizuna.lake.index import index_path
from kizuna.lake.layout import LakeLayout
from kizuna.lake.quarantine import quarantine_files
from kizuna.lake.reader import event_files
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.db import Store

# -- backup --------------------------------------------------------------------


def backup(platform: Platform, out: Path) -> BackupReport:
    """Write a consistent archive of ``platform``'s data to ``out`` (see the module doc)."""
    out = Path(out)
    if out.exists():
        raise Conflict(f"{out} already exists; choose another file")
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = platform.settings
    with tempfile.TemporaryDirectory(prefix="kizuna-backup-", dir=out.parent) as folder:
        staging = Path(folder)
        dialect = platform.store.engine.dialect.name
        sqlite_file = sqlite_file_of(platform)
        if sqlite_file is not None:
            tables, revision = _backup_sqlite(sqlite_file, staging / "store")
        else:
            if dialect != "postgresql":
                raise BackupError(f"backing up a {dialect} store is not supported")
            tables, revision = _backup_postgresql(platform.store, staging / "store" / "tables")
        events = _backup_lake(settings, staging / "lake")
        _backup_home(settings, staging / "home", exclude=out, store_file=sqlite_file)
        files = {
            p.relative_to(staging).as_posix(): p for p in sorted(staging.rglob("*")) if p.is_file()
        }
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": platform.clock.now().astimezone(UTC).isoformat(),
            "store": {"dialect": dialect, "revision": revision, "tables": tables},
            "lake": {"events": events},
            "files": {
                name: {"sha256": file_sha256(path), "size": path.stat().st_size}
                for name, path in files.items()
            },
        }
        partial = out.with_name(out.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
            data = json.dumps(manifest, indent=1, sort_keys=True).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))
            for name, path in files.items():
                tar.add(path, arcname=name, recursive=False)
            raw.flush()
            os.fsync(raw.fileno())
        partial.rename(out)
    return BackupReport(
        path=out,
        dialect=dialect,
        revision=revision,
        tables=tables,
        events=events,
        files=len(files),
        bytes=out.stat().st_size,
    )


def sqlite_file_of(platform: Platform) -> Path | None:
    """The SQLite store's file, or None for a server database."""
    url = platform.store.engine.url
    if url.get_backend_name() != "sqlite":
        return None
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite store cannot be backed up or restored")
    return Path(url.database)


def _backup_sqlite(source: Path, folder: Path) -> tuple[dict[str, int], str | None]:
    if not source.exists():
        raise BackupError(f"no store at {source}: nothing to back up")
    folder.mkdir(parents=True)
    target = folder / "kizuna.sqlite3"
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)  # SQLite's online backup API: one consistent snapshot
    finally:
        src.close()
        dst.close()
    return _sqlite_counts(target)


def _sqlite_counts(path: Path) -> tuple[dict[str, int], str | None]:
    with sqlite3.connect(path) as conn:
        present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        counts = {
            t.name: int(conn.execute(f'SELECT count(*) FROM "{t.name}"').fetchone()[0])
            for t in store_tables()
            if t.name in present
        }
        revision = None
        if "alembic_version" in present:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
    conn.close()
    return counts, revision


def _backup_postgresql(store: Store, folder: Path) -> tuple[dict[str, int], str | None]:
    folder.mkdir(parents=True)
    counts: dict[str, int] = {}
    raw = store.engine.raw_connection()
    try:
        driver: Any = raw.driver_connection
        driver.rollback()
        driver.autocommit = True  # so that BEGIN below sets the isolation level
        with driver.cursor() as cur:
            # One snapshot for every table, without blocking writers (as pg_dump does).
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cur.execute("SELECT version_num FROM alembic_version")
            row = cur.fetchone()
            revision = row[0] if row else None
            for table in store_tables():
                cur.execute(f'SELECT count(*) FROM "{table.name}"')
                counts[table.name] = int(cur.fetchone()[0])
                with (
                    open(folder / f"{table.name}.csv", "wb") as handle,
                    cur.copy(f'COPY "{table.name}" TO STDOUT WITH (FORMAT csv, HEADER)') as copy,
                ):
                    for block in copy:
                        handle.write(block)
            cur.execute("COMMIT")
    finally:
        driver.autocommit = False
        raw.close()
    return counts, revision


def _backup_lake(settings: Settings, folder: Path) -> int:
    layout = LakeLayout(settings.lake_dir)
    if not layout.root.exists():
        return 0
    # Under the writers' lock the listing is one moment: no batch half in, no
    # compaction half done. Part files never change once written, and replaced
    # ones stay on disk for the grace period, so they are copied after the lock.
    with _writers_lock(layout):
        parts = event_files(layout)
        quarantined = quarantine_files(layout)
    events = 0
    for path in [*parts, *quarantined]:
        target = folder / path.relative_to(layout.root)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(path, target)
        except FileNotFoundError:
            raise BackupError(
                f"{path} disappeared while it was copied (a compaction purged it); run the "
                "backup again"
            ) from None
        if path in parts:
            events += pq.ParquetFile(target).metadata.num_rows
    return events


@contextmanager
def _writers_lock(layout: LakeLayout) -> Iterator[None]:
    """The lake's write lock (the file lock every ingest and compaction takes), without
    the index connection :meth:`LakeIndex.locked` opens: a backup only lists files, and
    may run on any thread, next to a server's ingest thread."""
    folder = index_path(layout).parent
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "a+b") as lock_file:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)


def _backup_home(
    settings: Settings, folder: Path, *, exclude: Path, store_file: Path | None
) -> None:
    home = settings.home
    if not home.exists():
        return
    store_file = store_file or settings.sqlite_path
    store_files = {store_file.resolve().with_name(store_file.name + s) for s in SQLITE_SUFFIXES}
    for path in sorted(home.rglob("*")):
        relative = path.relative_to(home)
        if not path.is_file() or path.is_symlink() or relative.parts[0] in SKIP_HOME:
            continue
        if path.resolve() in store_files or path.resolve() == exclude.resolve():
            continue
        if path.name.endswith((".tmp", ".partial")):
            continue  # a file being written; its finished version is what counts
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(path, target)
        except FileNotFoundError:
            continue  # replaced meanwhile (derived files are rewritten atomically)
