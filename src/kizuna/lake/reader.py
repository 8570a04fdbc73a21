"""Reading the lake: which part files cover a date range, and the events in them.

Readers never take the lake's write lock, so a compaction may be swapping a
partition's files while they list it. :func:`committed_parts` is the one
listing every reader uses (:func:`event_files`, :meth:`LakeLayout.event_files`,
the metrics cache's fingerprints): it leaves out staged files, superseded files
and the losing side of a compaction in flight, and lists each partition again
if the index's listing version changed meanwhile, so every listing holds every
committed event exactly once (see :mod:`kizuna.lake.index`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from kizuna.errors import Conflict
from kizuna.lake.index import IndexReader, PartitionState
from kizuna.lake.layout import EVENT_SCHEMA, LakeLayout

__all__ = ["PartFile", "committed_parts", "event_files", "partition_dates", "read_events"]

#: How often one partition is listed again while compactions keep changing the lake.
MAX_LISTING_ATTEMPTS = 50
_PART_SUFFIX = ".parquet"


@dataclass(frozen=True)
class PartFile:
    """One committed part file: where it is, its UTC event date and its size in bytes."""

    path: Path
    event_date: date
    size: int


def partition_dates(layout: LakeLayout) -> list[date]:
    """The UTC event dates that have a partition folder, oldest first."""
    if not layout.events_dir.exists():
        return []
    days = []
    for folder in layout.events_dir.glob("event_date=*"):
        try:
            days.append(date.fromisoformat(folder.name.removeprefix("event_date=")))
        except ValueError:
            continue
    return sorted(days)


def committed_parts(
    layout: LakeLayout, start: date | None = None, end: date | None = None
) -> list[PartFile]:
    """The part files readers should read for UTC event dates in ``[start, end]``, in path order.

    Lock-free and consistent: staged files (``*.parquet.tmp``), superseded files
    and the files of a batch not committed yet (pending: a bulk load's days until
    its end, or a batch a crash interrupted until a writer rolls it back) are never
    listed, and for a compaction in flight the merged files are
    listed only if all of them are in place, and then instead of the files they
    replace — so each event is listed exactly once at every step of a
    compaction, and after a crash before any writer recovered. Each partition
    is listed between two reads of the index's listing version and listed again
    if it changed (a compaction never spans partitions, so per-partition
    snapshots add up to a consistent whole). Raises :class:`Conflict` if a
    partition keeps changing for :data:`MAX_LISTING_ATTEMPTS` attempts.
    """
    parts: list[PartFile] = []
    with IndexReader(layout) as index:
        for day in partition_dates(layout):
            if (start is None or day >= start) and (end is None or day <= end):
                parts.extend(_list_partition(layout, index, day))
    return parts


def _list_partition(layout: LakeLayout, index: IndexReader, day: date) -> list[PartFile]:
    folder = layout.partition_dir(day)
    relative = folder.relative_to(layout.root).as_posix()
    for attempt in range(MAX_LISTING_ATTEMPTS):
        state = index.partition(relative)
        found = _scan(folder, relative, day, state)
        if index.version() == state.version:
            return _settle(found, state)
        time.sleep(0.001 * attempt)  # a compaction is committing: let it finish
    raise Conflict(f"the lake partition {folder.name} kept changing while it was listed; try again")


def _scan(folder: Path, relative: str, day: date, state: PartitionState) -> dict[str, PartFile]:
    """The folder's part files not superseded, by path relative to the lake root."""
    found: dict[str, PartFile] = {}
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return found
    for entry in entries:
        if not entry.name.endswith(_PART_SUFFIX):
            continue  # staged (.parquet.tmp) or foreign files
        key = f"{relative}/{entry.name}"
        if key in state.superseded or key in state.pending:
            continue  # replaced by a compaction, or a batch not committed yet
        try:
            size = entry.stat().st_size
        except FileNotFoundError:
            continue  # deleted since the scan (a rolled-back batch)
        found[key] = PartFile(Path(entry.path), day, size)
    return found


def _settle(found: dict[str, PartFile], state: PartitionState) -> list[PartFile]:
    """Apply the recovery rule to a compaction in flight; the rest in path order."""
    # Every merged file in place: they hold every row. Otherwise the replaced ones do.
    committed = bool(state.merged) and state.merged <= found.keys()
    drop = state.replaced if committed else state.merged
    return [found[key] for key in sorted(found) if key not in drop]


def event_files(
    layout: LakeLayout, start: date | None = None, end: date | None = None
) -> list[Path]:
    """Committed part files whose UTC event date is in ``[start, end]`` (both optional).

    The paths of :func:`committed_parts`: each event is in exactly one of them.
    """
    return [part.path for part in committed_parts(layout, start, end)]


def read_events(layout: LakeLayout, start: date | None = None, end: date | None = None) -> pa.Table:
    """All events in the UTC date range as one Arrow table (for tests and small lakes)."""
    files = event_files(layout, start, end)
    if not files:
        return EVENT_SCHEMA.empty_table()
    return pa.concat_tables(pq.read_table(f, schema=EVENT_SCHEMA) for f in files)
