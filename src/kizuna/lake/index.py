"""The lake's message-id index: cheap de-duplication across the whole lake.

Senders deliver at least once, so the same ``message_id`` may arrive many
times, in any batch, days apart. Every accepted id is kept as a 128-bit digest
(:func:`message_digests`) in immutable *runs*: files under ``<lake>/_index/runs/`` holding
the digests sorted by their upper 64 bits (upper halves, then lower halves, little endian).
A batch's ids are checked with one vectorised binary search per run; each commit adds one
run, and small runs are merged so there are few (:data:`MAX_RUNS`). The SQLite file
``<lake>/_index/messages.sqlite3`` now only keeps the list of runs and the small
transaction tables below.

Cost: 16 bytes of disk per accepted event (1.6 GB at 100M events; the SQLite B-tree of
ids this replaces took 50–70). Exactness: two different ids share a digest with
probability 2^-128 per pair, so ~n²/2^129 over the lake — about 1.5e-23 at 100M events.
64-bit hashes were rejected because at 100M events that is ~3e-4 (a real event silently
dropped once in a few thousand such lakes); at 128 bits it is far below the odds of an
undetected disk error. An index holding ids in the old ``messages`` table is converted
to runs by the first writer (the ids are removed in the same commit that records their
runs, so a crash during the conversion loses nothing).

Each ingest batch is a small transaction over the index and the Parquet files:

1. under an exclusive lock (``fcntl.flock`` on ``_index/lock``, plus a thread
   lock), the part files the batch will write are recorded as *pending* and
   committed;
2. the part files are written atomically (temporary name, fsync, rename);
3. the batch's digests are written as a new run file (fsynced), then the run is
   recorded and the pending rows removed, in one commit. A run file that was written
   but not recorded (a crash just before that commit) is deleted by the next writer.

A crash between 1 and 3 leaves pending rows; the next writer to take the lock
deletes those files (the batch was never acknowledged, so its sender retries).
Hence a batch lands completely or not at all, and every id in the index has
exactly one row in the lake.

Compaction (:mod:`kizuna.lake.compact`) replaces part files under the same lock,
as a second kind of transaction recorded in the ``compacting`` table:

1. the merged files it will write and the files they replace (all in one
   partition) are recorded and committed;
2. each merged file is written complete and fsynced under a *staged* name
   (``part-….parquet.tmp``, which readers ignore);
3. the staged files are renamed into place and the folder fsynced;
4. in one commit, the replaced files move from ``compacting`` to the
   ``superseded`` table (with the time), and the record is gone.

The replaced files stay on disk, superseded, until
:meth:`LakeIndex.purge_superseded` deletes those older than a grace period
(one hour by default; ``kizuna lake compact`` purges at its start), so a reader
that listed them before step 4 can still open them while its query runs.

The commit point is the last rename of step 3: recovery finishes the
compaction (the replaced files become superseded) if every merged file is in
place, and otherwise rolls it back (deletes the merged and staged files; the
replaced files were not touched). Either way each event is in the lake once.

**Readers never take the lock.** They list the lake with
:func:`kizuna.lake.reader.committed_parts`, which reads this file read-only and
leaves out superseded files and, for a compaction in flight, the merged files
unless all of them are in place, else the replaced ones — the same rule as
recovery, so a reader sees every event once even after a crash in step 3 and
before any writer recovers. Every begin, commit, settlement and purge of a
compaction, and every batch's begin, bumps the counter in ``listing_version`` in the
same transaction;
a reader reads it before and after listing a partition and lists again if it
changed.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa

from kizuna.clock import Clock, SystemClock
from kizuna.lake.layout import TEMP_SUFFIX, LakeLayout, fsync_dir

#: How long superseded part files stay on disk for readers that listed them earlier.
SUPERSEDED_GRACE = timedelta(hours=1)

_THREAD_LOCK = threading.Lock()
# One open connection per index file and process: opening SQLite costs more
# than a whole 500-event batch. Only used while holding _THREAD_LOCK.
_CONNECTIONS: dict[tuple[int, Path], sqlite3.Connection] = {}
_CHUNK = 900  # below SQLite's default limit on bound parameters
#: Runs of about the same size are merged once there are this many of them.
MERGE_FAN_IN = 4
#: Runs are not merged past this many digests. A lookup maps one run at a time and
#: unmaps it before the next, so a run's size (16 bytes a digest) bounds the memory
#: a lookup adds, whatever the size of the lake.
MERGE_CAP = 16_000_000
#: Digests read from each run at a time by a merge (16 bytes each): a merge streams
#: its runs from disk, so its memory does not depend on their sizes.
MERGE_WINDOW = 1 << 20
_RUN_SUFFIX = ".run"

# -- digests ---------------------------------------------------------------------

_M64 = (1 << 64) - 1
_P1 = np.uint64(0x9E3779B185EBCA87)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P3 = np.uint64(0x165667B19E3779F9)
_P4 = np.uint64(0x85EBCA77C2B2AE63)
_P5 = np.uint64(0x27D4EB2F165667C5)
_SEED_HI = np.uint64(0x6B697A756E612D31)  # "kizuna-1"
_SEED_LO = np.uint64(0x6B697A756E612D32)  # "kizuna-2"


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


def _avalanche(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * _P2
    h = h ^ (h >> np.uint64(29))
    h = h * _P3
    return h ^ (h >> np.uint64(32))


#: Ids digested at a time: numpy's temporaries for a slice stay in the CPU cache.
_DIGEST_SLICE = 8192


def message_digests(message_ids: pa.Array | pa.ChunkedArray | Sequence[str]) -> np.ndarray:
    """The 128-bit digests of ``message_ids`` (UTF-8), as an ``(n, 2)`` uint64 array.

    Two independent 64-bit lanes in the style of XXH64 (different seeds, primes and
    rotations; each word multiplied, rotated and folded in, the length mixed in, a
    full avalanche at the end), computed for a whole batch at once with numpy, a
    slice of :data:`_DIGEST_SLICE` ids at a time. Measured against xxhash's
    ``xxh3_128`` (which has no vectorised API, so one Python call per id) on 1M
    UUID-like ids on this machine under load: about 190–260 ns per id here and
    270–350 ns there, and both spread the bits evenly (docs/lake-and-metrics.md);
    changing it would also change every stored run, so it stays.
    """
    if isinstance(message_ids, pa.ChunkedArray):
        message_ids = message_ids.combine_chunks()
    if not isinstance(message_ids, pa.Array):
        message_ids = pa.array(list(message_ids), pa.string())
    if message_ids.null_count:
        raise ValueError("message ids must not be null")
    n = len(message_ids)
    if n > _DIGEST_SLICE:
        return np.concatenate(
            [
                _digests(message_ids.slice(start, _DIGEST_SLICE))
                for start in range(0, n, _DIGEST_SLICE)
            ]
        )
    return _digests(message_ids)


def _digests(message_ids: pa.Array) -> np.ndarray:
    arr = message_ids.cast(pa.large_string())
    n = len(arr)
    out = np.empty((n, 2), dtype=np.uint64)
    if n == 0:
        return out
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    raw = arr.buffers()[2]
    # the slice's bytes only, from 0 (a slice of a long array starts far in)
    first = int(offsets[0])
    offsets = offsets - first
    data = np.zeros(offsets[-1] + 16, dtype=np.uint8)
    if raw is not None and offsets[-1] > 0:
        data[: offsets[-1]] = np.frombuffer(raw, dtype=np.uint8)[first : first + offsets[-1]]
    # words8[i] is the 8 bytes starting at byte i (unaligned, little endian)
    words8 = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    starts = offsets[:-1]
    lengths = (offsets[1:] - starts).astype(np.int64)
    hi = np.full(n, _SEED_HI, dtype=np.uint64) + _P5 + lengths.astype(np.uint64)
    lo = np.full(n, _SEED_LO, dtype=np.uint64) + _P1 + lengths.astype(np.uint64) * _P4
    with np.errstate(over="ignore"):
        for j in range((int(lengths.max()) + 7) // 8):
            rem = lengths - 8 * j
            live = rem > 0
            rows = np.flatnonzero(live) if not live.all() else None
            pos = starts + 8 * j if rows is None else starts[rows] + 8 * j
            w = words8[pos]
            r = rem if rows is None else rem[rows]
            partial = r < 8
            if partial.any():
                bits = (np.minimum(r, 8) * 8).astype(np.uint64)
                mask = np.where(
                    partial,
                    (np.uint64(1) << (bits % np.uint64(64))) - np.uint64(1),
                    np.uint64(_M64),
                )
                w = w & mask
            k1 = _rotl(w * _P2, 31) * _P1
            k2 = _rotl(w * _P4, 29) * _P3
            if rows is None:
                hi = _rotl(hi ^ k1, 27) * _P1 + _P4
                lo = _rotl(lo ^ k2, 31) * _P2 + _P5
            else:
                hi[rows] = _rotl(hi[rows] ^ k1, 27) * _P1 + _P4
                lo[rows] = _rotl(lo[rows] ^ k2, 31) * _P2 + _P5
        out[:, 0] = _avalanche(hi)
        out[:, 1] = _avalanche(lo ^ (hi >> np.uint64(17)))
    return out


def _run_hits(path: Path, qhi: np.ndarray, qlo: np.ndarray) -> np.ndarray:
    """Which of the queries (sorted by upper half) the run file at ``path`` holds.

    The run is memory-mapped for this call only: the pages a lookup touches count in
    the process's resident memory while mapped, so keeping every run mapped (as an
    earlier version did) grew with the lake — 16 bytes an event once a bulk load's
    lookups had touched every page.
    """
    words = np.memmap(path, dtype="<u8", mode="r")
    size = len(words) // 2
    rhi = words[:size]
    rlo = words[size:]
    pos = np.searchsorted(rhi, qhi)
    inside = pos < size
    at = np.where(inside, pos, 0)
    same_hi = inside & (rhi[at] == qhi)
    match = same_hi & (rlo[at] == qlo)
    # Rare: more than one digest in the run shares this upper half.
    for i in np.flatnonzero(same_hi & ~match):
        j = int(pos[i]) + 1
        while j < size and rhi[j] == qhi[i]:
            if rlo[j] == qlo[i]:
                match[i] = True
                break
            j += 1
    return match


def merge_group(runs: Sequence[tuple[str, int]]) -> list[tuple[str, int]] | None:
    """The runs (name, digests) to merge next, if any: :data:`MERGE_FAN_IN` runs of
    about the same size (by powers of :data:`MERGE_FAN_IN`), together at most
    :data:`MERGE_CAP` digests."""
    tiers: dict[int, list[tuple[str, int]]] = {}
    for name, events in runs:
        tier = 0
        while MERGE_FAN_IN ** (tier + 1) * 256 <= events:
            tier += 1
        tiers.setdefault(tier, []).append((name, events))
    return next(
        (
            rows[:MERGE_FAN_IN]
            for _, rows in sorted(tiers.items())
            if len(rows) >= MERGE_FAN_IN and sum(e for _, e in rows[:MERGE_FAN_IN]) <= MERGE_CAP
        ),
        None,
    )


def write_run(path: Path, digests: np.ndarray) -> None:
    """Write ``digests`` (any order) as a sorted run file at ``path``, durably."""
    _write_run(path, _sorted_digests(digests))


def _read_words(handle: BinaryIO, start: int, count: int) -> np.ndarray:
    """``count`` little-endian uint64 words of an open run file from word ``start``."""
    handle.seek(8 * start)
    data = handle.read(8 * count)
    return np.frombuffer(data, dtype="<u8")


def merge_run_files(sources: Sequence[Path], target: Path, window: int = MERGE_WINDOW) -> int:
    """Merge sorted run files into one at ``target`` (durably); how many digests.

    A k-way merge streamed from disk, ``window`` digests of each run at a time: each
    round reads a window of every run, cuts them all at the smallest last upper half
    among the windows that do not end their run (everything up to the cut is final,
    since every run is sorted), sorts what is below the cut and writes it in place in
    both halves of the target. Memory stays about ``len(sources)`` windows.
    """
    sizes = [p.stat().st_size // 16 for p in sources]
    total = sum(sizes)
    tmp = target.with_name(target.name + TEMP_SUFFIX)
    handles = [open(p, "rb") for p in sources]  # noqa: SIM115 - closed below
    try:
        with open(tmp, "wb") as out:
            out.truncate(16 * total)
            fd = out.fileno()
            cursors = [0] * len(sources)
            written = 0
            while written < total:
                windows = []
                for handle, size, at in zip(handles, sizes, cursors, strict=True):
                    count = min(window, size - at)
                    windows.append(_read_words(handle, at, count))
                open_ends = [
                    int(w[-1])
                    for w, size, at in zip(windows, sizes, cursors, strict=True)
                    if len(w) and at + len(w) < size
                ]
                cut = min(open_ends) if open_ends else None
                his, los = [], []
                for k, (handle, size, chunk) in enumerate(
                    zip(handles, sizes, windows, strict=True)
                ):
                    take = len(chunk)
                    if cut is not None:
                        take = int(np.searchsorted(chunk, np.uint64(cut), side="right"))
                    if take:
                        his.append(chunk[:take])
                        los.append(_read_words(handle, size + cursors[k], take))
                        cursors[k] += take
                hi = np.concatenate(his)
                lo = np.concatenate(los)
                order = np.argsort(hi, kind="stable")
                os.pwrite(fd, np.ascontiguousarray(hi[order]).tobytes(), 8 * written)
                os.pwrite(fd, np.ascontiguousarray(lo[order]).tobytes(), 8 * (total + written))
                written += len(hi)
            out.flush()
            os.fsync(fd)
    finally:
        for handle in handles:
            handle.close()
    os.replace(tmp, target)
    fsync_dir(target.parent)
    return total


def _write_run(path: Path, digests: np.ndarray) -> None:
    """Write ``digests`` (sorted by their upper half) as a run file, durably."""
    tmp = path.with_name(path.name + TEMP_SUFFIX)
    with open(tmp, "wb") as handle:
        handle.write(np.ascontiguousarray(digests[:, 0], dtype="<u8").tobytes())
        handle.write(np.ascontiguousarray(digests[:, 1], dtype="<u8").tobytes())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _sorted_digests(digests: np.ndarray) -> np.ndarray:
    order = np.argsort(digests[:, 0], kind="stable")
    return digests[order]


def staged_path(path: Path) -> Path:
    """Where a merged part file waits, complete, until its compaction commits."""
    return path.with_name(path.name + TEMP_SUFFIX)


def index_path(layout: LakeLayout) -> Path:
    """The index's SQLite file."""
    return layout.root / "_index" / "messages.sqlite3"


