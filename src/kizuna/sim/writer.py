"""Writing the simulated tables: CSV files in the import format, Parquet events.

Formatting is explicit (no ``str(float)``, no locale, no dict ordering) so the
same rows always give the same bytes.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson

#: Column order of every CSV the simulator writes, as ``kizuna import`` reads them.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "team": ("id", "name", "email", "role", "manager_id", "active"),
    "accounts": (
        "id",
        "name",
        "parent_id",
        "segment",
        "industry",
        "region",
        "owner_id",
        "created_date",
        "attributes",
    ),
    "contacts": ("id", "account_id", "name", "email", "title", "success_role"),
    "contracts": (
        "id",
        "account_id",
        "product",
        "arr",
        "currency",
        "quantity",
        "start_date",
        "end_date",
        "status",
        "renews_line_id",
    ),
    "tickets": (
        "id",
        "account_id",
        "subject",
        "opened_at",
        "closed_at",
        "priority",
        "status",
        "csat",
    ),
    "surveys": ("id", "account_id", "contact_id", "kind", "score", "comment", "answered_at"),
    "activities": ("id", "account_id", "kind", "author_id", "activity_date", "text", "contact_id"),
    "fx-rates": ("currency", "valid_from", "rate"),
}

#: File name of each table under the output folder.
TABLE_FILES: dict[str, str] = {
    "team": "team.csv",
    "accounts": "accounts.csv",
    "contacts": "contacts.csv",
    "contracts": "contracts.csv",
    "tickets": "tickets.csv",
    "surveys": "surveys.csv",
    "activities": "activities.csv",
    "fx-rates": "fx_rates.csv",
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def fmt_cents(cents: int) -> str:
    """An amount in minor units as a plain decimal text: 123456 -> '1234.56'."""
    sign = "-" if cents < 0 else ""
    cents = abs(int(cents))
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def fmt_ts(epoch_seconds: int) -> str:
    """Seconds since the epoch as ISO 8601 UTC with a ``Z`` suffix."""
    return (_EPOCH + timedelta(seconds=int(epoch_seconds))).strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_date(day: date) -> str:
    return day.isoformat()


def fmt_json(value: dict[str, Any]) -> str:
    """A JSON object as compact text with sorted keys."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


class TableWriters:
    """One open CSV writer per table; rows are written in the order given.

    Callers write referenced rows before the rows that reference them (a parent
    account before its children, a renewed line before its renewal).
    """

    def __init__(self, out_dir: Path, tables: Sequence[str]) -> None:
        self.out_dir = out_dir
        self.counts: dict[str, int] = {}
        self._handles: dict[str, IO[str]] = {}
        self._writers: dict[str, Any] = {}
        out_dir.mkdir(parents=True, exist_ok=True)
        for table in tables:
            # kept open across blocks and closed in close(); a with-block cannot span that
            handle = open(out_dir / TABLE_FILES[table], "w", encoding="utf-8", newline="")  # noqa: SIM115
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(TABLE_COLUMNS[table])
            self._handles[table] = handle
            self._writers[table] = writer
            self.counts[table] = 0

    def write(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        """Append rows (values already formatted; ``None`` becomes an empty cell)."""
        self._writers[table].writerows(rows)
        self.counts[table] += len(rows)

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()

    def __enter__(self) -> TableWriters:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
