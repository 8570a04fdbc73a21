"""The daily run on a small simulated book: every step's output, idempotent, failures named,
each date computed as of itself."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kizuna.daily import (
    PORTFOLIO_FILE,
    STEPS,
    DailyStepFailed,
    daily_dates,
    daily_dir,
    lifecycle_detail_of,
    portfolio_dates,
    read_lifecycle_book,
    read_portfolio,
    run_daily,
)
from kizuna.errors import InvalidInput, KizunaError
from kizuna.health.snapshots import snapshot_dates
from kizuna.lifecycle import definition_for, show_account, stored_transitions
from kizuna.metrics.service import read_metric_values
from kizuna.platform import Platform
from kizuna.retention import Ledger, arr_at
from kizuna.settings import Settings
from kizuna.sim import SimConfig
from kizuna.sim.demo import run_demo

DAY = date(2025, 6, 30)
BOOK = SimConfig(accounts=60, seed=5, start_date=date(2025, 1, 1), end_date=DAY)


def _counts(platform: Platform) -> tuple[int, int, int, int]:
    transitions = stored_transitions(platform, until=DAY)
    return (
        read_metric_values(platform, as_of=DAY).num_rows,
        pq.read_table(
            platform.settings.home / "health" / f"as_of={DAY}" / "health.parquet"
        ).num_rows,
        sum(len(h) for h in transitions.values()),
        pq.read_table(
            platform.settings.home / "daily" / f"as_of={DAY}" / "accounts.parquet"
        ).num_rows,
    )


def test_the_daily_run_writes_every_snapshot_and_a_rerun_replaces_them(platform: Platform) -> None:
    run_demo(platform, BOOK, force=True)
    done = run_daily(platform, [DAY])
    assert [s.step for s in done.steps] == list(STEPS)
    assert snapshot_dates(platform.settings) == [DAY]
    assert portfolio_dates(platform.settings) == [DAY]
    first = _counts(platform)
    metrics, health, transitions, accounts = first
    assert metrics > 0 and transitions > 0
    assert 0 < health <= 60 and health <= accounts <= 60  # health rows ⊆ portfolio rows
    snapshot = read_portfolio(platform.settings, DAY)
    assert snapshot is not None and snapshot.as_of == DAY
    total = sum((f.arr for f in snapshot.facts.values() if f.arr is not None), start=0)
    assert total == snapshot.windows["month"].movements(None).end_arr
    # Each account's lifecycle detail is what show_account gives for it, one by one.
    book = read_lifecycle_book(platform.settings, DAY)
    assert book is not None and book.as_of == DAY
    definition = definition_for(platform.settings.home)
    assert book.details == {
        a: lifecycle_detail_of(show_account(platform, definition, a, DAY), definition)
        for a in book.details
    }
    assert len(book.details) == 60 and set(book.stamps) == set(book.details)
    assert any(d is not None and d.milestones for d in book.details.values())
    # Running the date again replaces everything it wrote: nothing is duplicated.
    run_daily(platform, [DAY])
    assert _counts(platform) == first
    assert portfolio_dates(platform.settings) == [DAY]


def test_a_failing_step_is_named_and_stops_the_run(platform: Platform) -> None:
    ran: list[str] = []

    def ok(_: Platform, days: list[date]) -> str:
        ran.append("metrics")
        return "fine"

    def broken(_: Platform, days: list[date]) -> str:
        raise RuntimeError("scorecard exploded")

    def never(_: Platform, days: list[date]) -> str:
        ran.append("lifecycle")
        return "unreachable"

    steps = {"metrics": ok, "health": broken, "lifecycle": never}
    with pytest.raises(DailyStepFailed) as failed:
        run_daily(platform, [DAY], steps=steps)
    assert failed.value.step == "health"
    assert str(failed.value) == "daily run step 'health' failed for 2025-06-30: scorecard exploded"
    assert ran == ["metrics"]


def test_a_damaged_snapshot_is_an_error_not_code(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    folder = daily_dir(settings) / "as_of=2025-06-30"
    folder.mkdir(parents=True)
    (folder / PORTFOLIO_FILE).write_bytes(b'{"as_of": "not a date"}')
    with pytest.raises(KizunaError, match="re-run 'kizuna daily --as-of 2025-06-30'"):
        read_portfolio(settings, date(2025, 6, 30))


def test_the_daily_run_compacts_small_part_files_before_the_metrics(platform: Platform) -> None:
    """Events that arrived in many small batches (as from the collection API) are merged
    by the first step; the metrics read them once each."""
    from kizuna.lake.ingest import ingest_records
    from kizuna.lake.layout import LakeLayout

    run_demo(platform, BOOK, force=True)
    run_daily(platform, [DAY])
    account = read_metric_values(platform, as_of=DAY).column("account_id")[0].as_py()

    def reports() -> float:
        table = read_metric_values(
            platform, as_of=DAY, account_id=account, metrics=["reports_created_28d"]
        )
        return float(table.column("value")[0].as_py())

    prior = reports()
    before = {
        f for f in LakeLayout(platform.settings.lake_dir).event_files() if "2025-06-29" in str(f)
    }
    for batch in range(10):  # ten batches, ten part files in the 2025-06-29 partition
        ingest_records(
            platform,
            [
                {
                    "message_id": f"late-{batch}-{i}",
                    "account_id": account,
                    "user_id": "late-user",
                    "event": "report_created",
                    "timestamp": "2025-06-29T12:00:00Z",
                }
                for i in range(3)
            ],
            source="test",
        )
    partition = {
        f for f in LakeLayout(platform.settings.lake_dir).event_files() if "2025-06-29" in str(f)
    }
    assert len(partition - before) == 10
    done = run_daily(platform, [DAY])
    lake = done.steps[0]
    assert lake.step == "lake" and "compacted" in lake.detail, lake.detail
    after = {
        f for f in LakeLayout(platform.settings.lake_dir).event_files() if "2025-06-29" in str(f)
    }
    assert len(after) < len(partition)
    assert reports() == prior + 30  # every late event counted once
    again = run_daily(platform, [DAY])
    assert "nothing to compact" in again.steps[0].detail
    assert reports() == prior + 30


def test_each_date_of_a_range_is_computed_as_of_itself(platform: Platform) -> None:
    """No stopped clock carries the date: each step gets it as an argument."""
    run_demo(platform, BOOK, force=True)
    earlier = date(2025, 5, 31)
    run_daily(platform, [earlier, DAY])
    assert portfolio_dates(platform.settings) == [earlier, DAY]
    with Ledger.load(platform.store, platform.settings, rollup=False) as ledger:
        for day in (earlier, DAY):
            snapshot = read_portfolio(platform.settings, day)
            assert snapshot is not None and snapshot.as_of == day
            book = read_lifecycle_book(platform.settings, day)
            assert book is not None and book.as_of == day
            arr = {a.account_id: a.arr for a in arr_at(ledger, day).accounts}
            assert {a: f.arr for a, f in snapshot.facts.items() if f.arr is not None} == arr


def test_bad_dates_are_reported_together_by_field() -> None:
    with pytest.raises(InvalidInput) as bad:
        daily_dates(DAY, date(2025, 7, 2), date(2025, 7, 1), DAY)
    assert [(p.field, p.message) for p in bad.value.problems] == [
        ("as_of", "give either as_of or start and end, not both"),
        ("end", "end is before start"),
    ]
    assert daily_dates(None, date(2025, 6, 29), DAY, DAY) == [date(2025, 6, 29), DAY]
    assert daily_dates(None, None, None, DAY) == [DAY]
