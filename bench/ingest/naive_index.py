"""The lake's message-id index: cheap de-duplication across the whole lake.

Senders deliver at least once, so the same ``message_id`` may arrive many
times, in any batch, days apart. Every accepted id is kept in one SQLite file
(``<lake>/_index/messages.sqlite3``, a ``WITHOUT ROWID`` B-tree keyed on the
id), so checking a batch of 500 ids is one indexed ``IN`` query instead of a
scan of the lake.

Cost: roughly 50–70 bytes of disk per accepted event for 36-character ids
(≈ 6 GB at 100M events) and one B-tree insert per event. The alternatives —
per-partition id sets (cheap, but a re-sent event with a different timestamp
lands in another partition and escapes them) or 64-bit hashes (a collision
would silently drop a real event) — trade correctness for space; this index
does not.

Each ingest batch is a small transaction over the index and the Parquet files:

1. under an exclusive lock (``fcntl.flock`` on ``_index/lock``, plus a thread
   lock), the part files the batch will write are recorded as *pending* and
   committed;
2. the part files are written atomically (temporary name, fsync, rename);
3. the batch's ids are inserted and the pending rows removed, in one commit.

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
compaction bumps the counter in ``listing_version`` in the same transaction;
a reader reads it before and after listing a partition and lists again if it
changed.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from kizuna.clock import Clock, SystemClock
from kizuna.lake.layout import TEMP_SUFFIX, LakeLayout, fsync_dir

#: How long superseded part files stay on disk for readers that listed them earlier.
SUPERSEDED_GRACE = timedelta(hours=1)

_THREAD_LOCK = threading.Lock()
# One open connection per index file and process: opening SQLite costs more
# than a whole 500-event batch. Only used while holding _THREAD_LOCK.
_CONNECTIONS: dict[tuple[int, Path], sqlite3.Connection] = {}
_CHUNK = 900  # below SQLite's default limit on bound parameters


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
    ``replaced`` are the partition's files in a compaction in flight.
    """

    version: int | None
    superseded: frozenset[str] = frozenset()
    merged: frozenset[str] = frozenset()
    replaced: frozenset[str] = frozenset()


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
        finally:
            conn.execute("COMMIT")
        return PartitionState(version, superseded, frozenset(merged), frozenset(replaced))


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
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA cache_size=-65536")  # 64 MB
        conn.execute(
            "CREATE TABLE IF NOT EXISTS messages (message_id TEXT PRIMARY KEY) WITHOUT ROWID"
        )
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

    def pending_count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM pending").fetchone()[0])

    def known(self, message_ids: Sequence[str]) -> set[str]:
        """The ids among ``message_ids`` that are already in the lake."""
        found: set[str] = set()
        for start in range(0, len(message_ids), _CHUNK):
            chunk = message_ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            cursor = self.conn.execute(
                f"SELECT message_id FROM messages WHERE message_id IN ({marks})", chunk
            )
            found.update(row[0] for row in cursor)
        return found

    def begin_batch(self, paths: Iterable[Path]) -> None:
        """Record the part files a batch is about to write (committed at once)."""
        rows = [(str(p.relative_to(self.layout.root)),) for p in paths]
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("INSERT OR REPLACE INTO pending (path) VALUES (?)", rows)

    def commit_batch(self, message_ids: Iterable[str]) -> None:
        """Make a written batch permanent: its ids become known, nothing is pending."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(
                "INSERT INTO messages (message_id) VALUES (?)", ((m,) for m in message_ids)
            )
            self.conn.execute("DELETE FROM pending")

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
        return int(self.conn.execute("SELECT count(*) FROM messages").fetchone()[0])
