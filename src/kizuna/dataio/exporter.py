"""Export a table as CSV or JSON Lines with exactly the import columns.

What :func:`export_table` writes, :func:`kizuna.dataio.import_file` reads back
to identical rows: dates as ``YYYY-MM-DD``, timestamps as ISO 8601 in UTC with
the offset, amounts with their cents, ``attributes`` as JSON, null as an
empty CSV cell (or JSON ``null``). Rows stream from the store in key order.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import IO, Any

import orjson
import sqlalchemy as sa

from kizuna.dataio.importer import table_spec
from kizuna.dataio.readers import FORMATS
from kizuna.errors import InvalidInput
from kizuna.platform import Platform

_STREAM_BATCH = 2000


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        # A JSON number when it survives the trip through a double, else exact text.
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else str(value)
    return value


def export_table(
    platform: Platform, table: str, path_or_stream: Path | str | IO[str], fmt: str | None = None
) -> int:
    """Write every row of ``table`` to a file or text stream; returns the number of rows.

    ``fmt`` is ``csv`` or ``jsonl``; by default it follows a path's extension
    (CSV for streams and unknown extensions).
    """
    spec = table_spec(table)
    if fmt is None:
        suffix = (
            Path(path_or_stream).suffix.lower() if isinstance(path_or_stream, str | Path) else ""
        )
        fmt = "jsonl" if suffix in {".jsonl", ".ndjson"} else "csv"
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
    if isinstance(path_or_stream, str | Path):
        with Path(path_or_stream).open("w", encoding="utf-8", newline="") as fh:
            return _export(platform, spec.name, fh, fmt)
    return _export(platform, spec.name, path_or_stream, fmt)


def _export(platform: Platform, table: str, out: IO[str], fmt: str) -> int:
    spec = table_spec(table)
    t = spec.table
    names = spec.column_names
    stmt = sa.select(*(t.c[c] for c in names)).order_by(*(t.c[c] for c in spec.key))
    write: Callable[[tuple[Any, ...]], None]
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(names)

        def write(row: tuple[Any, ...]) -> None:
            writer.writerow([_csv_cell(v) for v in row])

    else:

        def write(row: tuple[Any, ...]) -> None:
            record = {n: _json_value(v) for n, v in zip(names, row, strict=True)}
            out.write(orjson.dumps(record).decode() + "\n")

    count = 0
    with platform.store.engine.connect() as conn:
        result = conn.execution_options(yield_per=_STREAM_BATCH).execute(stmt)
        for row in result:
            write(tuple(row))
            count += 1
    return count
