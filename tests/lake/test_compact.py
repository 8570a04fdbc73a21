"""Compaction merges small part files without losing, duplicating or changing an event."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kizuna.cli import run
from kizuna.errors import InvalidInput, Problem
from kizuna.lake.compact import CompactedPartition, compact_lake
from kizuna.lake.index import LakeIndex, staged_path
from kizuna.lake.ingest import ingest_records
from kizuna.lake.layout import EVENT_SCHEMA, LakeLayout, atomic_write_parquet
from kizuna.lake.reader import event_files, read_events
from kizuna.metrics import compute_metrics, read_metric_values
from kizuna.metrics.definitions import parse_definitions
from kizuna.platform import Platform
from kizuna.store.models import Account

ACCOUNTS = ["acme", "beta", "gamma"]
DAYS = [date(2025, 6, 1), date(2025, 6, 2), date(2025, 6, 3)]

Row = tuple[str, str, str | None, str, str, str | None]


def events(batches: int, per_day: int, days: list[date] = DAYS, prefix: str = "m") -> list[Any]:
    """``batches`` lists of events, each with ``per_day`` events on every day of ``days``."""
    rng = random.Random(f"{prefix}{batches}{per_day}")
    out = []
    n = 0
    for _ in range(batches):
        batch = []
        for day in days:
            for _ in range(per_day):
                batch.append(
                    {
                        "message_id": f"{prefix}{n:05d}",
                        "account_id": rng.choice(ACCOUNTS),
                        "user_id": rng.choice(["u1", "u2", "u3", None]),
                        "event": rng.choice(["login", "export_run", "report_created"]),
                        "timestamp": f"{day.isoformat()}T{rng.randrange(24):02d}:"
                        f"{rng.randrange(60):02d}:{rng.randrange(60):02d}Z",
                        "properties": {"rows": rng.randrange(1000)},
                    }
                )
                n += 1
        out.append(batch)
    return out


def land(platform: Platform, batches: list[Any]) -> None:
    """Ingest each batch in its own call: one part file per batch and day, as the API does."""
    for batch in batches:
        report = ingest_records(platform, batch, source="api")
        assert (report.accepted, report.quarantined) == (len(batch), 0)


def add_accounts(platform: Platform) -> None:
    with platform.store.session() as session:
        session.add_all([Account(id=a, name=a.title()) for a in ACCOUNTS])


def layout_of(platform: Platform) -> LakeLayout:
    return LakeLayout(platform.settings.lake_dir)


def lake_rows(layout: LakeLayout) -> list[Row]:
    """Every event, with every column, sorted: equal lists mean the same multiset of rows."""
    table = read_events(layout)
    return sorted(
        (
            r["message_id"],
            r["account_id"],
            r["user_id"],
            r["event"],
            r["timestamp"].isoformat(),
            r["properties"],
        )
        for r in table.to_pylist()
    )


def part_names(layout: LakeLayout, day: date) -> list[str]:
    """The part files readers list in ``day``'s partition."""
    return sorted(p.name for p in event_files(layout, day, day))


def disk_names(layout: LakeLayout, day: date) -> list[str]:
    """Every part file in ``day``'s folder, listed or superseded."""
    return sorted(p.name for p in layout.partition_dir(day).glob("*.parquet"))


def superseded_names(layout: LakeLayout, day: date) -> list[str]:
    with LakeIndex(layout).locked() as index:
        return [p.name for p in index.superseded() if p.parent == layout.partition_dir(day)]


def leftovers(layout: LakeLayout) -> list[Path]:
    """Temporary or staged files left in the events area."""
    return sorted(p for p in layout.events_dir.rglob("*") if p.is_file() and p.suffix != ".parquet")


def recorded_compaction(layout: LakeLayout) -> int:
    with LakeIndex(layout).locked() as index:
        return int(index.conn.execute("SELECT count(*) FROM compacting").fetchone()[0])


def assert_sorted_by_account_and_time(path: Path) -> None:
    table = pq.read_table(path, schema=EVENT_SCHEMA)
    accounts = table.column("account_id").to_pylist()
    keys = list(zip(accounts, table.column("timestamp").to_pylist(), strict=True))
    assert keys == sorted(keys), path.name


