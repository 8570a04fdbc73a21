"""Compaction: merge a day partition's many small part files into a few large ones.

Every ingest batch writes one part file per event date it touches, so the
collection API (batches of ~500 events) leaves thousands of small files per day,
and every scan pays for each of them. :func:`compact_lake` rewrites them.

**Bounded memory.** A partition's small files are packed, in name order, into
bins of at most ``target_rows`` events; each bin is read, sorted by
(account_id, timestamp) and written as one part file. Peak memory is about two
copies of one bin (~0.4 GB at the default million events of typical width), so
a partition of a few million events becomes a few files rather than one that
would have to be sorted in memory.
A file with at least ``target_rows / 2`` events already counts as compact and
is left alone, and a partition is compacted only when it has ``min_files``
*small* files: every bin but the last then holds more than ``target_rows / 2``
events, so a second run finds nothing to do.

**Exactly the same rows.** Each bin's rows are counted three times — in the
part files' footers, as read, and in the merged file's footer — and the
partition is left alone (reported in ``refused``) if the counts differ or a part
file cannot be read.

**Crash safety.** Each partition is one transaction under the lake's write lock
(ingest waits for at most one partition): the merged and replaced files are
recorded in the index, the merged files are written complete and fsynced under
a staged name and renamed into place, and then, in one index commit, the
replaced files become *superseded*. A crash anywhere is settled by the next
writer to take the lock — finished if every merged file is in place, otherwise
rolled back — so the lake holds every event exactly once
(:mod:`kizuna.lake.index` has the details).

**Readers stay consistent without the lock.** Superseded files are not deleted
at once: they stay on disk for ``purge_after`` (an hour by default) so a
query that listed them before the swap can still read them, and
:func:`compact_lake` deletes the ones older than that at its start. Readers
list the lake with :func:`kizuna.lake.reader.committed_parts`, which never
lists a superseded file and applies the recovery rule to a compaction in
flight, so they see every event once at every step, crash or not.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from kizuna.errors import InvalidInput, Problem
from kizuna.lake.index import SUPERSEDED_GRACE, LakeIndex, staged_path
from kizuna.lake.layout import EVENT_SCHEMA, LakeLayout, atomic_write_parquet
from kizuna.lake.reader import committed_parts, event_files, partition_dates

if TYPE_CHECKING:
    from kizuna.platform import Platform

__all__ = [
    "DEFAULT_MIN_FILES",
    "DEFAULT_PURGE_AFTER",
    "DEFAULT_TARGET_ROWS",
    "CompactReport",
    "CompactedPartition",
    "check_settings",
    "compact_lake",
]

#: Compact a partition once it has this many small part files.
DEFAULT_MIN_FILES = 8
#: Most events in one merged part file (bounds the memory of a merge).
DEFAULT_TARGET_ROWS = 1_000_000
#: Superseded part files older than this are deleted when a compaction starts.
DEFAULT_PURGE_AFTER = SUPERSEDED_GRACE

Progress = Callable[[int, int], None]


@dataclass
class CompactedPartition:
    """One day partition that was compacted: part files before and after, events rewritten."""

    event_date: date
    files_before: int
    files_after: int
    events: int


@dataclass
class CompactReport:
    """Outcome of :func:`compact_lake`.

    ``files_before``, ``files_after`` and ``events`` add up the compacted
    partitions (``events`` counts the rewritten ones); ``refused`` lists the
    partitions left alone because a part file was unreadable or a count differed.
    ``files_purged`` counts the superseded part files (of earlier runs) deleted.
    """

    partitions_checked: int = 0
    partitions_compacted: int = 0
    files_before: int = 0
    files_after: int = 0
    events: int = 0
    files_purged: int = 0
    seconds: float = 0.0
    partitions: list[CompactedPartition] = field(default_factory=list)
    refused: list[Problem] = field(default_factory=list)


class _Refused(Exception):
    """A partition that must be left alone, and why."""


def compact_lake(
    platform: Platform,
    *,
    min_files: int = DEFAULT_MIN_FILES,
    dates: Iterable[date] | None = None,
    target_rows: int = DEFAULT_TARGET_ROWS,
    progress: Progress | None = None,
    purge_after: timedelta = DEFAULT_PURGE_AFTER,
) -> CompactReport:
    """Merge the small part files of every partition that has at least ``min_files``.

    A part file is small below ``target_rows / 2`` events; merged files hold at
    most ``target_rows`` (which bounds the memory of a merge). ``dates`` limits
    the run to those UTC event dates. ``progress(done, total)`` is called before
    the first and after each partition with enough files. Each partition is
    merged and swapped in under the lake's write lock, so ingest can run
    alongside (it waits for the partition at hand). The files a compaction
    replaces are superseded, not deleted: first of all, the run deletes those
    superseded at least ``purge_after`` ago (in every partition), so a reader
    that listed them may read them for that long. Raises :class:`InvalidInput`
    for ``min_files`` or ``target_rows`` below 2, or a negative ``purge_after``.
    """
    problems = check_settings(min_files, target_rows, purge_after)
    if problems:
        raise InvalidInput("invalid compaction settings", problems)
    started = time.perf_counter()
    layout = LakeLayout(platform.settings.lake_dir)
    index = LakeIndex(layout)
    with index.locked():
        purged = index.purge_superseded(older_than=purge_after)
    days = partition_dates(layout)
    if dates is not None:
        wanted = set(dates)
        days = [d for d in days if d in wanted]
    report = CompactReport(partitions_checked=len(days), files_purged=purged)
    # Listing is cheap and lock-free; footers are read under the lock.
    counts = Counter(part.event_date for part in committed_parts(layout))
    candidates = [d for d in days if counts[d] >= min_files]
    if progress is not None:
        progress(0, len(candidates))
    for done, day in enumerate(candidates, start=1):
        with index.locked():
            try:
                outcome = _compact_partition(index, day, min_files, target_rows)
            except _Refused as exc:
                report.refused.append(Problem(f"{exc}; partition left alone", where=_where(day)))
                outcome = None
        if outcome is not None:
            report.partitions.append(outcome)
            report.partitions_compacted += 1
            report.files_before += outcome.files_before
            report.files_after += outcome.files_after
            report.events += outcome.events
        if progress is not None:
            progress(done, len(candidates))
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def check_settings(
    min_files: int,
    target_rows: int = DEFAULT_TARGET_ROWS,
    purge_after: timedelta = DEFAULT_PURGE_AFTER,
) -> list[Problem]:
    """What is wrong with these compaction settings (nothing: an empty list)."""
    problems = []
    if min_files < 2:
        problems.append(
            Problem(
                f"{min_files} is too small; use 2 or more", where="--min-files", field="min_files"
            )
        )
    if target_rows < 2:
        problems.append(Problem(f"{target_rows} is too small", field="target_rows"))
    if purge_after < timedelta(0):
        problems.append(Problem(f"{purge_after} is negative", field="purge_after"))
    return problems


def _where(day: date) -> str:
    return f"event_date={day.isoformat()}"


def _compact_partition(
    index: LakeIndex, day: date, min_files: int, target_rows: int
) -> CompactedPartition | None:
    """Compact one partition; the caller holds the lock, so every listed file is committed."""
    # The readers' listing: superseded files are still in the folder and must stay out.
    parts = event_files(index.layout, day, day)
    counted = [(path, _row_count(path)) for path in parts]
    small = [(path, rows) for path, rows in counted if 2 * rows < target_rows]
    if len(small) < min_files:
        return None
    bins = _pack(small, target_rows)
    if not bins:
        return None
    writer = uuid.uuid4().hex[:12]
    merged = [index.layout.new_part_path(day, writer, i) for i in range(len(bins))]
    replaced = [path for group in bins for path, _ in group]
    index.begin_compaction(merged, replaced)
    try:
        events = sum(
            _merge(group, staged_path(path)) for group, path in zip(bins, merged, strict=True)
        )
        expected = sum(rows for group in bins for _, rows in group)
        if events != expected:
            raise _Refused(f"the merged files hold {events} events, the part files {expected}")
    except BaseException as exc:
        index.abandon_compaction()
        if isinstance(exc, OSError | pa.ArrowException):
            raise _Refused(f"cannot merge: {exc}") from exc
        raise
    index.commit_compaction()
    return CompactedPartition(
        event_date=day,
        files_before=len(parts),
        files_after=len(parts) - len(replaced) + len(merged),
        events=events,
    )


def _row_count(path: Path) -> int:
    try:
        return int(pq.read_metadata(path).num_rows)
    except (OSError, pa.ArrowException) as exc:
        raise _Refused(f"cannot read {path.name}: {exc}") from exc


def _pack(files: list[tuple[Path, int]], target_rows: int) -> list[list[tuple[Path, int]]]:
    """Greedy bins of at most ``target_rows`` events; a last bin of one file is dropped.

    Every file has fewer than ``target_rows / 2`` events, so each bin but the last
    holds more than half of ``target_rows``.
    """
    bins: list[list[tuple[Path, int]]] = [[]]
    rows = 0
    for path, count in files:
        if bins[-1] and rows + count > target_rows:
            bins.append([])
            rows = 0
        bins[-1].append((path, count))
        rows += count
    if len(bins[-1]) < 2:
        bins.pop()
    return bins


def _merge(group: list[tuple[Path, int]], staged: Path) -> int:
    """Write the rows of ``group`` sorted to ``staged`` (complete and fsynced); their count."""
    expected = sum(rows for _, rows in group)
    table = pa.concat_tables(pq.read_table(path, schema=EVENT_SCHEMA) for path, _ in group)
    if table.num_rows != expected:
        raise _Refused(f"read {table.num_rows} events, the footers say {expected}")
    atomic_write_parquet(table, staged)  # sorts by (account_id, timestamp)
    del table
    written = int(pq.read_metadata(staged).num_rows)
    if written != expected:
        raise _Refused(f"wrote {written} events, expected {expected}")
    return written
