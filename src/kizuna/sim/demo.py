"""``kizuna demo`` as a service: a fresh store loaded with a simulated customer base.

Steps: refuse if the data folder already holds a store (unless ``force``, which
backs it up under ``<home>/backups/`` and then replaces it), migrate a fresh
store, simulate into a temporary folder inside the data folder, import the
tables with :func:`kizuna.dataio.import_file` (in reference order), move the
event partitions into the lake and keep the ground truth under ``<home>/sim/``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import sqlalchemy as sa

from kizuna.dataio import import_file
from kizuna.errors import Conflict
from kizuna.lake.index import LakeIndex, index_path
from kizuna.lake.layout import LakeLayout
from kizuna.platform import Platform
from kizuna.sim.config import SimConfig
from kizuna.sim.opportunities import simulate_opportunities
from kizuna.sim.plans import seed_demo_plans
from kizuna.sim.run import TRUTH_FILE, ProgressCallback, SimSummary, simulate
from kizuna.sim.writer import TABLE_FILES
from kizuna.store.stats import table_counts

#: Import order: every table after the tables it references.
IMPORT_ORDER = (
    "team",
    "accounts",
    "contacts",
    "fx-rates",
    "contracts",
    "tickets",
    "surveys",
    "activities",
)
#: Store table of each import table, to compare what landed with what was simulated.
STORE_TABLE = {
    "team": "team_members",
    "accounts": "accounts",
    "contacts": "contacts",
    "fx-rates": "fx_rates",
    "contracts": "contract_lines",
    "tickets": "tickets",
    "surveys": "survey_responses",
    "activities": "activities",
}


@dataclass(frozen=True)
class DemoSummary:
    """What ``kizuna demo`` loaded."""

    home: Path
    store: str
    simulation: SimSummary
    loaded: dict[str, int]  # import table -> rows now in the store
    lake_events_dir: Path
    truth_file: Path
    backup: Path | None = None  # where replaced data was saved (``force``)
    plans: int = 0  # success plans created for enterprise and some mid-market accounts


def existing_data(platform: Platform) -> str | None:
    """Why the data folder is not fresh (a store or lake events exist), or None."""
    revision = platform.store.current_revision()
    if revision is not None:
        return f"a store already exists at {platform.store.safe_url} (migration {revision})"
    events = LakeLayout(platform.settings.lake_dir).event_files()
    if events:
        return f"the lake at {platform.settings.lake_dir} already holds {len(events)} event files"
    return None


def backup_data(platform: Platform) -> Path:
    """Copy the store and move the lake's events and sim truth into a new backup folder.

    Users' data is never dropped without a way back: SQLite stores are copied with
    SQLite's online backup API; other stores are dumped table by table as JSON Lines
    (one file per table, rows as the database returns them). Returns the folder.
    """
    stamp = platform.clock.now().strftime("%Y%m%dT%H%M%S%fZ")
    backups = platform.settings.home / "backups"
    backups.mkdir(parents=True, exist_ok=True)
    target = backups / f"before-demo-{stamp}"
    n = 0
    while True:  # a fixed clock (tests) or a fast second run gives the same stamp
        try:
            target.mkdir()
            break
        except FileExistsError:
            n += 1
            target = backups / f"before-demo-{stamp}-{n}"
    engine = platform.store.engine
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            source = conn.connection.dbapi_connection
            copy = sqlite3.connect(target / "kizuna.sqlite3")
            try:
                source.backup(copy)  # type: ignore[union-attr]
            finally:
                copy.close()
    else:
        metadata = sa.MetaData()
        with engine.connect() as conn:
            metadata.reflect(conn)
            for table in metadata.sorted_tables:
                with open(target / f"{table.name}.jsonl", "wb") as handle:
                    for row in conn.execute(table.select()).mappings():
                        record = {str(k): v for k, v in row.items()}  # names may be quoted_name
                        handle.write(orjson.dumps(record, default=str) + b"\n")
    for folder, name in (
        (LakeLayout(platform.settings.lake_dir).events_dir, "lake-events"),
        (platform.settings.home / "sim", "sim"),
    ):
        if folder.exists():
            os.replace(folder, target / name)
    return target


def reset_data(platform: Platform) -> Path:
    """Back up (see :func:`backup_data`), then drop every table of the store and
    remove the lake's events and the sim truth. Returns the backup folder."""
    backup = backup_data(platform)
    engine = platform.store.engine
    metadata = sa.MetaData()
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            # self-references (a parent account) make SQLite refuse DROP TABLE under FK checks
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        metadata.reflect(conn)
        metadata.drop_all(conn)
        conn.commit()
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
    layout = LakeLayout(platform.settings.lake_dir)
    for folder in (layout.events_dir, platform.settings.home / "sim"):
        shutil.rmtree(folder, ignore_errors=True)
    if index_path(layout).exists():
        index = LakeIndex(layout)
        with index.locked():  # the removed events' ids are no longer known
            index.clear()
    return backup


