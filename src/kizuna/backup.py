"""Backup and restore: one archive holding everything a Kizuna install needs.

``kizuna backup --out FILE`` writes a tar archive while Kizuna keeps running:

* ``store/kizuna.sqlite3`` — a SQLite store copied with SQLite's online backup
  API (a consistent snapshot; writers are not blocked for long), or
  ``store/tables/<table>.csv`` — a PostgreSQL store read with ``COPY ... TO
  STDOUT`` inside one ``REPEATABLE READ`` read-only transaction (one snapshot
  for every table, as ``pg_dump`` takes it);
* ``lake/...`` — the lake's *current* files: committed event part files (never
  staged, superseded or half-compacted ones) and the quarantine, listed under
  the lake's lock so the listing is one consistent moment; the message-id
  index and the roll-up cache are rebuilt on restore;
* ``home/...`` — every other file of the data folder: definitions, metric
  values, daily snapshots, rendered documents, the secret key (so keep the
  archive as private as the data folder; it is written owner-only);
* ``manifest.json`` — row counts per table, the number of events, the store's
  migration revision and a SHA-256 checksum per file.

``kizuna restore FILE`` brings it back into an *empty* data folder (and, with
``KIZUNA_DATABASE_URL`` set, an empty PostgreSQL database), verifying every
file's checksum before anything is written, migrating the store to this
version's schema, and checking afterwards that every table has the backed-up
number of rows and the lake the backed-up number of events. A SQLite backup
restores into PostgreSQL (how a team outgrows the embedded default).
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import sqlalchemy as sa

from kizuna.errors import Conflict, InvalidInput, KizunaError, Problem
from kizuna.lake.index import LakeIndex, index_path
from kizuna.lake.layout import LakeLayout
from kizuna.lake.quarantine import quarantine_files
from kizuna.lake.reader import event_files
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.db import Store
from kizuna.store.models import Base

__all__ = ["BackupReport", "RestoreReport", "backup", "restore"]

FORMAT = "kizuna-backup"
VERSION = 1
_CHUNK = 5_000
#: Folders of the data folder that are not copied as plain files.
_SKIP_HOME = ("lake", "backups")
_SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


class BackupError(KizunaError):
    """A backup could not be written or an archive cannot be restored."""

    status_code = 409
    title = "Backup or restore failed"


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tables() -> list[sa.Table]:
    return list(Base.metadata.sorted_tables)


def _self_references(table: sa.Table) -> list[str]:
    """Columns that name another row of the same table (a parent account, the line a
    contract renews): restored in a second pass, as rows may come before their target."""
    return sorted(fk.parent.name for fk in table.foreign_keys if fk.column.table is table)


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
        sqlite_file = _sqlite_file(platform)
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
                name: {"sha256": _sha256(path), "size": path.stat().st_size}
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


def _sqlite_file(platform: Platform) -> Path | None:
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
            for t in _tables()
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
            for table in _tables():
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
    store_files = {store_file.resolve().with_name(store_file.name + s) for s in _SQLITE_SUFFIXES}
    for path in sorted(home.rglob("*")):
        relative = path.relative_to(home)
        if not path.is_file() or path.is_symlink() or relative.parts[0] in _SKIP_HOME:
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


# -- restore -------------------------------------------------------------------


def restore(platform: Platform, archive: Path) -> RestoreReport:
    """Restore ``archive`` into ``platform``'s (empty) data folder and store, and check it."""
    archive = Path(archive)
    if not archive.is_file():
        raise InvalidInput(
            f"no backup file {archive}", [Problem("no such file", where=str(archive))]
        )
    settings = platform.settings
    _require_empty(platform)
    with tempfile.TemporaryDirectory(prefix="kizuna-restore-") as folder:
        staging = Path(folder)
        manifest = _extract(archive, staging)
        source_dialect = manifest["store"]["dialect"]
        target_dialect = platform.store.engine.dialect.name
        report = RestoreReport(
            dialect_from=source_dialect,
            dialect_to=target_dialect,
            tables=dict(manifest["store"]["tables"]),
            events=int(manifest["lake"]["events"]),
            files=len(manifest["files"]),
        )
        report.checks.append(f"{len(manifest['files'])} files match their SHA-256 checksums")
        if source_dialect == "sqlite":
            _restore_from_sqlite(platform, staging / "store" / "kizuna.sqlite3")
        elif source_dialect == "postgresql" and target_dialect == "postgresql":
            _restore_postgresql(platform.store, staging / "store" / "tables", manifest)
        else:
            raise BackupError(
                f"a {source_dialect} backup restores into PostgreSQL only; set "
                "KIZUNA_DATABASE_URL to an empty PostgreSQL database"
            )
        _check_counts(platform.store, manifest["store"]["tables"])
        report.checks.append(f"{len(report.tables)} tables have the backed-up row counts")
        _restore_files(staging / "home", settings.home)
        events = _restore_lake(staging / "lake", LakeLayout(settings.lake_dir))
        if events != report.events:
            raise BackupError(
                f"the lake has {events} events after restore, the backup {report.events}"
            )
        report.checks.append(f"the lake has the backed-up {events} events")
    return report


