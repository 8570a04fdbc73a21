"""The bulk path of a first history load: each day's partition written once per load.

A history load reads tens to hundreds of millions of events in no particular order of
time. Landing them batch by batch, as live ingest does, writes one part file per day
*per batch* — about 365 small files per batch of 2M events, 18,000 for 100M events, each
paying Parquet's fixed costs and slowing every later scan. Here the load runs in two
phases, holding the lake's write lock from start to end (an ingest from the API waits):

1. **Spill.** Each batch of records is prepared exactly like any ingest (rules,
   quarantine, known accounts), de-duplicated against the index *and* against the
   digests this load already kept, sorted by day, account and time, and appended to a
   spill file (Arrow IPC, LZ4, one record batch per day) under ``_index/bulk/``. Its
   digests go to sorted run files next to it, merged by size like the index's runs
   (:func:`kizuna.lake.index.merge_group`), so a lookup stays a handful of binary
   searches.
2. **Write.** Every day is read back from the spill files (one day at a time, never a
   whole file: memory stays about one batch), sorted by account and time, and written
   as **one** part file — a few hundred files for the whole load. The part files are
   first recorded as pending, as for any batch; then the spilled run files move into the
   index and are recorded in the commit that clears the pending rows
   (:meth:`kizuna.lake.index.LakeIndex.commit_runs`).

The whole load is therefore one transaction: a crash at any point leaves the lake as it
was before the load (the next writer deletes the pending part files, the unrecorded
runs and the spill folder), and re-running it lands every event exactly once. Memory
does not grow with the load: one batch in phase 1, one group of days of at most a
batch's size in phase 2, and index lookups that map one run at a time. Disk: the spill
takes about the compressed size of the events until the load ends.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from kizuna.lake.index import LakeIndex, merge_group, merge_run_files, message_digests, write_run
from kizuna.lake.ingest import (
    MAX_PROBLEMS,
    BulkReport,
    IngestReport,
    PreparedBlock,
    day_slices,
    first_occurrences,
)
from kizuna.lake.layout import LakeLayout, atomic_write_parquet, atomic_write_parquets
from kizuna.lake.quarantine import quarantine_path
from kizuna.platform import Platform

__all__ = ["load"]

_SPILL_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4")


@dataclass
class _Spill:
    """What a bulk load has read and kept so far, on disk."""

    folder: Path
    # spill files of events, each with the record batches that hold each day
    files: list[tuple[Path, dict[date, list[int]]]] = field(default_factory=list)
    day_rows: dict[date, int] = field(default_factory=dict)
    runs: list[tuple[str, int]] = field(default_factory=list)  # (file name, digests)
    quarantine: list[Path] = field(default_factory=list)

    def run_paths(self) -> list[Path]:
        return [self.folder / name for name, _ in self.runs]

    def _name(self, kind: str, suffix: str) -> Path:
        return self.folder / f"{kind}-{uuid.uuid4().hex}{suffix}"

    def add_events(self, table: pa.Table) -> None:
        """Append new events (sorted by day, account and time), one record batch per day."""
        path = self._name("events", ".arrow")
        days: dict[date, list[int]] = {}
        written = 0
        with (
            pa.OSFile(str(path), "wb") as sink,
            pa.ipc.new_file(sink, table.schema, options=_SPILL_OPTIONS) as writer,
        ):
            for day, part in day_slices(table):
                batches = part.combine_chunks().to_batches()
                for batch in batches:
                    writer.write_batch(batch)
                days[day] = list(range(written, written + len(batches)))
                written += len(batches)
                self.day_rows[day] = self.day_rows.get(day, 0) + part.num_rows
        self.files.append((path, days))

    def add_digests(self, digests: np.ndarray) -> None:
        """Keep the new events' digests as a run (durable: it joins the index at the end)."""
        path = self._name("run", ".run")
        write_run(path, digests)
        self.runs.append((path.name, len(digests)))
        while (group := merge_group(self.runs)) is not None:
            merged = self._name("run", ".run")
            events = merge_run_files([self.folder / name for name, _ in group], merged)
            for name, _ in group:
                (self.folder / name).unlink()
            self.runs = [r for r in self.runs if r not in group] + [(merged.name, events)]

    def add_quarantine(self, table: pa.Table) -> None:
        path = self._name("quarantine", ".arrow")
        with (
            pa.OSFile(str(path), "wb") as sink,
            pa.ipc.new_file(sink, table.schema, options=_SPILL_OPTIONS) as writer,
        ):
            writer.write_table(table)
        self.quarantine.append(path)


