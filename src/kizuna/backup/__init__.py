"""Backup and restore: one archive holding everything a Kizuna install needs.

``kizuna backup --out FILE`` writes a tar archive while Kizuna keeps running:

* ``store/kizuna.sqlite3`` — a SQLite store copied with SQLite's online backup
  API (a consistent snapshot; writers are not blocked for long), or
  ``store/tables/<table>.csv`` — a PostgreSQL store read with ``COPY ... TO
  STDOUT`` inside one ``REPEATABLE READ`` read-only transaction (one snapshot
  for every table, as ``pg_dump`` takes it);
* ``lake/...`` — the lake's *current* files: committed event part files (never
  staged, superseded or half-compacted ones) and the quarantine, listed under
  the lake's lock so the listing is one consistent moment; the message-id
  index and the roll-up cache are rebuilt on restore;
* ``home/...`` — every other file of the data folder: definitions, metric
  values, daily snapshots, rendered documents, the secret key (so keep the
  archive as private as the data folder; it is written owner-only);
* ``manifest.json`` — row counts per table, the number of events, the store's
  migration revision and a SHA-256 checksum per file.

``kizuna restore FILE`` brings it back into an *empty* data folder (and, with
``KIZUNA_DATABASE_URL`` set, an empty PostgreSQL database), verifying every
file's checksum before anything is written, migrating the store to this
version's schema, and checking afterwards that every table has the backed-up
number of rows and the lake the backed-up number of events. A SQLite backup
restores into PostgreSQL (how a team outgrows the embedded default).
"""

from kizuna.backup.archive import backup
from kizuna.backup.common import BackupError, BackupReport, RestoreReport
from kizuna.backup.restore import restore

__all__ = ["BackupError", "BackupReport", "RestoreReport", "backup", "restore"]