def _require_empty(platform: Platform) -> None:
    settings = platform.settings
    problems = []
    sqlite_file = _sqlite_file(platform)
    if sqlite_file is not None and sqlite_file.exists() and sqlite_file.stat().st_size > 0:
        problems.append(Problem("the data folder already has a store", where=str(sqlite_file)))
    if settings.lake_dir.exists() and any(settings.lake_dir.rglob("*.parquet")):
        problems.append(Problem("the data folder already has a lake", where=str(settings.lake_dir)))
    if sqlite_file is None:
        inspector = sa.inspect(platform.store.engine)
        present = set(inspector.get_table_names())
        with platform.store.engine.connect() as conn:
            for table in _tables():
                if (
                    table.name in present
                    and conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first()
                ):
                    problems.append(Problem("the database is not empty", where=table.name))
                    break
    if problems:
        raise Conflict(
            "restore needs an empty data folder and database: "
            + "; ".join(str(p) for p in problems)
        )


def _extract(archive: Path, staging: Path) -> dict[str, Any]:
    try:
        tar = tarfile.open(archive, mode="r")  # noqa: SIM115 (closed by the with below)
    except tarfile.TarError as exc:
        raise BackupError(f"{archive} is not a Kizuna backup: {exc}") from None
    with tar:
        try:
            member = tar.extractfile("manifest.json")
            manifest = json.loads(member.read()) if member is not None else None
        except (KeyError, ValueError):
            manifest = None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BackupError(f"{archive} is not a Kizuna backup (no manifest)")
        if manifest.get("version") != VERSION:
            raise BackupError(f"backup format version {manifest.get('version')} is not supported")
        tar.extractall(staging, filter="data")  # refuses absolute paths, '..', devices
    problems = []
    for name, expected in manifest["files"].items():
        path = staging / name
        if not path.is_file():
            problems.append(Problem("missing from the archive", where=name))
        elif _sha256(path) != expected["sha256"]:
            problems.append(Problem("checksum does not match: the archive is damaged", where=name))
    if problems:
        raise InvalidInput(f"{archive} failed its checks; nothing was restored", problems)
    return manifest


def _restore_from_sqlite(platform: Platform, source: Path) -> None:
    # Bring the backed-up store to this version's schema first, so an older
    # backup restores too (migrations never drop user data).
    backed_up = Store(f"sqlite:///{source}")
    try:
        backed_up.upgrade()
    finally:
        backed_up.dispose()
    target = _sqlite_file(platform)
    if target is not None:
        platform.store.dispose()
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        os.chmod(target, 0o600)
        return
    platform.store.upgrade()
    src = sa.create_engine(f"sqlite:///{source}")
    try:
        with src.connect() as read, platform.store.engine.begin() as write:
            for table in _tables():
                later = _self_references(table)
                links: list[dict[str, Any]] = []
                (key,) = [c.name for c in table.primary_key.columns] if later else [""]
                result = read.execution_options(stream_results=True).execute(sa.select(table))
                while rows := result.mappings().fetchmany(_CHUNK):
                    batch = [dict(r) for r in rows]
                    for row in batch:
                        if any(row[c] is not None for c in later):
                            # with the columns an update would touch (updated_at) as they were
                            kept = [*later, *(c.name for c in table.columns if c.onupdate)]
                            links.append({"k": row[key], **{c: row[c] for c in kept}})
                            row.update(dict.fromkeys(later, None))
                    write.execute(table.insert(), batch)
                for link in links:
                    values = {c: v for c, v in link.items() if c != "k"}
                    write.execute(table.update().where(table.c[key] == link["k"]).values(values))
            _reset_sequences(write)
    finally:
        src.dispose()


