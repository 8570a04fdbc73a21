"""Reading the lake: which part files cover a date range, and the events in them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from kizuna.lake.layout import EVENT_SCHEMA, LakeLayout


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


def event_files(
    layout: LakeLayout, start: date | None = None, end: date | None = None
) -> list[Path]:
    """Committed part files whose UTC event date is in ``[start, end]`` (both optional)."""
    files: list[Path] = []
    for day in partition_dates(layout):
        if (start is None or day >= start) and (end is None or day <= end):
            files.extend(sorted(layout.partition_dir(day).glob("*.parquet")))
    return files


def read_events(layout: LakeLayout, start: date | None = None, end: date | None = None) -> pa.Table:
    """All events in the UTC date range as one Arrow table (for tests and small lakes)."""
    files = event_files(layout, start, end)
    if not files:
        return EVENT_SCHEMA.empty_table()
    return pa.concat_tables(pq.read_table(f, schema=EVENT_SCHEMA) for f in files)
