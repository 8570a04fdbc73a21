"""Readers never take the lake's lock, yet never see a compaction half-done.

Every reader lists the lake with ``committed_parts``; these tests list it at every file
operation of a compaction, across a commit that lands while a partition is being listed,
after a crash before any writer recovered, and around the purge of superseded files.
"""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_compact import DAYS, add_accounts, events, land, layout_of

from kizuna.cli import run
from kizuna.clock import FixedClock
from kizuna.errors import Conflict
from kizuna.lake import reader
from kizuna.lake.compact import compact_lake
from kizuna.lake.index import IndexReader, LakeIndex, index_path, staged_path
from kizuna.lake.layout import EVENT_SCHEMA, LakeLayout, atomic_write_parquet
from kizuna.lake.reader import committed_parts, event_files
from kizuna.metrics import compute_metrics, read_metric_values
from kizuna.metrics.definitions import parse_definitions
from kizuna.platform import Platform


@pytest.fixture
def lake(sqlite_platform: Platform) -> Platform:
    """Three day partitions of 12 part files of 20 events each (720 events)."""
    add_accounts(sqlite_platform)
    land(sqlite_platform, events(batches=12, per_day=20))
    return sqlite_platform


def ids_in(files: list[Path]) -> Counter[str]:
    """How often each message id occurs in ``files``."""
    return Counter(
        m for f in files for m in pq.read_table(f, columns=["message_id"]).column(0).to_pylist()
    )


def on_disk(layout: LakeLayout) -> list[Path]:
    """Every part file in the partition folders, whatever the index says about it."""
    return sorted(layout.events_dir.glob("event_date=*/*.parquet"))


def superseded(layout: LakeLayout) -> list[Path]:
    with LakeIndex(layout).locked() as index:
        return index.superseded()


@pytest.fixture
def every_file_operation(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Any], None]]:
    """Call a function just before and just after every fsync, rename and delete."""
    observers: list[Callable[[Any], None]] = []

    def hook(name: str) -> None:
        call = getattr(os, name)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            for observe in observers:
                observe(args)
            result = call(*args, **kwargs)
            for observe in observers:
                observe(args)
            return result

        monkeypatch.setattr(os, name, wrapped)

    for name in ("fsync", "replace", "unlink"):
        hook(name)
    yield observers.append


def test_a_reader_listing_at_every_file_operation_of_a_compaction_sees_every_event_once(
    lake: Platform, every_file_operation: Callable[[Any], None]
) -> None:
    layout = layout_of(lake)
    expected = ids_in(event_files(layout))
    assert len(expected) == 720 and set(expected.values()) == {1}
    listings: list[list[Path]] = []
    seen: Counter[str] = Counter()

    def read_now(_: Any) -> None:
        files = event_files(layout)
        assert ids_in(files) == expected, f"listing {len(listings)}"
        assert all(f.name.endswith(".parquet") for f in files)
        listings.append(files)
        seen[swap_state(layout)] += 1

    every_file_operation(read_now)
    report = compact_lake(lake, min_files=4, target_rows=100)
    assert report.files_after == 9
    assert len(listings) > 50  # about 13 operations per partition, before and after each
    # the listings met every state of a swap
    assert set(seen) == {"staging", "partly renamed", "renamed, not committed"}
    assert len({tuple(files) for files in listings}) > 3  # and saw the lake change
    # A reader that listed at any point and reads only now, after the swap, still finds
    # every file it listed (replaced files are superseded, not deleted) and every event once.
    for files in listings:
        assert ids_in(files) == expected
    assert len(superseded(layout)) == 36
    # The purge deletes them; readers listing meanwhile still see every event once.
    listings.clear()
    purged = compact_lake(lake, min_files=4, target_rows=100, purge_after=timedelta(0))
    assert purged.files_purged == 36
    assert listings  # the purge's deletes were observed
    assert on_disk(layout) == event_files(layout)
    assert ids_in(event_files(layout)) == expected