@pytest.fixture
def lake(sqlite_platform: Platform) -> Platform:
    """Three day partitions of 12 part files of 20 events each (720 events)."""
    add_accounts(sqlite_platform)
    land(sqlite_platform, events(batches=12, per_day=20))
    return sqlite_platform


def test_merges_each_partition_into_one_sorted_file_with_the_same_rows(lake: Platform) -> None:
    layout = layout_of(lake)
    before = lake_rows(layout)
    assert [len(part_names(layout, d)) for d in DAYS] == [12, 12, 12]
    report = compact_lake(lake)
    assert report.partitions == [
        CompactedPartition(event_date=d, files_before=12, files_after=1, events=240) for d in DAYS
    ]
    assert (report.partitions_checked, report.partitions_compacted) == (3, 3)
    assert (report.files_before, report.files_after, report.events) == (36, 3, 720)
    assert report.refused == []
    assert lake_rows(layout) == before
    for day in DAYS:
        (only,) = event_files(layout, day, day)
        assert pq.read_metadata(only).num_rows == 240
        assert_sorted_by_account_and_time(only)
        # the replaced files stay on disk, superseded, for readers that listed them
        assert len(superseded_names(layout, day)) == 12
        assert disk_names(layout, day) == sorted([only.name, *superseded_names(layout, day)])
    assert leftovers(layout) == []
    assert recorded_compaction(layout) == 0


def test_bounded_files_and_a_second_run_finds_nothing_to_do(lake: Platform) -> None:
    layout = layout_of(lake)
    before = lake_rows(layout)
    # Files of 20 events, at most 100 per merged file: bins of 5 + 5 + 2 files.
    first = compact_lake(lake, min_files=4, target_rows=100)
    assert (first.files_before, first.files_after, first.events) == (36, 9, 720)
    for day in DAYS:
        counts = sorted(pq.read_metadata(p).num_rows for p in event_files(layout, day, day))
        assert counts == [40, 100, 100]
        for path in event_files(layout, day, day):
            assert_sorted_by_account_and_time(path)
    names = {d: part_names(layout, d) for d in DAYS}
    second = compact_lake(lake, min_files=2, target_rows=100)
    assert (second.partitions_checked, second.partitions_compacted, second.files_before) == (
        3,
        0,
        0,
    )
    assert {d: part_names(layout, d) for d in DAYS} == names
    assert lake_rows(layout) == before


def test_partitions_below_the_threshold_or_not_asked_for_are_left_alone(
    sqlite_platform: Platform,
) -> None:
    platform = sqlite_platform
    add_accounts(platform)
    land(platform, events(batches=10, per_day=5, days=DAYS[:1]))
    land(platform, events(batches=3, per_day=5, days=DAYS[1:2], prefix="n"))
    land(platform, events(batches=10, per_day=5, days=DAYS[2:], prefix="o"))
    layout = layout_of(platform)
    names = {d: part_names(layout, d) for d in DAYS}
    report = compact_lake(platform, min_files=4, dates=[DAYS[1], DAYS[2], date(2025, 1, 1)])
    assert report.partitions_checked == 2
    assert report.partitions == [
        CompactedPartition(event_date=DAYS[2], files_before=10, files_after=1, events=50)
    ]
    assert part_names(layout, DAYS[0]) == names[DAYS[0]]  # not asked for
    assert part_names(layout, DAYS[1]) == names[DAYS[1]]  # 3 files < 4
    assert len(lake_rows(layout)) == 115


def test_ingest_after_compaction_still_deduplicates(lake: Platform) -> None:
    layout = layout_of(lake)
    compact_lake(lake)
    batches = events(batches=12, per_day=20)
    resent = ingest_records(lake, [e for batch in batches for e in batch], source="api")
    assert (resent.accepted, resent.duplicates) == (0, 720)
    fresh = events(batches=1, per_day=2, prefix="x")[0]
    report = ingest_records(lake, [*fresh, *batches[0][:5]], source="api")
    assert (report.accepted, report.duplicates) == (6, 5)
    ids = [row[0] for row in lake_rows(layout)]
    assert len(ids) == len(set(ids)) == 726


