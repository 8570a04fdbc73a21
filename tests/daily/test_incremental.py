"""A daily run that advances from the previous run's state gives the same results as one
computed from scratch: lifecycle transitions and completions, health (with the measures that
rank an account against its segment peers), each account's lifecycle detail, the onboarding
report and the portfolio snapshot.

"From scratch" keeps the inputs equal: the health snapshots of the earlier dates are part of
what stage rules read ("health band is red" on a past day), so the full side computes them
too; everything derived — the roll-ups, the lifecycle from each account's first day, the
read models — it computes in one run."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import sqlalchemy as sa

from kizuna.clock import FixedClock
from kizuna.daily import read_lifecycle_book, read_portfolio, run_daily
from kizuna.daily.files import read_onboarding
from kizuna.health import compute_health_range, default_scorecard_path
from kizuna.lifecycle import stored_transitions
from kizuna.metrics import compute_metrics
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.sim import SimConfig
from kizuna.sim.demo import run_demo
from kizuna.store import Store
from kizuna.store.lifecycle_models import MilestoneCompletion

DAY = date(2025, 6, 30)
BOOK = SimConfig(accounts=60, seed=11, start_date=date(2025, 1, 1), end_date=DAY)


def _completions(platform: Platform) -> list[tuple[Any, ...]]:
    with platform.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                MilestoneCompletion.account_id,
                MilestoneCompletion.milestone_id,
                MilestoneCompletion.source,
                MilestoneCompletion.completed_on,
                MilestoneCompletion.condition,
            )
        ).all()
    return sorted(tuple(str(v) for v in r) for r in rows)


def _table(platform: Platform, *parts: str) -> list[dict[str, Any]]:
    table = pq.read_table(platform.settings.home.joinpath(*parts))
    return table.sort_by("account_id").to_pylist()


def test_advancing_day_by_day_equals_a_full_recompute(
    sqlite_platform: Platform, tmp_path: Path, clock: FixedClock
) -> None:
    incremental = sqlite_platform
    run_demo(incremental, BOOK, force=True)
    # the same book, copied before any daily run: computed from scratch for DAY only
    full_home = tmp_path / "full" / "home"
    shutil.copytree(incremental.settings.home, full_home)
    with (
        closing(sqlite3.connect(tmp_path / "kizuna.sqlite3")) as source,
        closing(sqlite3.connect(tmp_path / "full" / "kizuna.sqlite3")) as target,
    ):
        source.backup(target)  # the store as run_demo left it (its WAL included)
    store = Store(f"sqlite:///{tmp_path / 'full' / 'kizuna.sqlite3'}")
    full = Platform(
        settings=Settings(home=full_home, database_url=store.url), store=store, clock=clock
    )
    earlier = [DAY - timedelta(days=15), DAY - timedelta(days=8), DAY - timedelta(days=1)]
    try:
        for day in earlier:
            run_daily(incremental, [day])
        run_daily(incremental, [DAY])
        # The same inputs (the health history of the earlier dates, which stage rules read),
        # then everything derived computed from scratch in one run: the roll-ups, the whole
        # lifecycle from each account's first day, the read models.
        compute_metrics(full, earlier)
        for day in earlier:
            compute_health_range(full, day, day)
        run_daily(full, [DAY])

        # lifecycle: the incremental run evaluated only the days since the previous one
        assert stored_transitions(incremental, until=DAY) == stored_transitions(full, until=DAY)
        assert sum(len(h) for h in stored_transitions(full, until=DAY).values()) > 0
        assert _completions(incremental) == _completions(full)
        # health, including the percentile measures that rank an account among its peers
        health = ("health", f"as_of={DAY}", "health.parquet")
        assert "scheme: percentile" in default_scorecard_path().read_text()
        assert _table(incremental, *health) == _table(full, *health)
        # the read models the pages show
        assert read_lifecycle_book(incremental.settings, DAY) == read_lifecycle_book(
            full.settings, DAY
        )
        assert read_onboarding(incremental.settings, DAY) == read_onboarding(full.settings, DAY)
        accounts = ("daily", f"as_of={DAY}", "accounts.parquet")
        assert _table(incremental, *accounts) == _table(full, *accounts)
        assert read_portfolio(incremental.settings, DAY) == read_portfolio(full.settings, DAY)
    finally:
        store.dispose()
