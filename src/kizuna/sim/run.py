"""``simulate(config, out_dir)``: write a whole simulated customer base to a folder.

Output (see ``docs/simulator.md``)::

    out_dir/
      team.csv accounts.csv contacts.csv contracts.csv      in `kizuna import` format
      tickets.csv surveys.csv activities.csv fx_rates.csv
      lake/events/event_date=YYYY-MM-DD/part-sim-000000.parquet
      truth.parquet                                         latent ground truth per account
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from kizuna.errors import Conflict
from kizuna.lake.layout import LakeLayout
from kizuna.sim.config import SimConfig
from kizuna.sim.customers import (
    BLOCK_SIZE,
    TRUTH_COLUMNS,
    Calendar,
    build_team,
    fx_rate_rows,
    simulate_block,
)
from kizuna.sim.events import build_plan, simulate_day
from kizuna.sim.touchpoints import block_touchpoints
from kizuna.sim.writer import TABLE_FILES, TableWriters

#: ``progress(stage, done, total)``; stages are "customers" and "events".
ProgressCallback = Callable[[str, int, int], None]

TRUTH_FILE = "truth.parquet"
CSV_TABLES = (
    "team",
    "accounts",
    "contacts",
    "contracts",
    "tickets",
    "surveys",
    "activities",
    "fx-rates",
)


@dataclass(frozen=True)
class SimSummary:
    """What one simulation wrote."""

    seed: int
    start_date: date
    end_date: date
    out_dir: Path
    rows: dict[str, int]  # table -> rows written (CSV tables, in import order)
    events: int
    event_partitions: int
    first_event_at: datetime | None
    last_event_at: datetime | None
    accounts_by_segment: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    arr_end_usd: float = 0.0  # ARR of lines live on end_date, converted at list rates


def simulate(
    config: SimConfig, out_dir: Path, progress: ProgressCallback | None = None
) -> SimSummary:
    """Simulate the customer base described by ``config`` into ``out_dir``.

    Refuses (``Conflict``) to write into a folder that already holds simulator
    output, so two runs never mix. The same config always writes byte-identical
    files.
    """
    out_dir = Path(out_dir)
    if (out_dir / TABLE_FILES["accounts"]).exists() or (out_dir / "lake").exists():
        raise Conflict(f"{out_dir} already holds simulated data; choose an empty folder")
    report = progress or (lambda stage, done, total: None)
    cal = Calendar(config)
    team = build_team(config)
    n_blocks = math.ceil(config.accounts / BLOCK_SIZE)
    truth: dict[str, list[object]] = {k: [] for k in TRUTH_COLUMNS}
    ids: list[str] = []
    n_users, region, live, onboarding, engagement = [], [], [], [], []
    arr_end = 0.0
    with TableWriters(out_dir, CSV_TABLES) as writers:
        writers.write("team", team.rows)
        writers.write("fx-rates", fx_rate_rows(config, cal))
        report("customers", 0, n_blocks)
        for b in range(n_blocks):
            block = simulate_block(config, cal, team, b)
            writers.write("accounts", block.accounts)
            writers.write("contacts", block.contacts)
            writers.write("contracts", block.contracts)
            tickets, answers, activities = block_touchpoints(config.seed, cal, block, b)
            writers.write("tickets", tickets)
            writers.write("surveys", answers)
            writers.write("activities", activities)
            for key in TRUTH_COLUMNS:
                truth[key].extend(block.truth[key])
            ids.extend(block.ids)
            n_users.append(block.n_users)
            region.append(block.region)
            live.append(block.live)
            onboarding.append(block.onboarding)
            engagement.append(block.engagement)
            arr_end += block.arr_end_usd
            report("customers", b + 1, n_blocks)
        rows = dict(writers.counts)
    pq.write_table(pa.table(truth), out_dir / TRUTH_FILE, compression="zstd")

    plan = build_plan(
        config.seed,
        ids,
        np.concatenate(n_users),
        np.concatenate(region),
        np.concatenate(live),
        np.concatenate(onboarding),
        np.concatenate(engagement),
    )
    del engagement, live, onboarding
    layout = LakeLayout(out_dir / "lake")
    layout.events_dir.mkdir(parents=True, exist_ok=True)
    events = partitions = 0
    first_us: int | None = None
    last_us: int | None = None
    report("events", 0, cal.n_days)
    for day in range(cal.n_days):
        result = simulate_day(
            plan, cal, layout, day, seed=config.seed, activity_scale=config.activity_scale
        )
        if result.events:
            events += result.events
            partitions += 1
            first_us = result.first_ts_us if first_us is None else first_us
            last_us = result.last_ts_us
        report("events", day + 1, cal.n_days)

    segments: dict[str, int] = {}
    for s in truth["segment"]:
        segments[str(s)] = segments.get(str(s), 0) + 1
    outcomes: dict[str, int] = {}
    for o in truth["outcome"]:
        outcomes[str(o)] = outcomes.get(str(o), 0) + 1
    for later in truth["later_renewals"]:  # the terms decided after the first (longer windows)
        for decided in str(later).split("; ") if later else ():
            o = decided.split(" ", 1)[1]
            outcomes[o] = outcomes.get(o, 0) + 1
    return SimSummary(
        seed=config.seed,
        start_date=config.start_date,
        end_date=config.end_date,
        out_dir=out_dir,
        rows=rows,
        events=events,
        event_partitions=partitions,
        first_event_at=_from_us(first_us),
        last_event_at=_from_us(last_us),
        accounts_by_segment=dict(sorted(segments.items())),
        outcomes=dict(sorted(outcomes.items())),
        arr_end_usd=round(arr_end, 2),
    )


def _from_us(us: int | None) -> datetime | None:
    if us is None:
        return None
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC)