@dataclass(frozen=True)
class PartitionState:
    """What the index says about one partition's files, as one snapshot.

    Paths are relative to the lake root. ``version`` is the listing version
    (None: the index does not exist yet, or predates it); ``merged`` and
    ``replaced`` are the partition's files in a compaction in flight; ``pending`` the
    files of a batch being written (not committed yet).
    """

    version: int | None
    superseded: frozenset[str] = frozenset()
    merged: frozenset[str] = frozenset()
    replaced: frozenset[str] = frozenset()
    pending: frozenset[str] = frozenset()


class IndexReader:
    """Read-only access to the index for lock-free readers (a context manager).

    Never creates or changes anything: a missing index file or missing tables
    (an index written by an older version) read as empty.
    """

    def __init__(self, layout: LakeLayout) -> None:
        self.path = index_path(layout)
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> IndexReader:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is None and self.path.exists():
            uri = f"{self.path.absolute().as_uri()}?mode=ro"  # homes may be relative
            self._conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        return self._conn

    def version(self) -> int | None:
        """The listing version (None: no index, or one without the counter)."""
        conn = self._connection()
        if conn is None:
            return None
        try:
            row = conn.execute("SELECT version FROM listing_version").fetchone()
        except sqlite3.OperationalError:  # no such table
            return None
        return None if row is None else int(row[0])

    def partition(self, folder: str) -> PartitionState:
        """The state of the partition whose folder is ``folder`` (relative to the root)."""
        conn = self._connection()
        if conn is None:
            return PartitionState(None)
        # Paths in the folder sort between "<folder>/" and "<folder>0" ('0' follows '/').
        bounds = (folder + "/", folder + "0")
        conn.execute("BEGIN")  # one snapshot for every read below
        try:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            tables = {name for (name,) in rows}
            version = self.version() if "listing_version" in tables else None
            superseded: frozenset[str] = frozenset()
            if "superseded" in tables:
                rows = conn.execute(
                    "SELECT path FROM superseded WHERE path >= ? AND path < ?", bounds
                )
                superseded = frozenset(path for (path,) in rows)
            merged: set[str] = set()
            replaced: set[str] = set()
            if "compacting" in tables:
                rows = conn.execute(
                    "SELECT path, merged FROM compacting WHERE path >= ? AND path < ?", bounds
                )
                for path, flag in rows:
                    (merged if flag else replaced).add(path)
            pending: frozenset[str] = frozenset()
            if "pending" in tables:
                rows = conn.execute("SELECT path FROM pending WHERE path >= ? AND path < ?", bounds)
                pending = frozenset(path for (path,) in rows)
        finally:
            conn.execute("COMMIT")
        return PartitionState(version, superseded, frozenset(merged), frozenset(replaced), pending)