def test_metric_values_are_the_same_after_compaction(lake: Platform) -> None:
    metrics = parse_definitions(
        {
            "metrics": [
                {"name": "events_7d", "kind": "count", "window_days": 7},
                {
                    "name": "logins_1d",
                    "kind": "count",
                    "filter": {"events": ["login"]},
                    "window_days": 1,
                },
                {"name": "users_7d", "kind": "distinct_users", "window_days": 7},
                {"name": "days_7d", "kind": "active_days", "window_days": 7},
                {
                    "name": "rows_7d",
                    "kind": "sum",
                    "filter": {"events": ["export_run"]},
                    "property": "rows",
                    "window_days": 7,
                },
                {"name": "per_user_7d", "kind": "per_user", "window_days": 7},
                {"name": "since_login", "kind": "days_since_last", "window_days": 30},
            ]
        },
        "test",
    )
    as_of = [date(2025, 6, 1), date(2025, 6, 2), date(2025, 6, 5)]

    def values() -> list[tuple[Any, ...]]:
        table = read_metric_values(lake)
        return sorted(
            (r["account_id"], r["as_of"], r["metric"], r["value"]) for r in table.to_pylist()
        )

    compute_metrics(lake, as_of, metrics)
    before = values()
    assert any(v[2] == "events_7d" and v[3] for v in before)
    assert compact_lake(lake).partitions_compacted == 3
    run_after = compute_metrics(lake, as_of, metrics)
    assert run_after.rollup_days_rebuilt > 0  # the cache saw the partitions change
    assert values() == before


def test_an_unreadable_part_file_leaves_its_partition_alone(lake: Platform) -> None:
    layout = layout_of(lake)
    before = lake_rows(layout)
    bad = layout.partition_dir(DAYS[1]) / "part-broken-000000.parquet"
    bad.write_bytes(b"not parquet at all")
    names = part_names(layout, DAYS[1])
    report = compact_lake(lake)
    assert report.partitions_compacted == 2
    assert [p.where for p in report.refused] == ["event_date=2025-06-02"]
    assert "part-broken-000000.parquet" in report.refused[0].message
    assert report.refused[0].message.endswith("partition left alone")
    assert part_names(layout, DAYS[1]) == names
    bad.unlink()
    assert lake_rows(layout) == before
    assert recorded_compaction(layout) == 0


def test_a_recorded_compaction_without_all_merged_files_is_rolled_back(lake: Platform) -> None:
    layout = layout_of(lake)
    before = lake_rows(layout)
    day = DAYS[0]
    olds = sorted(layout.partition_dir(day).glob("*.parquet"))
    merged = [layout.new_part_path(day, "crashed", i) for i in range(2)]
    index = LakeIndex(layout)
    with index.locked():
        index.begin_compaction(merged, olds)
        table = pa.concat_tables(pq.read_table(p, schema=EVENT_SCHEMA) for p in olds)
        atomic_write_parquet(table.slice(0, 120), staged_path(merged[0]))
        atomic_write_parquet(table.slice(120), staged_path(merged[1]))
        os.replace(staged_path(merged[0]), merged[0])
        # "crash" here: one merged file in place, one staged
    assert merged[0].exists()
    assert lake_rows(layout) == before  # readers leave out the merged files
    assert recorded_compaction(layout) == 0  # taking the lock settled it
    assert lake_rows(layout) == before
    assert sorted(layout.partition_dir(day).glob("*.parquet")) == olds
    assert superseded_names(layout, day) == []
    assert leftovers(layout) == []


