"""``kizuna demo`` as a service: a fresh store loaded with a simulated customer base.

Steps: refuse if the data folder already holds a store (unless ``force``, which
drops it), migrate a fresh store, simulate into a temporary folder inside the
data folder, import the tables with :func:`kizuna.dataio.import_file` (in
reference order), move the event partitions into the lake and keep the ground
truth under ``<home>/sim/``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from kizuna.errors import Conflict
from kizuna.lake.layout import LakeLayout
from kizuna.platform import Platform
from kizuna.sim.config import SimConfig
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


def existing_data(platform: Platform) -> str | None:
    """Why the data folder is not fresh (a store or lake events exist), or None."""
    revision = platform.store.current_revision()
    if revision is not None:
        return f"a store already exists at {platform.store.safe_url} (migration {revision})"
    events = LakeLayout(platform.settings.lake_dir).event_files()
    if events:
        return f"the lake at {platform.settings.lake_dir} already holds {len(events)} event files"
    return None


def reset_data(platform: Platform) -> None:
    """Drop every table of the store and remove the lake's events and the sim truth."""
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
    for folder in (
        LakeLayout(platform.settings.lake_dir).events_dir,
        platform.settings.home / "sim",
    ):
        shutil.rmtree(folder, ignore_errors=True)


def run_demo(
    platform: Platform,
    config: SimConfig,
    *,
    force: bool = False,
    progress: ProgressCallback | None = None,
) -> DemoSummary:
    """Initialise a fresh store, simulate ``config`` and load it; see the module docstring."""
    from kizuna.dataio import import_file

    reason = existing_data(platform)
    if reason and not force:
        raise Conflict(f"{reason}; use --force to replace it, or another --home")
    if reason:
        reset_data(platform)
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
        for part in LakeLayout(work / "out" / "lake").event_files():
            target = layout.events_dir / part.parent.name / part.name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, target)
        truth_dir = home / "sim"
        truth_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(work / "out" / TRUTH_FILE, truth_dir / TRUTH_FILE)
        (truth_dir / "config.json").write_text(config.model_dump_json(indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    counts = table_counts(platform.store)
    loaded = {table: counts[STORE_TABLE[table]] for table in IMPORT_ORDER}
    return DemoSummary(
        home=home,
        store=platform.store.safe_url,
        simulation=summary,
        loaded=loaded,
        lake_events_dir=layout.events_dir,
        truth_file=truth_dir / TRUTH_FILE,
    )


def _import_progress(progress: ProgressCallback, table: str) -> ProgressCallback:
    def report(phase: str, done: int, total: int) -> None:
        progress(f"import {table} ({phase})", done, total)

    return report