def _read_ipc(path: Path) -> pa.Table:
    # read, not memory-mapped: mapped pages would count in memory until the load ends
    with pa.OSFile(str(path), "rb") as source:
        return pa.ipc.open_file(source).read_all()


def _spill_batch(
    index: LakeIndex, spill: _Spill, prepared: list[PreparedBlock]
) -> list[IngestReport]:
    """Phase 1 for one batch: keep its new events and quarantined records; the counts."""
    tables = [p.table for p in prepared if p.table.num_rows]
    reports = []
    if tables:
        table = pa.concat_tables(tables)
        digests = message_digests(table.column("message_id"))
        new = first_occurrences(digests)
        candidates = np.flatnonzero(new)
        if len(candidates):
            known = index.contains(digests[candidates], also=spill.run_paths())
            new[candidates[known]] = False
        if new.any():
            spill.add_events(table.filter(pa.array(new)))
            spill.add_digests(digests[new])
    else:
        new = np.zeros(0, dtype=bool)
    quarantined = [p.quarantine for p in prepared if p.quarantine is not None]
    if quarantined:
        spill.add_quarantine(pa.concat_tables(quarantined))
    start = 0
    for p in prepared:
        accepted = int(new[start : start + p.table.num_rows].sum())
        start += p.table.num_rows
        reports.append(
            IngestReport(
                accepted=accepted,
                duplicates=p.table.num_rows - accepted,
                quarantined=len(p.rejected),
                problems=p.problems,
                problems_omitted=max(0, len(p.rejected) - MAX_PROBLEMS),
            )
        )
    return reports


def _day_groups(day_rows: dict[date, int], rows: int) -> Iterator[list[date]]:
    """The days in order, in groups of at most ``rows`` events (a bigger day alone)."""
    group: list[date] = []
    size = 0
    for day in sorted(day_rows):
        if group and size + day_rows[day] > rows:
            yield group
            group, size = [], 0
        group.append(day)
        size += day_rows[day]
    if group:
        yield group


def _write_days(index: LakeIndex, spill: _Spill, batch_rows: int) -> None:
    """Phase 2: every day once, the quarantine, then the runs, as one transaction."""
    layout = index.layout
    writer = uuid.uuid4().hex[:16]
    parts = {day: layout.new_part_path(day, writer=writer) for day in spill.day_rows}
    quarantine = [(_read_ipc(p), p) for p in spill.quarantine]
    q_paths = [
        quarantine_path(layout, table.column("received_at")[0].as_py(), f"{writer}-{k:04d}")
        for k, (table, _) in enumerate(quarantine)
    ]
    pending = [*parts.values(), *q_paths]
    if not pending:
        return
    index.begin_batch(pending)
    for (table, _), q_path in zip(quarantine, q_paths, strict=True):
        atomic_write_parquet(table, q_path, sort=False)
    del quarantine
    sources = [pa.OSFile(str(path), "rb") for path, _ in spill.files]
    try:
        readers = [pa.ipc.open_file(source) for source in sources]
        for days in _day_groups(spill.day_rows, batch_rows):
            tables = []
            for day in days:
                pieces = [
                    reader.get_batch(i)
                    for reader, (_, held) in zip(readers, spill.files, strict=True)
                    for i in held.get(day, ())
                ]
                # each piece is sorted; together they are sorted again (ties keep the
                # order in which they were read)
                ((_, table),) = day_slices(pa.Table.from_batches(pieces))
                tables.append((table, parts[day]))
            atomic_write_parquets(tables)
    finally:
        for source in sources:
            source.close()
    index.commit_runs(spill.run_paths())


def load(
    platform: Platform,
    batches: Iterator[tuple[list[PreparedBlock], int, int]],
    report: BulkReport,
    *,
    batch_rows: int,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Land every batch of prepared blocks as one transaction (see the module doc),
    adding the counts to ``report``; ``progress(done, total)`` after each batch."""
    index = LakeIndex(LakeLayout(platform.settings.lake_dir))
    with index.locked():
        folder = index.spill_dir / uuid.uuid4().hex
        folder.mkdir(parents=True)
        try:
            spill = _Spill(folder)
            for prepared, done, total in batches:
                for one in _spill_batch(index, spill, prepared):
                    report.add(one)
                if progress is not None:
                    progress(done, total)
            _write_days(index, spill, batch_rows)
        finally:
            shutil.rmtree(index.spill_dir, ignore_errors=True)