def test_a_recorded_compaction_with_every_merged_file_in_place_is_finished(
    lake: Platform,
) -> None:
    layout = layout_of(lake)
    before = lake_rows(layout)
    day = DAYS[0]
    olds = sorted(layout.partition_dir(day).glob("*.parquet"))
    merged = layout.new_part_path(day, "crashed", 0)
    index = LakeIndex(layout)
    with index.locked():
        index.begin_compaction([merged], olds)
        table = pa.concat_tables(pq.read_table(p, schema=EVENT_SCHEMA) for p in olds)
        atomic_write_parquet(table, staged_path(merged))
        os.replace(staged_path(merged), merged)
        olds[0].unlink()
        # "crash" here: the merged file is in place, one replaced file is already gone
        # (as an earlier version, which deleted them at once, could leave it)
    assert lake_rows(layout) == before  # readers leave out the replaced files
    assert recorded_compaction(layout) == 0
    assert lake_rows(layout) == before
    assert part_names(layout, day) == [merged.name]
    assert superseded_names(layout, day) == [p.name for p in olds]
    with LakeIndex(layout).locked() as index:
        assert index.purge_superseded(older_than=timedelta(0)) == len(olds)
    assert disk_names(layout, day) == [merged.name]
    assert superseded_names(layout, day) == []


def test_bad_settings_are_refused(lake: Platform) -> None:
    with pytest.raises(InvalidInput) as caught:
        compact_lake(lake, min_files=1)
    assert caught.value.problems == (
        Problem("1 is too small; use 2 or more", where="--min-files", field="min_files"),
    )


