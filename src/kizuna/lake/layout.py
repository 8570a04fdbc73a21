"""Where and how usage events are laid out on disk.

Layout (under the lake root, ``<KIZUNA_HOME>/lake`` by default)::

    events/
      event_date=2025-01-31/
        part-<writer>-<sequence>.parquet     zstd, sorted by (account_id, timestamp)
    quarantine/
      ...                                    bad events with their reason (lake issue)

* ``event_date`` is the UTC calendar date of ``timestamp`` (Hive-style partition
  folder, so DuckDB/Spark/Polars prune by date with ``hive_partitioning``).
  The business-timezone day is derived at query time; partitioning by UTC keeps
  a file's place independent of a setting that may change.
* Within a file rows are sorted by ``account_id`` then ``timestamp``, and row
  groups are bounded, so per-account scans touch few row groups (min/max stats).
* Files are never modified after they are written: new data is a new part file.
  Each part is written to a temporary name, fsynced and renamed into place, so a
  crash never leaves a partial file visible to readers.
* Compaction (:mod:`kizuna.lake.compact`) replaces small part files by merged
  ones and leaves the replaced files on disk, *superseded*, for a grace period,
  so a folder may hold files readers must not read: list the lake with
  :meth:`LakeLayout.event_files` or :func:`kizuna.lake.reader.committed_parts`,
  never with a glob.
"""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

#: The one schema of usage events in the lake.
EVENT_SCHEMA = pa.schema(
    [
        pa.field("message_id", pa.string(), nullable=False),
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("user_id", pa.string(), nullable=True),
        pa.field("event", pa.string(), nullable=False),
        pa.field("timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("properties", pa.string(), nullable=True),  # JSON object as text
    ]
)

ROW_GROUP_SIZE = 128 * 1024
TEMP_SUFFIX = ".tmp"
#: Threads writing and syncing the part files of one batch.
_WRITERS = 8


@dataclass(frozen=True)
class LakeLayout:
    """Paths of the lake's areas under one root folder."""

    root: Path

    @property
    def events_dir(self) -> Path:
        return self.root / "events"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    def partition_dir(self, event_date: date) -> Path:
        return self.events_dir / f"event_date={event_date.isoformat()}"

    def new_part_path(self, event_date: date, writer: str | None = None, sequence: int = 0) -> Path:
        """A fresh part file name in ``event_date``'s partition.

        ``writer`` identifies the writing process (default: a random id), so
        concurrent writers never pick the same name.
        """
        writer = writer or uuid.uuid4().hex[:12]
        return self.partition_dir(event_date) / f"part-{writer}-{sequence:06d}.parquet"

    def event_files(self) -> list[Path]:
        """Every committed part file, in path order: each event is in exactly one.

        Leaves out staged, superseded and half-swapped files, like every reader
        (:func:`kizuna.lake.reader.committed_parts`).
        """
        from kizuna.lake.reader import event_files  # the reader builds on this module

        return event_files(self)

    def glob(self) -> str:
        """A glob of every Parquet file in the partitions, for engines that read them directly.

        It also matches superseded part files and both sides of a compaction in
        flight, so it counts compacted events twice: readers use
        :meth:`event_files` instead.
        """
        return str(self.events_dir / "event_date=*" / "*.parquet")


def atomic_write_parquet(
    table: pa.Table,
    path: Path,
    *,
    sort: bool = True,
    store_schema: bool = True,
    compression: str = "zstd",
    use_dictionary: bool | list[str] = True,
) -> Path:
    """Write ``table`` to ``path`` so that readers see all of it or nothing.

    The rows are sorted by (account_id, timestamp) when ``sort`` is true.
    ``store_schema=False`` leaves out Arrow's own schema, so dictionary-encoded
    string columns read back as plain strings.
    Writes to ``path + '.tmp'``, fsyncs the file, renames it into place and
    fsyncs the folder, so after return the file survives a crash.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if sort and table.num_rows:
        table = table.sort_by([("account_id", "ascending"), ("timestamp", "ascending")])
    tmp = _write_temp(
        table, path, compression=compression, use_dictionary=use_dictionary,
        store_schema=store_schema,
    )  # fmt: skip
    os.replace(tmp, path)
    fsync_dir(path.parent)
    return path


def _write_temp(table: pa.Table, path: Path, **options: Any) -> Path:
    """Write ``table`` beside ``path`` under its temporary name, fsynced; return that name."""
    tmp = path.with_name(path.name + TEMP_SUFFIX)
    with open(tmp, "wb") as handle:
        pq.write_table(
            table, handle, row_group_size=ROW_GROUP_SIZE, write_statistics=True, **options
        )
        handle.flush()
        os.fsync(handle.fileno())
    return tmp


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in ``folder`` durable (fsync the directory)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_parquets(parts: list[tuple[pa.Table, Path]], *, compression: str = "zstd") -> None:
    """Write several tables (each already sorted) so that each file is all there or absent.

    The same guarantee as :func:`atomic_write_parquet` for each file, at a fraction of
    its cost for many small files (a batch touching every day of a year): every
    temporary file is written and fsynced first, then all are renamed, and each folder
    fsynced once — the file system commits them together instead of once per file.
    The files are written and synced by a few threads at once (Parquet encoding and
    ``fsync`` release the GIL), so a batch of 365 days waits for the disk about as
    long as for one file, not 365 times.
    """
    if not parts:
        return
    for folder in sorted({path.parent for _, path in parts}):
        folder.mkdir(parents=True, exist_ok=True)

    def write(part: tuple[pa.Table, Path]) -> tuple[Path, Path]:
        table, path = part
        return _write_temp(table, path, compression=compression), path

    with ThreadPoolExecutor(max_workers=_WRITERS) as pool:
        temps = list(pool.map(write, parts))
        for tmp, path in temps:
            os.replace(tmp, path)
        list(pool.map(fsync_dir, sorted({path.parent for _, path in temps})))