def swap_state(layout: LakeLayout) -> str:
    """Where the compaction in flight is (read-only: the compaction holds the lock)."""
    with IndexReader(layout) as index:
        for day in DAYS:
            merged = index.partition(f"events/{layout.partition_dir(day).name}").merged
            if merged:
                placed = sum((layout.root / m).exists() for m in merged)
                if placed == 0:
                    return "staging"
                return "partly renamed" if placed < len(merged) else "renamed, not committed"
    return "idle"


def test_a_compaction_committed_while_a_partition_is_listed_makes_the_reader_list_it_again(
    lake: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = layout_of(lake)
    expected = ids_in(event_files(layout))
    folder = layout.partition_dir(DAYS[0])
    scandir = os.scandir
    scans = 0

    def compact_first(path: Any) -> Any:
        # The reader has read the index (nothing in flight, nothing superseded) and is
        # about to list the folder: a whole compaction of it lands in between.
        nonlocal scans
        if Path(path) == folder:
            scans += 1
            if scans == 1:
                assert compact_lake(lake, dates=[DAYS[0]]).partitions_compacted == 1
        return scandir(path)

    monkeypatch.setattr(os, "scandir", compact_first)
    files = event_files(layout)
    assert scans == 4  # the reader's first, the compaction's two, and the reader's second
    assert ids_in(files) == expected
    assert [f for f in files if f.parent == folder] == event_files(layout, DAYS[0], DAYS[0])
    assert len(event_files(layout, DAYS[0], DAYS[0])) == 1


def test_a_partition_that_keeps_changing_is_reported_not_listed_half_done(
    lake: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    layout = layout_of(lake)
    folder = layout.partition_dir(DAYS[1])
    olds = event_files(layout, DAYS[1], DAYS[1])
    scandir = os.scandir

    def start_and_abandon(path: Any) -> Any:
        if Path(path) == folder:
            with LakeIndex(layout).locked() as index:
                index.begin_compaction([layout.new_part_path(DAYS[1], "churn")], olds)
                index.abandon_compaction()
        return scandir(path)

    monkeypatch.setattr(os, "scandir", start_and_abandon)
    monkeypatch.setattr(reader, "MAX_LISTING_ATTEMPTS", 4)
    with pytest.raises(Conflict, match="event_date=2025-06-02 kept changing"):
        event_files(layout)
    monkeypatch.setattr(os, "scandir", scandir)
    assert event_files(layout, DAYS[1], DAYS[1]) == olds


def test_after_a_crash_mid_rename_readers_see_every_event_once_before_recovery(
    lake: Platform,
) -> None:
    layout = layout_of(lake)
    expected = ids_in(event_files(layout))
    day = DAYS[2]
    olds = event_files(layout, day, day)
    merged = [layout.new_part_path(day, "crashed", i) for i in range(3)]
    index = LakeIndex(layout)
    with index.locked():
        index.begin_compaction(merged, olds)
        table = pa.concat_tables(pq.read_table(p, schema=EVENT_SCHEMA) for p in olds)
        for i, path in enumerate(merged):
            atomic_write_parquet(table.slice(80 * i, 80), staged_path(path))
        os.replace(staged_path(merged[0]), merged[0])
        os.replace(staged_path(merged[1]), merged[1])
    # "crashed" with two of three merged files in place: readers keep the replaced files
    assert event_files(layout, day, day) == olds
    assert ids_in(event_files(layout)) == expected
    assert layout.event_files() == event_files(layout)  # what lifecycle reads
    os.replace(staged_path(merged[2]), merged[2])
    # every merged file in place, the record still there: readers take the merged files
    assert event_files(layout, day, day) == merged
    assert ids_in(event_files(layout)) == expected
    assert ids_in(layout.event_files()) == expected
    assert len(on_disk(layout)) == 36 + 3
    # the next writer settles it forward; nothing changes for readers
    assert superseded(layout) == olds
    assert event_files(layout, day, day) == merged
    assert ids_in(event_files(layout)) == expected


def test_superseded_files_survive_the_grace_period_then_are_purged(lake: Platform) -> None:
    layout = layout_of(lake)
    expected = ids_in(event_files(layout))
    before = datetime.now(UTC)
    compact_lake(lake)
    after = datetime.now(UTC)
    listed = event_files(layout)
    olds = superseded(layout)
    assert len(listed) == 3 and len(olds) == 36
    assert on_disk(layout) == sorted([*listed, *olds])
    # a later run within the grace period (an hour by default) keeps them
    assert compact_lake(lake).files_purged == 0
    assert all(p.exists() for p in olds)
    with LakeIndex(layout, clock=FixedClock(before + timedelta(minutes=59))).locked() as index:
        assert index.purge_superseded() == 0
    assert all(p.exists() for p in olds)
    assert event_files(layout) == listed
    # a purge an hour after the compaction deletes them, and only them
    with LakeIndex(layout, clock=FixedClock(after + timedelta(hours=1))).locked() as index:
        assert index.purge_superseded() == 36
        assert index.superseded() == []
        assert index.purge_superseded() == 0
    assert not any(p.exists() for p in olds)
    assert on_disk(layout) == event_files(layout) == listed
    assert ids_in(listed) == expected


def test_the_cli_reports_the_superseded_files_it_purged(
    lake: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(lake.settings.home)
    layout = layout_of(lake)
    assert run(["--home", home, "lake", "compact"]) == 0
    assert "superseded" not in capsys.readouterr().out
    assert len(superseded(layout)) == 36
    with LakeIndex(layout).locked() as index, index.conn:  # the compaction was 2 hours ago
        index.conn.execute("UPDATE superseded SET superseded_at = superseded_at - 7200")
    assert run(["--home", home, "lake", "compact"]) == 0
    text = capsys.readouterr().out
    assert "36 part file(s) superseded by earlier compactions deleted" in text
    assert "nothing to compact in 3 partition(s)" in text
    assert superseded(layout) == []
    assert on_disk(layout) == event_files(layout)


def test_the_cli_keeps_superseded_files_as_long_as_asked(
    lake: Platform, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(lake.settings.home)
    layout = layout_of(lake)
    assert run(["--home", home, "lake", "compact", "--keep-superseded", "180"]) == 0
    assert len(superseded(layout)) == 36
    with LakeIndex(layout).locked() as index, index.conn:  # the compaction was 2 hours ago
        index.conn.execute("UPDATE superseded SET superseded_at = superseded_at - 7200")
    assert run(["--home", home, "lake", "compact", "--keep-superseded", "180"]) == 0
    assert len(superseded(layout)) == 36  # kept: younger than 3 hours
    capsys.readouterr()
    assert run(["--home", home, "lake", "compact", "--keep-superseded", "0"]) == 0
    assert "36 part file(s) superseded" in capsys.readouterr().out
    assert superseded(layout) == []
    for bad in ("-1", "nan"):
        assert run(["--home", home, "lake", "compact", "--keep-superseded", bad]) == 1
        assert "--keep-superseded:" in capsys.readouterr().err


def test_a_lake_without_an_index_or_with_an_older_one_is_listed_without_changing_it(
    tmp_path: Path,
) -> None:
    layout = LakeLayout(tmp_path / "lake")
    day = date(2025, 6, 1)
    rows = events(batches=1, per_day=30, days=[day])[0]
    table = pa.Table.from_pylist(
        [
            {
                **r,
                "timestamp": datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")),
                "properties": None,
            }
            for r in rows
        ],
        schema=EVENT_SCHEMA,
    )
    olds = [layout.new_part_path(day, "old", i) for i in range(3)]
    for i, path in enumerate(olds):
        atomic_write_parquet(table.slice(10 * i, 10), path)
    (layout.partition_dir(day) / "part-x-000009.parquet.tmp").write_bytes(b"staged")
    # no index at all: nothing to leave out, and the reader creates none
    assert event_files(layout) == olds
    assert not index_path(layout).exists()
    # an index from before superseded files, with a compaction in flight, all merged in place
    merged = layout.new_part_path(day, "new")
    atomic_write_parquet(table, merged)
    index_path(layout).parent.mkdir()
    conn = sqlite3.connect(index_path(layout))
    with conn:
        conn.execute("CREATE TABLE compacting (path TEXT PRIMARY KEY, merged INTEGER NOT NULL)")
        conn.executemany(
            "INSERT INTO compacting VALUES (?, ?)",
            [(str(merged.relative_to(layout.root)), 1)]
            + [(str(p.relative_to(layout.root)), 0) for p in olds],
        )
    conn.close()
    assert [p.name for p in event_files(layout)] == [merged.name]
    assert [part.size for part in committed_parts(layout)] == [merged.stat().st_size]
    # a writer upgrades it in place and settles the compaction forward
    assert superseded(layout) == olds
    assert event_files(layout) == [merged]
    assert ids_in(event_files(layout)) == Counter(r["message_id"] for r in rows)


def test_metrics_are_the_same_after_a_compaction_and_only_its_days_rebuild(
    sqlite_platform: Platform,
) -> None:
    platform = sqlite_platform
    add_accounts(platform)
    june = [date(2025, 6, d) for d in range(1, 31)]
    land(platform, events(batches=1, per_day=6, days=june))
    land(platform, events(batches=10, per_day=6, days=june[14:15], prefix="n"))
    metrics = parse_definitions(
        {
            "metrics": [
                {"name": "events_7d", "kind": "count", "window_days": 7},
                {"name": "users_7d", "kind": "distinct_users", "window_days": 7},
                {"name": "days_28d", "kind": "active_days", "window_days": 28},
            ]
        },
        "test",
    )
    as_of = [date(2025, 6, 10), date(2025, 6, 20), date(2025, 6, 30)]

    def values() -> list[tuple[Any, ...]]:
        return sorted(
            (r["account_id"], r["as_of"], r["metric"], r["value"])
            for r in read_metric_values(platform).to_pylist()
        )

    first = compute_metrics(platform, as_of, metrics)
    before = values()
    assert first.rollup_days_rebuilt == 31  # May 31 (business days straddle) to June 30
    assert compute_metrics(platform, as_of, metrics).rollup_days_rebuilt == 0
    report = compact_lake(platform, min_files=8)
    assert [p.event_date for p in report.partitions] == [june[14]]
    # the days whose inputs include June 15: those within 7 + 1 days of it
    assert compute_metrics(platform, as_of, metrics).rollup_days_rebuilt == 17
    assert values() == before  # with the 11 replaced files still on disk, superseded
    layout = layout_of(platform)
    assert len(superseded(layout)) == 11
    purged = compact_lake(platform, min_files=8, purge_after=timedelta(0))
    assert purged.files_purged == 11
    # the readers' listing did not change, so nothing is rebuilt
    assert compute_metrics(platform, as_of, metrics).rollup_days_rebuilt == 0
    assert values() == before


def test_a_lake_under_a_relative_home_lists_and_compacts(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's default home is ./kizuna-data: every path the index reader opens may
    be relative to the working directory."""
    add_accounts(platform)
    land(platform, events(10, 2))
    absolute = layout_of(platform)
    expected = sorted(p.name for p in event_files(absolute))
    monkeypatch.chdir(absolute.root.parent)
    relative = LakeLayout(Path(absolute.root.name))
    assert not relative.root.is_absolute()
    assert sorted(p.name for p in event_files(relative)) == expected
    with LakeIndex(relative).locked():
        pass  # the writer side, too
    assert len(committed_parts(relative)) == len(expected)