def _delete_durably(paths: Sequence[Path]) -> None:
    """Delete ``paths`` (missing ones are fine), then fsync the folders that held them."""
    for path in paths:
        path.unlink(missing_ok=True)
    for folder in {p.parent for p in paths}:
        if folder.exists():
            fsync_dir(folder)


class LakeIndex:
    """The message-id index and write lock of one lake.

    ``clock`` dates superseded files for :meth:`purge_superseded`; it is wall
    time (default: the system clock), not the platform's "as of" clock.
    """

    def __init__(self, layout: LakeLayout, clock: Clock | None = None) -> None:
        self.layout = layout
        self.path = index_path(layout)
        self.folder = self.path.parent
        self.clock: Clock = clock or SystemClock()
        self._conn: sqlite3.Connection | None = None

    @contextmanager
    def locked(self) -> Iterator[LakeIndex]:
        """Hold the lake's write lock; recover an interrupted batch first."""
        if not self.layout.root.exists():  # a new lake is readable by its owner only
            self.layout.root.mkdir(parents=True, mode=0o700, exist_ok=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        with _THREAD_LOCK, open(self.folder / "lock", "a+b") as lock_file:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            try:
                key = (os.getpid(), self.path)
                conn = _CONNECTIONS.get(key)
                if conn is None or not self.path.exists():
                    conn = _CONNECTIONS[key] = self._connect()
                self._conn = conn
                self._recover()
                yield self
            except BaseException:
                _CONNECTIONS.pop((os.getpid(), self.path), None)
                raise
            finally:
                self._conn = None
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)

    def _connect(self) -> sqlite3.Connection:
        # shared by the threads of a process, one at a time (under _THREAD_LOCK)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA cache_size=-65536")  # 64 MB
        # One row per run file of digests (see the module doc).
        conn.execute("CREATE TABLE IF NOT EXISTS runs (name TEXT PRIMARY KEY, events INTEGER)")
        conn.execute("CREATE TABLE IF NOT EXISTS pending (path TEXT PRIMARY KEY)")
        # merged = 1: a file the compaction writes; 0: a file it replaces.
        conn.execute(
            "CREATE TABLE IF NOT EXISTS compacting (path TEXT PRIMARY KEY, merged INTEGER NOT NULL)"
        )
        # Replaced part files kept for readers until purged; seconds since the epoch.
        conn.execute(
            "CREATE TABLE IF NOT EXISTS superseded "
            "(path TEXT PRIMARY KEY, superseded_at REAL NOT NULL)"
        )
        # One row: bumped with every change to compacting or superseded (see the module doc).
        conn.execute("CREATE TABLE IF NOT EXISTS listing_version (version INTEGER NOT NULL)")
        conn.execute(
            "INSERT INTO listing_version (version) SELECT 0 "
            "WHERE NOT EXISTS (SELECT 1 FROM listing_version)"
        )
        return conn

    def _bump_version(self) -> None:
        """Tell readers the listing changed (call inside the transaction that changes it)."""
        self.conn.execute("UPDATE listing_version SET version = version + 1")

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("LakeIndex used outside 'with index.locked()'")
        return self._conn

    def _recover(self) -> None:
        rows = self.conn.execute("SELECT path FROM pending").fetchall()
        if rows:
            for (relative,) in rows:
                path = self.layout.root / relative
                path.unlink(missing_ok=True)
                path.with_name(path.name + TEMP_SUFFIX).unlink(missing_ok=True)
            self.conn.execute("DELETE FROM pending")
        self._settle_compaction()
        self._drop_stray_runs()
        # a bulk load holds the lock from start to end: one found here was interrupted
        shutil.rmtree(self.spill_dir, ignore_errors=True)
        self._convert_legacy_ids()

    # -- the digest runs --------------------------------------------------------------

    @property
    def runs_dir(self) -> Path:
        return self.folder / "runs"

    @property
    def spill_dir(self) -> Path:
        """Where a bulk load keeps what it read until it writes each day once."""
        return self.folder / "bulk"

    def _run_rows(self) -> list[tuple[str, int]]:
        rows = self.conn.execute("SELECT name, events FROM runs ORDER BY name").fetchall()
        return [(str(name), int(events)) for name, events in rows]

    def _drop_stray_runs(self) -> None:
        """Delete run files no commit recorded (a writer died before its commit),
        and those a merge replaced (it died before deleting them)."""
        if not self.runs_dir.exists():
            return
        recorded = {name for name, _ in self._run_rows()}
        stray = [p for p in self.runs_dir.iterdir() if p.name not in recorded]
        if stray:
            _delete_durably(stray)

    def _convert_legacy_ids(self) -> None:
        """Turn the ids of an index written before digests into runs, in one commit."""
        conn = self.conn
        tables = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "messages" not in tables:
            return
        names: list[tuple[str, int]] = []
        cursor = conn.execute("SELECT message_id FROM messages")
        while True:
            chunk = [m for (m,) in cursor.fetchmany(1_000_000)]
            if not chunk:
                break
            names.append(self._new_run(message_digests(chunk)))
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO runs (name, events) VALUES (?, ?)", names)
            conn.execute("DROP TABLE messages")
        self._merge_runs()
        conn.execute("VACUUM")

    def _new_run(self, digests: np.ndarray) -> tuple[str, int]:
        """Write a run file (not yet recorded) of ``digests``; its (name, events)."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        name = f"run-{uuid.uuid4().hex}{_RUN_SUFFIX}"
        _write_run(self.runs_dir / name, _sorted_digests(digests))
        return name, len(digests)

    def contains(self, digests: np.ndarray, also: Sequence[Path] = ()) -> np.ndarray:
        """A boolean mask: which of ``digests`` (from :func:`message_digests`) are known,
        in the index or in the run files ``also`` (a bulk load's own, not yet committed)."""
        n = len(digests)
        if n == 0:
            return np.zeros(0, dtype=bool)
        order = np.argsort(digests[:, 0], kind="stable")
        qhi = digests[order, 0]
        qlo = digests[order, 1]
        hit = np.zeros(n, dtype=bool)
        paths = [self.runs_dir / name for name, events in self._run_rows() if events]
        for path in [*paths, *also]:
            hit |= _run_hits(path, qhi, qlo)
        found = np.zeros(n, dtype=bool)
        found[order] = hit
        return found

    def commit_digests(self, digests: np.ndarray) -> None:
        """Make a written batch permanent: its digests become known, nothing is pending.

        The digests must be new (not :meth:`contains`) and distinct.
        """
        name = self._new_run(digests) if len(digests) else None
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            if name is not None:
                self.conn.execute("INSERT INTO runs (name, events) VALUES (?, ?)", name)
            self.conn.execute("DELETE FROM pending")
        self._merge_runs()

    def commit_runs(self, paths: Sequence[Path]) -> None:
        """Make a written bulk batch permanent: the run files at ``paths`` (complete,
        fsynced, of new and distinct digests) become known, nothing is pending.

        The files are moved into the index's folder first; a crash before the commit
        leaves them there unrecorded, and the next writer deletes them.
        """
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        names = []
        for path in paths:
            name = f"run-{uuid.uuid4().hex}{_RUN_SUFFIX}"
            os.replace(path, self.runs_dir / name)
            names.append((name, (self.runs_dir / name).stat().st_size // 16))
        fsync_dir(self.runs_dir)
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("INSERT INTO runs (name, events) VALUES (?, ?)", names)
            self.conn.execute("DELETE FROM pending")
        self._merge_runs()

    def _merge_runs(self) -> None:
        """Merge runs of about the same size (by powers of :data:`MERGE_FAN_IN`)."""
        while True:
            group = merge_group(self._run_rows())
            if group is None:
                return
            name = f"run-{uuid.uuid4().hex}{_RUN_SUFFIX}"
            events = merge_run_files([self.runs_dir / n for n, _ in group], self.runs_dir / name)
            merged = (name, events)
            with self.conn:
                self.conn.execute("BEGIN IMMEDIATE")
                self.conn.execute("INSERT INTO runs (name, events) VALUES (?, ?)", merged)
                self.conn.executemany(
                    "DELETE FROM runs WHERE name = ?", [(name,) for name, _ in group]
                )
            _delete_durably([self.runs_dir / name for name, _ in group])

    def clear(self) -> None:
        """Forget every message id (the lake's events were removed)."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("DELETE FROM runs")
        self._drop_stray_runs()

    def index_bytes(self) -> int:
        """Disk used by the index (runs and the SQLite file), in bytes."""
        files = [p for p in self.folder.rglob("*") if p.is_file()]
        return sum(p.stat().st_size for p in files)

    def pending_count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM pending").fetchone()[0])

    def known(self, message_ids: Sequence[str]) -> set[str]:
        """The ids among ``message_ids`` that are already in the lake."""
        ids = list(message_ids)
        mask = self.contains(message_digests(ids))
        return {m for m, known in zip(ids, mask.tolist(), strict=True) if known}

    def begin_batch(self, paths: Iterable[Path]) -> None:
        """Record the part files a batch is about to write (committed at once)."""
        rows = [(str(p.relative_to(self.layout.root)),) for p in paths]
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("INSERT OR REPLACE INTO pending (path) VALUES (?)", rows)
            # readers leave pending files out: one listing a partition meanwhile lists again
            self._bump_version()

    def commit_batch(self, message_ids: Iterable[str] | pa.Array | pa.ChunkedArray) -> None:
        """Make a written batch permanent: its ids become known, nothing is pending.

        The ids must be new to the lake and distinct.
        """
        if not isinstance(message_ids, pa.Array | pa.ChunkedArray):
            message_ids = pa.array(list(message_ids), pa.string())
        self.commit_digests(message_digests(message_ids))

    def begin_compaction(self, merged: Sequence[Path], replaced: Sequence[Path]) -> None:
        """Record a compaction before any of its files is written (committed at once).

        ``merged`` are the part files it will write (each first at its
        :func:`staged_path`), ``replaced`` the part files whose rows they hold.
        """
        if not merged:
            raise ValueError("a compaction writes at least one merged file")
        if len({p.parent for p in [*merged, *replaced]}) != 1:
            # Readers check a compaction partition by partition.
            raise ValueError("a compaction stays within one partition")
        rows = [(str(p.relative_to(self.layout.root)), 1) for p in merged]
        rows += [(str(p.relative_to(self.layout.root)), 0) for p in replaced]
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            if self.conn.execute("SELECT 1 FROM compacting LIMIT 1").fetchone():
                raise RuntimeError("another compaction is recorded and was not settled")
            self.conn.executemany("INSERT INTO compacting (path, merged) VALUES (?, ?)", rows)
            self._bump_version()

    def commit_compaction(self) -> None:
        """Rename the staged merged files into place; the replaced ones become superseded.

        The staged files must be complete and fsynced. A crash in here is settled
        by the next writer to take the lock, forward or back (see the module doc).
        The replaced files stay on disk until :meth:`purge_superseded`.
        """
        merged, _ = self._compaction()
        for path in merged:
            os.replace(staged_path(path), path)
        self._settle_compaction()

    def abandon_compaction(self) -> None:
        """Roll a compaction back: delete its merged and staged files, keep the rest."""
        self._settle_compaction(roll_back=True)

    def _compaction(self) -> tuple[list[Path], list[Path]]:
        rows = self.conn.execute("SELECT path, merged FROM compacting ORDER BY path").fetchall()
        merged = [self.layout.root / p for p, flag in rows if flag]
        replaced = [self.layout.root / p for p, flag in rows if not flag]
        return merged, replaced

    def _settle_compaction(self, *, roll_back: bool = False) -> None:
        merged, replaced = self._compaction()
        if not merged and not replaced:
            return
        if not roll_back and merged and all(p.exists() for p in merged):
            # Every merged file is in place, so they hold every row: the replaced
            # files are superseded. The renames must be durable before the record goes.
            for folder in {p.parent for p in merged}:
                fsync_dir(folder)
            with self.conn:
                self.conn.execute("BEGIN IMMEDIATE")
                self.conn.execute(
                    "INSERT OR REPLACE INTO superseded (path, superseded_at) "
                    "SELECT path, ? FROM compacting WHERE merged = 0",
                    (self.clock.now().timestamp(),),
                )
                self.conn.execute("DELETE FROM compacting")
                self._bump_version()
            return
        # Some merged file is missing, so the replaced files were never touched.
        # The deletes must be durable before the record that explains them goes.
        _delete_durably(
            [q for p in merged for q in (p, staged_path(p), staged_path(staged_path(p)))]
        )
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("DELETE FROM compacting")
            self._bump_version()

    def superseded(self) -> list[Path]:
        """Replaced part files still on disk for earlier readers, in path order."""
        rows = self.conn.execute("SELECT path FROM superseded ORDER BY path").fetchall()
        return [self.layout.root / path for (path,) in rows]

    def purge_superseded(self, older_than: timedelta = SUPERSEDED_GRACE) -> int:
        """Delete the part files superseded at least ``older_than`` ago; how many.

        No reader lists a superseded file, so only a reader that listed it
        before its compaction committed, and still reads it ``older_than``
        later, can miss it.
        """
        if older_than < timedelta(0):
            raise ValueError("older_than must not be negative")
        cutoff = (self.clock.now() - older_than).timestamp()
        rows = self.conn.execute(
            "SELECT path FROM superseded WHERE superseded_at <= ?", (cutoff,)
        ).fetchall()
        if not rows:
            return 0
        _delete_durably([self.layout.root / path for (path,) in rows])
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("DELETE FROM superseded WHERE path = ?", rows)
            self._bump_version()
        return len(rows)

    def count(self) -> int:
        """How many message ids the lake holds."""
        row = self.conn.execute("SELECT coalesce(sum(events), 0) FROM runs").fetchone()
        return int(row[0])