def _land_events(simulated: LakeLayout, layout: LakeLayout) -> None:
    """Move the simulated part files into the lake as one ingest batch: recorded as
    pending, moved, then their message ids committed to the dedupe index, so a
    re-sent demo event is a duplicate like any other (issue 13)."""
    parts = simulated.event_files()
    targets = [layout.events_dir / part.parent.name / part.name for part in parts]
    index = LakeIndex(layout)
    with index.locked():
        index.begin_batch(targets)
        ids: list[str] = []
        for part, target in zip(parts, targets, strict=True):
            ids.extend(pq.read_table(part, columns=["message_id"]).column("message_id").to_pylist())
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, target)
        index.commit_batch(ids)


def run_demo(
    platform: Platform,
    config: SimConfig,
    *,
    force: bool = False,
    progress: ProgressCallback | None = None,
) -> DemoSummary:
    """Initialise a fresh store, simulate ``config`` and load it; see the module docstring."""

    reason = existing_data(platform)
    if reason and not force:
        raise Conflict(f"{reason}; use --force to replace it, or another --home")
    backup = reset_data(platform) if reason else None
    home = platform.settings.home
    home.mkdir(parents=True, exist_ok=True)
    platform.store.upgrade()
    layout = LakeLayout(platform.settings.lake_dir)
    # inside the data folder, so moving the partitions is a rename on one filesystem
    work = Path(tempfile.mkdtemp(prefix=".sim-", dir=home))
    try:
        summary = simulate(config, work / "out", progress)
        for table in IMPORT_ORDER:
            report = None if progress is None else _import_progress(progress, table)
            import_file(platform, table, work / "out" / TABLE_FILES[table], progress=report)
        _land_events(LakeLayout(work / "out" / "lake"), layout)
        truth_dir = home / "sim"
        truth_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(work / "out" / TRUTH_FILE, truth_dir / TRUTH_FILE)
        (truth_dir / "config.json").write_text(config.model_dump_json(indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # the window's closed deals, so the renewal centre and close rates have a history
    simulate_opportunities(platform, config.start_date, config.end_date, config.seed)
    counts = table_counts(platform.store)
    loaded = {table: counts[STORE_TABLE[table]] for table in IMPORT_ORDER}
    # after counting what was imported: the plans add their meetings to the timeline
    if progress is not None:
        progress("success plans", 0, 1)
    plans = seed_demo_plans(platform, summary.end_date)
    if progress is not None:
        progress("success plans", 1, 1)
    return DemoSummary(
        home=home,
        store=platform.store.safe_url,
        simulation=summary,
        loaded=loaded,
        lake_events_dir=layout.events_dir,
        truth_file=truth_dir / TRUTH_FILE,
        backup=backup,
        plans=plans,
    )


def _import_progress(progress: ProgressCallback, table: str) -> ProgressCallback:
    def report(phase: str, done: int, total: int) -> None:
        progress(f"import {table} ({phase})", done, total)

    return report
