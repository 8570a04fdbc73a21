"""Restoring a backup archive and checking it (see :mod:`kizuna.backup`)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import sqlalchemy as sa

from kizuna.backup.archive import sqlite_file_of
from kizuna.backup.common import (
    CHUNK,
    FORMAT,
    VERSION,
    BackupError,
    RestoreReport,
    file_sha256,
    self_references,
    store_tables,
)
from kizuna.errors import Conflict, InvalidInput, Problem
from kizuna.lake.index import LakeIndex
from kizuna.lake.layout import LakeLayout
from kizuna.platform import Platform
from kizuna.store.db import Store

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
    sqlite_file = sqlite_file_of(platform)
    if sqlite_file is not None and sqlite_file.exists() and sqlite_file.stat().st_size > 0:
        problems.append(Problem("the data folder already has a store", where=str(sqlite_file)))
    if settings.lake_dir.exists() and any(settings.lake_dir.rglob("*.parquet")):
        problems.append(Problem("the data folder already has a lake", where=str(settings.lake_dir)))
    if sqlite_file is None:
        inspector = sa.inspect(platform.store.engine)
        present = set(inspector.get_table_names())
        with platform.store.engine.connect() as conn:
            for table in store_tables():
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
        elif file_sha256(path) != expected["sha256"]:
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
    target = sqlite_file_of(platform)
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
            for table in store_tables():
                later = self_references(table)
                links: list[dict[str, Any]] = []
                (key,) = [c.name for c in table.primary_key.columns] if later else [""]
                result = read.execution_options(stream_results=True).execute(sa.select(table))
                while rows := result.mappings().fetchmany(CHUNK):
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
            for table in store_tables():
                path = folder / f"{table.name}.csv"
                with open(path, encoding="utf-8", newline="") as text:
                    header = next(csv.reader(text))
                columns = ", ".join(f'"{c}"' for c in header)
                later = self_references(table)
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
    for table in store_tables():
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
        for table in store_tables():
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