def _restore_postgresql(store: Store, folder: Path, manifest: dict[str, Any]) -> None:
    store.upgrade()
    head = store.current_revision()
    if manifest["store"]["revision"] != head:
        raise BackupError(
            f"this PostgreSQL backup is at schema {manifest['store']['revision']}, this Kizuna "
            f"at {head}: restore it with the Kizuna version that wrote it, then upgrade"
        )
    with store.engine.begin() as conn:
        driver: Any = conn.connection.driver_connection
        with driver.cursor() as cur:
            for table in _tables():
                path = folder / f"{table.name}.csv"
                with open(path, encoding="utf-8", newline="") as text:
                    header = next(csv.reader(text))
                columns = ", ".join(f'"{c}"' for c in header)
                later = _self_references(table)
                into = f'"{table.name}"'
                if later:  # through a copy without constraints, then linked in a second pass
                    into = f'"restore_{table.name}"'
                    cur.execute(f'CREATE TEMP TABLE {into} (LIKE "{table.name}") ON COMMIT DROP')
                with (
                    open(path, "rb") as handle,
                    cur.copy(
                        f"COPY {into} ({columns}) FROM STDIN WITH (FORMAT csv, HEADER)"
                    ) as copy,
                ):
                    while block := handle.read(1 << 20):
                        copy.write(block)
                if later:
                    (key,) = [c.name for c in table.primary_key.columns]
                    plain = ", ".join("NULL" if c in later else f'"{c}"' for c in header)
                    cur.execute(
                        f'INSERT INTO "{table.name}" ({columns}) SELECT {plain} FROM {into}'
                    )
                    sets = ", ".join(f'"{c}" = r."{c}"' for c in later)
                    cur.execute(
                        f'UPDATE "{table.name}" AS t SET {sets} FROM {into} AS r '
                        f'WHERE t."{key}" = r."{key}"'
                    )
        _reset_sequences(conn)


def _reset_sequences(conn: sa.Connection) -> None:
    """Point PostgreSQL's id sequences past the restored ids (COPY and explicit ids
    do not advance them)."""
    if conn.dialect.name != "postgresql":
        return
    for table in _tables():
        for column in table.primary_key.columns:
            if column.autoincrement is True or (
                column.autoincrement == "auto"
                and isinstance(column.type, sa.Integer)
                and len(table.primary_key.columns) == 1
            ):
                sequence = conn.execute(
                    sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                    {"t": f'"{table.name}"', "c": column.name},
                ).scalar()
                if sequence:
                    conn.execute(
                        sa.text(
                            f'SELECT setval(:s, COALESCE(MAX("{column.name}"), 1), '
                            f'MAX("{column.name}") IS NOT NULL) FROM "{table.name}"'
                        ),
                        {"s": sequence},
                    )


def _check_counts(store: Store, expected: dict[str, int]) -> None:
    problems = []
    with store.engine.connect() as conn:
        for table in _tables():
            if table.name not in expected:
                continue
            count = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            if count != expected[table.name]:
                problems.append(
                    Problem(
                        f"{count} rows after restore, {expected[table.name]} in the backup",
                        where=table.name,
                    )
                )
    if problems:
        raise InvalidInput("the restored store does not match the backup", problems)


def _restore_files(source: Path, target: Path) -> None:
    for path in _files(source):
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)


def _restore_lake(source: Path, layout: LakeLayout) -> int:
    """Copy the lake's files back and rebuild its message-id index from the events."""
    layout.root.mkdir(parents=True, exist_ok=True)
    os.chmod(layout.root, 0o700)
    _restore_files(source, layout.root)
    events = 0
    index = LakeIndex(layout)
    with index.locked():
        for path in layout.event_files():
            ids = pq.read_table(path, columns=["message_id"]).column("message_id").to_pylist()
            index.commit_batch(ids)
            events += len(ids)
    return events


def _files(folder: Path) -> Iterator[Path]:
    if folder.exists():
        yield from (p for p in sorted(folder.rglob("*")) if p.is_file())
