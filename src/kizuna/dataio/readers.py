"""Reading import files (CSV and JSON Lines) as a stream of records, and writing rejects.

Readers never hold the file in memory: they yield one :class:`RawRecord` at a
time, numbered with the line a user sees in an editor (the CSV header is line
1; a CSV record with quoted line breaks is numbered by its first line). They do
no validation beyond the file's structure; the row models do the rest.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from kizuna.errors import ImportRejected, InvalidInput, Problem

FORMATS = ("csv", "jsonl")
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
REJECT_REASON = "_reject_reason"
# Long comments and ticket texts are legitimate; the csv module's 128 KiB default is not enough.
_CSV_FIELD_LIMIT = 64 * 1024 * 1024


def detect_format(path: Path, fmt: str | None = None) -> str:
    """The file format: ``fmt`` if given, else from the extension (.csv, .jsonl, .ndjson)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise InvalidInput(f"unknown format {fmt!r}; use one of: {', '.join(FORMATS)}")
        return fmt
    found = _EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise InvalidInput(
            f"cannot tell the format of {path.name} from its extension; "
            "name it .csv, .jsonl or .ndjson, or pass --format csv|jsonl"
        )
    return found


@dataclass(slots=True)
class RawRecord:
    """One record as read: its line, its values by column, and the raw form for rejects.

    ``data`` is ``None`` when the record could not be read into columns at all;
    ``problem`` then says why.
    """

    line: int
    data: dict[str, Any] | None
    raw: Any
    problem: str | None = None


@dataclass
class ByteCounter:
    """How far into the file the reader is, for progress reporting."""

    done: int = 0
    total: int = 0


def _decoded_lines(fh: BinaryIO, counter: ByteCounter, name: str) -> Iterator[str]:
    for number, chunk in enumerate(fh, start=1):
        counter.done += len(chunk)
        if number == 1:
            chunk = chunk.removeprefix(codecs.BOM_UTF8)
        try:
            yield chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImportRejected(
                f"{name} is not UTF-8 text",
                [
                    Problem(
                        f"byte {chunk[exc.start]:#04x} at position {exc.start + 1} is not UTF-8; "
                        "save the file as UTF-8 (with or without BOM)",
                        where=f"{name} row {number}",
                        row=number,
                        code="not_utf8",
                        params={"byte": f"{chunk[exc.start]:#04x}", "position": exc.start + 1},
                    )
                ],
            ) from None


class CsvRecords:
    """The records of a CSV file with a header row (UTF-8, with or without BOM)."""

    def __init__(self, path: Path, counter: ByteCounter) -> None:
        self.path = path
        self.counter = counter
        self._fh = path.open("rb")
        counter.total = path.stat().st_size
        csv.field_size_limit(max(csv.field_size_limit(), _CSV_FIELD_LIMIT))
        self._reader = csv.reader(_decoded_lines(self._fh, counter, path.name), strict=True)
        self.header: list[str] = []
        try:
            self.header = [h.strip() for h in next(self._reader)]
        except StopIteration:
            self.header = []
        except csv.Error as exc:
            self._fh.close()
            self._fail(1, exc)
        except BaseException:  # e.g. not UTF-8: the caller never gets us to close
            self._fh.close()
            raise

    def _fail(self, line: int, exc: csv.Error) -> None:
        raise ImportRejected(
            f"{self.path.name} is not readable as CSV",
            [
                Problem(
                    f"CSV syntax error: {exc}",
                    where=f"{self.path.name} row {line}",
                    row=line,
                    code="csv_syntax",
                    params={"detail": str(exc)},
                )
            ],
        )

    def __iter__(self) -> Iterator[RawRecord]:
        width = len(self.header)
        while True:
            line = self._reader.line_num + 1
            try:
                cells = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                self._fail(line, exc)
            if not cells or (len(cells) == 1 and not cells[0].strip() and width > 1):
                continue  # blank line
            if len(cells) != width:
                yield RawRecord(
                    line,
                    None,
                    cells,
                    f"has {len(cells)} cells but the header has {width}",
                )
                continue
            yield RawRecord(
                line,
                {h: (c if c != "" else None) for h, c in zip(self.header, cells, strict=True)},
                cells,
            )

    def close(self) -> None:
        self._fh.close()


class JsonlRecords:
    """The records of a JSON Lines file: one JSON object per line, blank lines ignored."""

    header: list[str] | None = None

    def __init__(self, path: Path, counter: ByteCounter) -> None:
        self.path = path
        self.counter = counter
        self._fh = path.open("rb")
        counter.total = path.stat().st_size

    def __iter__(self) -> Iterator[RawRecord]:
        for number, chunk in enumerate(self._fh, start=1):
            self.counter.done += len(chunk)
            if number == 1:
                chunk = chunk.removeprefix(codecs.BOM_UTF8)
            if not chunk.strip():
                continue
            chunk = chunk.rstrip(b"\r\n")
            text = chunk.decode("utf-8", errors="replace")
            try:
                value = orjson.loads(chunk)
            except orjson.JSONDecodeError as exc:
                reason = f"is not valid JSON ({exc.msg} at character {exc.pos + 1})"
                yield RawRecord(number, None, text, reason)
                continue
            if not isinstance(value, dict):
                yield RawRecord(number, None, text, "must be a JSON object ({...})")
                continue
            yield RawRecord(number, value, value)

    def close(self) -> None:
        self._fh.close()


def open_records(path: Path, fmt: str, counter: ByteCounter) -> CsvRecords | JsonlRecords:
    """Open ``path`` for reading records in format ``fmt``."""
    if fmt == "csv":
        return CsvRecords(path, counter)
    return JsonlRecords(path, counter)


def reject_path(path: Path, fmt: str) -> Path:
    """Where the rejects of ``path`` go: ``<name>.rejects.csv`` or ``.rejects.jsonl`` beside it."""
    return path.with_name(f"{path.stem}.rejects.{'csv' if fmt == 'csv' else 'jsonl'}")


class RejectWriter:
    """Writes rejected records in the input's own format plus a ``_reject_reason`` column."""

    def __init__(self, path: Path, fmt: str, header: list[str] | None) -> None:
        self.path = path
        self.fmt = fmt
        self.count = 0
        self._fh: io.TextIOWrapper = path.open("w", encoding="utf-8", newline="")
        self._width = len(header or [])
        self._csv = None
        if fmt == "csv":
            self._csv = csv.writer(self._fh, lineterminator="\n")
            self._csv.writerow([*(header or []), REJECT_REASON])

    def write(self, raw: Any, reason: str) -> None:
        self.count += 1
        if self._csv is not None:
            cells = [str(c) if c is not None else "" for c in raw]
            if len(cells) > self._width:
                reason = f"{reason}; cells beyond the header: {cells[self._width :]!r}"
                cells = cells[: self._width]
            cells += [""] * (self._width - len(cells))
            self._csv.writerow([*cells, reason])
            return
        record = dict(raw) if isinstance(raw, dict) else {"_raw_line": raw}
        record[REJECT_REASON] = reason
        self._fh.write(orjson.dumps(record, default=str).decode() + "\n")

    def close(self) -> None:
        self._fh.close()
