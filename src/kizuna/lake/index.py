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

1. the merged files it will write and the files they replace are recorded and
   committed;
2. each merged file is written complete and fsynced under a *staged* name
   (``part-….parquet.tmp``, which readers ignore);
3. the staged files are renamed into place, then the replaced files are
   deleted and the rows removed.

The commit point is the last rename of step 3: recovery finishes the
compaction (deletes the replaced files) if every merged file is in place, and
otherwise rolls it back (deletes the merged and staged files; the replaced
files were not touched yet). Either way each event is in the lake once.
Readers do not take the lock: one that lists a partition between the first
rename and the last delete of step 3 (milliseconds), or after a crash there
and before the next writer recovers, sees those events twice.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from kizuna.lake.layout import TEMP_SUFFIX, LakeLayout, _fsync_dir

_THREAD_LOCK = threading.Lock()
# One open connection per index file and process: opening SQLite costs more
# than a whole 500-event batch. Only used while holding _THREAD_LOCK.
_CONNECTIONS: dict[tuple[int, Path], sqlite3.Connection] = {}
_CHUNK = 900  # below SQLite's default limit on bound parameters


def staged_path(path: Path) -> Path:
    """Where a merged part file waits, complete, until its compaction commits."""
    return path.with_name(path.name + TEMP_SUFFIX)


class LakeIndex:
    """The message-id index and write lock of one lake."""

    def __init__(self, layout: LakeLayout) -> None:
        self.layout = layout
        self.folder = layout.root / "_index"
        self.path = self.folder / "messages.sqlite3"
        self._conn: sqlite3.Connection | None = None

    @contextmanager
    def locked(self) -> Iterator[LakeIndex]:
        """Hold the lake's write lock; recover an interrupted batch first."""
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
        return conn

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
        rows = [(str(p.relative_to(self.layout.root)), 1) for p in merged]
        rows += [(str(p.relative_to(self.layout.root)), 0) for p in replaced]
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            if self.conn.execute("SELECT 1 FROM compacting LIMIT 1").fetchone():
                raise RuntimeError("another compaction is recorded and was not settled")
            self.conn.executemany("INSERT INTO compacting (path, merged) VALUES (?, ?)", rows)

    def commit_compaction(self) -> None:
        """Rename the staged merged files into place, then delete the replaced ones.

        The staged files must be complete and fsynced. A crash in here is settled
        by the next writer to take the lock, forward or back (see the module doc).
        """
        merged, _ = self._compaction()
        for path in merged:
            os.replace(staged_path(path), path)
        for folder in {p.parent for p in merged}:
            _fsync_dir(folder)
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
            # Every merged file is in place, so they hold every row: finish.
            doomed = replaced
        else:
            # Some merged file is missing, so the replaced files were never touched.
            doomed = [q for p in merged for q in (p, staged_path(p), staged_path(staged_path(p)))]
        for path in doomed:
            path.unlink(missing_ok=True)
        # The deletes must be durable before the record that explains them goes.
        for folder in {p.parent for p in doomed}:
            if folder.exists():
                _fsync_dir(folder)
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("DELETE FROM compacting")

    def count(self) -> int:
        """How many message ids the lake holds."""
        return int(self.conn.execute("SELECT count(*) FROM messages").fetchone()[0])
