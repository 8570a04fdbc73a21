"""Backup and restore: a backup of the demo restores to identical figures (issue 13)."""

from __future__ import annotations

import tarfile
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from kizuna.backup import backup, restore
from kizuna.errors import Conflict, InvalidInput
from kizuna.lake.ingest import ingest_records
from kizuna.lake.layout import LakeLayout
from kizuna.lake.reader import read_events
from kizuna.metrics.service import compute_metrics, read_metric_values
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.sim import SimConfig
from kizuna.sim.demo import run_demo
from kizuna.store.db import Store
from kizuna.store.models import Base

SMALL = SimConfig(accounts=30, seed=5, start_date=date(2025, 1, 1), end_date=date(2025, 6, 30))
AS_OF = date(2025, 6, 30)


def _rows(store: Store) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    with store.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = conn.execute(sa.select(table)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def _events(platform: Platform) -> list[tuple[object, ...]]:
    table = read_events(LakeLayout(platform.settings.lake_dir))
    return sorted(tuple(r.values()) for r in table.to_pylist())


def _metric_values(platform: Platform) -> list[tuple[object, ...]]:
    return sorted(tuple(r.values()) for r in read_metric_values(platform, AS_OF).to_pylist())


@pytest.fixture
def demo(sqlite_platform: Platform) -> Platform:
    run_demo(sqlite_platform, SMALL, force=True)
    compute_metrics(sqlite_platform, AS_OF)
    return sqlite_platform


@pytest.mark.parametrize("target", ["sqlite", "postgresql"])
def test_a_backup_of_the_demo_restores_to_identical_figures(
    demo: Platform, target: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    archive = tmp_path / "kizuna-backup.tar"
    report = backup(demo, archive)
    assert report.tables["accounts"] == 30
    assert report.events == len(_events(demo)) > 0
    assert archive.stat().st_mode & 0o777 == 0o600

    home = tmp_path / "restored"
    if target == "sqlite":
        settings = Settings(home=home)
    else:
        url = request.getfixturevalue("pg_database_url")
        settings = Settings(home=home, database_url=url)
        _empty_postgres(url)
    restored = Platform.from_settings(settings, clock=demo.clock)
    try:
        result = restore(restored, archive)
        assert result.dialect_to == target
        assert _rows(restored.store) == _rows(demo.store)
        assert _events(restored) == _events(demo)
        assert _metric_values(restored) == _metric_values(demo)
        # the figures computed again from the restored data are the same
        compute_metrics(restored, AS_OF)
        assert _metric_values(restored) == _metric_values(demo)
        # the rebuilt dedupe index knows every restored event
        first = read_events(LakeLayout(restored.settings.lake_dir)).slice(0, 1).to_pylist()[0]
        again = ingest_records(restored, [{**first, "timestamp": first["timestamp"]}], source="t")
        assert (again.accepted, again.duplicates) == (0, 1)
        # a restore never lands on data
        with pytest.raises(Conflict, match="empty"):
            restore(restored, archive)
    finally:
        restored.close()


def _empty_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {names}, alembic_version CASCADE"))
    engine.dispose()


def test_a_damaged_archive_is_refused_before_anything_is_written(
    demo: Platform, tmp_path: Path
) -> None:
    archive = tmp_path / "b.tar"
    backup(demo, archive)
    damaged = tmp_path / "damaged.tar"
    with tarfile.open(archive) as src, tarfile.open(damaged, "w") as dst:
        for member in src.getmembers():
            data = src.extractfile(member)
            content = data.read() if data else b""
            if member.name == "store/kizuna.sqlite3":
                content = content[:-10] + b"0123456789"
            member.size = len(content)
            import io

            dst.addfile(member, io.BytesIO(content))
    target = Platform.from_settings(Settings(home=tmp_path / "new"))
    with pytest.raises(InvalidInput) as caught:
        restore(target, damaged)
    assert [p.where for p in caught.value.problems] == ["store/kizuna.sqlite3"]
    store_file = tmp_path / "new" / "kizuna.sqlite3"  # created empty, owner-only, by the Store
    assert not store_file.exists() or store_file.stat().st_size == 0
    assert not (tmp_path / "new" / "lake").exists()


def test_a_backup_taken_on_either_store_restores_into_postgresql(
    platform: Platform, tmp_path: Path
) -> None:
    """The demo on SQLite or PostgreSQL (COPY in one snapshot), back into a fresh database."""
    import uuid

    from tests.conftest import PG_ADMIN_URL, _pg_available

    if _pg_available():
        pytest.skip("PostgreSQL not reachable")
    run_demo(platform, SMALL, force=True)
    archive = tmp_path / "b.tar"
    report = backup(platform, archive)
    assert report.dialect == platform.store.engine.dialect.name
    name = f"kizuna_restore_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    restored = Platform.from_settings(Settings(home=tmp_path / "r", database_url=url))
    try:
        restore(restored, archive)
        assert _rows(restored.store) == _rows(platform.store)
        assert _events(restored) == _events(platform)
        # new rows get new ids after a restore (sequences moved past the restored ones)
        from kizuna.auth.audit import record_audit

        record_audit(restored, None, action="login", resource="session", allowed=False)
    finally:
        restored.close()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_backup_taken_during_ingest_restores_consistently(
    sqlite_platform: Platform, tmp_path: Path
) -> None:
    """Kizuna keeps running: batches land while the backup is taken, and the archive holds
    whole batches only, with the store and the lake each as of one moment."""
    import threading

    from kizuna.store.models import Account

    platform = sqlite_platform
    with platform.store.session() as session:
        session.add_all([Account(id=f"a{i}", name=f"A{i}") for i in range(5)])
    stop = threading.Event()
    landed: list[int] = []

    def keep_ingesting() -> None:
        n = 0
        while not stop.is_set():
            batch = [
                {
                    "message_id": f"m{n}-{k}",
                    "account_id": f"a{k % 5}",
                    "event": "login",
                    "timestamp": f"2025-06-{1 + n % 28:02d}T10:00:00Z",
                }
                for k in range(50)
            ]
            ingest_records(platform, batch, source="live")
            n += 1
            landed.append(n)

    worker = threading.Thread(target=keep_ingesting)
    worker.start()
    try:
        while len(landed) < 3:
            stop.wait(0.05)
        report = backup(platform, tmp_path / "live.tar")
        while len(landed) < report.events // 50 + 3:
            stop.wait(0.05)
    finally:
        stop.set()
        worker.join()
    assert report.events % 50 == 0  # whole batches only
    assert 0 < report.events < len(_events(platform))  # ingest went on during and after
    restored = Platform.from_settings(Settings(home=tmp_path / "r"), clock=platform.clock)
    try:
        restore(restored, tmp_path / "live.tar")
        events = _events(restored)
        assert len(events) == len(set(events)) == report.events
        assert set(events) <= set(_events(platform))
    finally:
        restored.close()