def test_cli_compacts_and_reports(lake: Platform, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(lake.settings.home)
    layout = layout_of(lake)
    assert run(["--home", home, "lake", "compact", "--date", "2025-06-02", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    seconds = out.pop("seconds")
    assert isinstance(seconds, float)
    assert out == {
        "partitions_checked": 1,
        "partitions_compacted": 1,
        "files_before": 12,
        "files_after": 1,
        "events": 240,
        "files_purged": 0,
        "partitions": [
            {"event_date": "2025-06-02", "files_before": 12, "files_after": 1, "events": 240}
        ],
        "refused": [],
    }
    assert run(["--home", home, "lake", "compact", "--min-files", "12"]) == 0
    text = capsys.readouterr().out
    assert "2 of 3 partition(s) compacted: 24 part files → 2, 480 events rewritten" in text
    assert [len(part_names(layout, d)) for d in DAYS] == [1, 1, 1]


def test_cli_rejects_bad_input(lake: Platform, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(lake.settings.home)
    argv = ["--home", home, "lake", "compact", "--date", "2025-13-01", "--date", "x"]
    assert run([*argv, "--min-files", "0"]) == 1
    err = capsys.readouterr().err
    assert "invalid options" in err
    assert "--min-files: 0 is too small; use 2 or more" in err
    assert "--date: '2025-13-01' is not a date; use YYYY-MM-DD" in err
    assert "--date: 'x' is not a date; use YYYY-MM-DD" in err
    assert run(["--home", home, "lake", "compact", "--min-files", "1"]) == 1
    assert "--min-files: 1 is too small; use 2 or more" in capsys.readouterr().err
    assert [len(part_names(layout_of(lake), d)) for d in DAYS] == [12, 12, 12]


# -- crash safety -----------------------------------------------------------------------

# Runs a compaction that counts the file operations it makes (fsync, rename, delete) and
# SIGKILLs itself just before or just after operation number argv[3] (0: never; then it
# prints the operations, labelled by phase).
WORKER = """
import os, signal, sys
from pathlib import Path
from kizuna.lake.compact import compact_lake
from kizuna.platform import Platform
from kizuna.settings import Settings

die_at = int(sys.argv[3])
steps = []

def label(name, args):
    if name == "replace":
        return "stage" if str(args[0]).endswith(".tmp.tmp") else "commit"
    if name == "unlink":
        return "unlink"
    return "fsync"

def hook(name, call):
    def wrapped(*args, **kwargs):
        for when in ("before", "after"):
            if when == "after":
                result = call(*args, **kwargs)
            steps.append(label(name, args))
            if len(steps) == die_at:
                os.kill(os.getpid(), signal.SIGKILL)
        return result
    return wrapped

platform = Platform.from_settings(Settings(home=Path(sys.argv[1]), database_url=sys.argv[2]))
os.fsync = hook("fsync", os.fsync)
os.replace = hook("replace", os.replace)
os.unlink = hook("unlink", os.unlink)
compact_lake(platform, min_files=4, target_rows=100)
print(" ".join(steps), flush=True)
"""


def run_worker(home: Path, database_url: str, die_at: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-c", WORKER, str(home), database_url, str(die_at)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_sigkill_at_random_points_of_a_compaction_loses_and_duplicates_nothing(
    lake: Platform, tmp_path: Path
) -> None:
    pristine = layout_of(lake)
    rows = lake_rows(pristine)
    originals = {d: set(part_names(pristine, d)) for d in DAYS}

    def copy(name: str) -> tuple[Path, LakeLayout]:
        home = tmp_path / name
        shutil.copytree(pristine.root, home / "lake")
        return home, LakeLayout(home / "lake")

    # A run to the end, in its own copy: the operations to die at, and the result.
    home, done = copy("complete")
    finished = run_worker(home, lake.store.url, 0)
    assert finished.returncode == 0, finished.stderr
    steps = finished.stdout.split()
    # nothing is deleted: the replaced files are superseded, for a later run to purge
    assert set(steps) == {"fsync", "stage", "commit"}
    assert lake_rows(done) == rows
    assert [len(part_names(done, d)) for d in DAYS] == [3, 3, 3]
    assert [len(superseded_names(done, d)) for d in DAYS] == [12, 12, 12]

    rng = random.Random(20250630)
    staging = [i + 1 for i, s in enumerate(steps) if s == "stage"]
    # Operation numbers (1-based) where some merged files are in place and some still staged.
    halfway = [
        i + 1
        for i in range(1, len(steps) - 1)
        if steps[i - 1] == steps[i] == steps[i + 1] == "commit"
    ]
    # Every merged file in place, the replaced files not yet superseded.
    renamed = [i + 1 for i in range(1, len(steps)) if steps[i - 1] == "commit" != steps[i]]
    assert len(renamed) == len(DAYS)
    # Die while writing staged files, halfway through renaming them into place, after the
    # last rename, and twice anywhere at all.
    points = [rng.choice(staging), rng.choice(halfway), rng.choice(renamed)]
    points += rng.sample(range(1, len(steps) + 1), 2)
    for n, die_at in enumerate(points):
        home, layout = copy(f"kill{n}")
        worker = run_worker(home, lake.store.url, die_at)
        assert worker.returncode == -signal.SIGKILL, (die_at, worker.stderr)
        assert worker.stdout == ""
        # before any writer recovers, readers see every event once
        assert lake_rows(layout) == rows, f"killed at operation {die_at}, not recovered"
        with LakeIndex(layout).locked():  # what the next writer does first
            pass
        assert lake_rows(layout) == rows, f"killed at operation {die_at}"
        assert leftovers(layout) == []
        assert recorded_compaction(layout) == 0
        for day in DAYS:
            names = set(part_names(layout, day))
            # each partition is untouched or compacted, never half-way
            assert names == originals[day] or (len(names) == 3 and not names & originals[day])
            # and a compacted one keeps its replaced files, superseded
            kept = set(superseded_names(layout, day))
            assert kept == (originals[day] if names != originals[day] else set())
            assert set(disk_names(layout, day)) == names | kept
        # a compaction run afterwards finishes the job; one after the grace period purges
        moved = Platform(lake.settings.model_copy(update={"home": home}), lake.store, lake.clock)
        compact_lake(moved, min_files=4, target_rows=100)
        assert lake_rows(layout) == rows
        assert [len(part_names(layout, d)) for d in DAYS] == [3, 3, 3]
        purged = compact_lake(moved, min_files=4, target_rows=100, purge_after=timedelta(0))
        assert (purged.files_purged, purged.partitions_compacted) == (36, 0)
        assert {d: disk_names(layout, d) for d in DAYS} == {d: part_names(layout, d) for d in DAYS}
        assert lake_rows(layout) == rows


def test_compacted_files_are_compacted_again_with_a_larger_target(lake: Platform) -> None:
    compact_lake(lake, min_files=2, target_rows=90)
    compact_lake(lake, min_files=2, target_rows=1000)
    counts = Counter(row[0] for row in lake_rows(layout_of(lake)))
    assert len(counts) == 720
    assert set(counts.values()) == {1}
