"""Land usage events in the lake: validate, de-duplicate, quarantine, write atomically.

:func:`ingest_records` is the one ingest path; the CLI (``kizuna ingest FILE``
through :func:`ingest_file`) and the REST API (``POST /v1/track|identify|group|batch``)
both call it. It returns only after the accepted events are durable: each
batch's Parquet parts are written to a temporary name, fsynced, renamed, and
only then are their message ids committed to the index (see
:mod:`kizuna.lake.index` for why a crash can never land a batch twice).

Every record ends in exactly one of three places, so the counts always add
up: ``accepted + duplicates + quarantined == records received``.
"""

from __future__ import annotations

import csv
import io
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from naive_index import LakeIndex  # the SQLite index of ids, as it was

from kizuna.errors import InvalidInput, NotFound, Problem
from kizuna.lake.layout import EVENT_SCHEMA, LakeLayout, atomic_write_parquet
from kizuna.lake.normalise import Rejected, TimestampRules, normalise, raw_text
from kizuna.lake.quarantine import QUARANTINE_SCHEMA, quarantine_path
from kizuna.store.models import Account

if TYPE_CHECKING:
    from kizuna.platform import Platform
    from kizuna.store.db import Store

__all__ = ["FORMATS", "IngestReport", "ingest_file", "ingest_records"]

#: Records handled per batch when a caller passes a long iterable or a file.
CHUNK_SIZE = 50_000
#: Problems kept in one report; the quarantine always holds every record.
MAX_PROBLEMS = 1_000
FORMATS = ("jsonl", "csv", "parquet", "json")
_MICROS_PER_DAY = 86_400_000_000
_EPOCH_DATE = date(1970, 1, 1)
_FLAT_COLUMNS = ("message_id", "account_id", "user_id", "event", "timestamp", "properties")


@dataclass
class IngestReport:
    """Outcome of an ingest: ``accepted + duplicates + quarantined`` = records received."""

    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    problems: list[Problem] = field(default_factory=list)
    problems_omitted: int = 0

    @property
    def received(self) -> int:
        return self.accepted + self.duplicates + self.quarantined

    def add(self, other: IngestReport) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        room = max(0, MAX_PROBLEMS - len(self.problems))
        self.problems.extend(other.problems[:room])
        self.problems_omitted += other.problems_omitted + max(0, len(other.problems) - room)


class _Unparsed:
    """A line that was not valid JSON: quarantined as ``bad_record`` with its text."""

    __slots__ = ("message", "text")

    def __init__(self, text: str, message: str) -> None:
        self.text = text
        self.message = message


# -- known accounts ------------------------------------------------------------

#: Seconds a "this account exists" answer is trusted. Another process (the CLI,
#: another worker) may delete an account; after this long its events are
#: quarantined again. Deletions in this process take effect at once.
KNOWN_ACCOUNTS_TTL = 5.0


@dataclass
class _KnownCache:
    ids: set[str] = field(default_factory=set)
    since: float = field(default_factory=time.monotonic)


_KNOWN: weakref.WeakKeyDictionary[Store, _KnownCache] = weakref.WeakKeyDictionary()


def known_accounts(platform: Platform, account_ids: Iterable[str]) -> set[str]:
    """The ids among ``account_ids`` that exist in the store's accounts table.

    Positive answers are cached per store for :data:`KNOWN_ACCOUNTS_TTL`
    seconds, so steady API traffic costs about one query per account every few
    seconds; :func:`forget_accounts` drops deleted accounts at once.
    """
    cached = _KNOWN.get(platform.store)
    if cached is None or time.monotonic() - cached.since > KNOWN_ACCOUNTS_TTL:
        cached = _KNOWN[platform.store] = _KnownCache()
    cache = cached.ids
    wanted = set(account_ids)
    missing = [a for a in wanted if a not in cache]
    for start in range(0, len(missing), 500):
        chunk = missing[start : start + 500]
        with platform.store.engine.connect() as conn:
            found = conn.execute(sa.select(Account.id).where(Account.id.in_(chunk))).scalars()
            cache.update(found)
    return wanted & cache


def forget_accounts(store: Store, account_ids: Iterable[str] | None = None) -> None:
    """Forget cached accounts (all of them when ``account_ids`` is None): after a delete."""
    cached = _KNOWN.get(store)
    if cached is None:
        return
    if account_ids is None:
        _KNOWN.pop(store, None)
    else:
        cached.ids.difference_update(account_ids)


# -- the ingest path -----------------------------------------------------------


def _expand(records: Iterable[Any]) -> Iterator[Any]:
    """Flatten Segment ``batch`` payloads (a batch's ``context`` applies to its calls)."""
    for record in records:
        if isinstance(record, Mapping) and "batch" in record and "type" not in record:
            batch = record["batch"]
            context = record.get("context")
            if not isinstance(batch, list):
                yield record  # quarantined below as missing fields
                continue
            for call in batch:
                if context is not None and isinstance(call, dict) and "context" not in call:
                    call = {**call, "context": context}
                yield call
        else:
            yield record


def ingest_records(
    platform: Platform, records: Iterable[Mapping[str, Any]], *, source: str
) -> IngestReport:
    """Land ``records`` (flat or Segment form) in the lake; return what happened to each.

    Returns after the accepted events are durable. Duplicates of a ``message_id``
    already in the lake (or earlier in the same call) are counted, not written;
    invalid records are quarantined with their reason and listed in ``problems``.
    """
    report = IngestReport()
    chunk: list[Any] = []
    position = 0
    for record in _expand(records):
        chunk.append(record)
        if len(chunk) >= CHUNK_SIZE:
            part, _ = _ingest_chunk(platform, chunk, source, "record", position)
            report.add(part)
            position += len(chunk)
            chunk = []
    if chunk or position == 0:
        part, _ = _ingest_chunk(platform, chunk, source, "record", position)
        report.add(part)
    return report


def ingest_parsed(
    platform: Platform, records: Sequence[Any], *, source: str, write_quarantine: bool
) -> tuple[IngestReport, list[int]]:
    """Ingest one in-memory batch; also return the indexes of records that landed
    (accepted or already present). Used by the quarantine replay."""
    return _ingest_chunk(
        platform, list(records), source, "record", 0, write_quarantine=write_quarantine
    )


def _ingest_chunk(
    platform: Platform,
    items: list[Any],
    source: str,
    unit: str,
    offset: int,
    positions: Sequence[int] | None = None,
    *,
    write_quarantine: bool = True,
) -> tuple[IngestReport, list[int]]:
    layout = LakeLayout(platform.settings.lake_dir)
    received_at = platform.clock.now()
    report = IngestReport()

    def number(i: int) -> int:
        return positions[i] if positions is not None else offset + i + 1

    def where(i: int) -> str:
        return f"{source} {unit} {number(i)}"

    rules = TimestampRules.from_settings(platform.settings)
    good_index: list[int] = []
    rows: list[tuple[Any, ...]] = []
    rejected: list[tuple[int, Rejected]] = []
    for i, item in enumerate(items):
        if isinstance(item, _Unparsed):
            rejected.append((i, Rejected("bad_record", item.message)))
            continue
        try:
            rows.append(normalise(item, received_at=received_at, rules=rules))
            good_index.append(i)
        except Rejected as exc:
            rejected.append((i, exc))

    # Unknown accounts go to quarantine, to be replayed once the account exists.
    known = known_accounts(platform, {row[1] for row in rows})
    keep_index: list[int] = []
    keep_rows: list[tuple[Any, ...]] = []
    for i, row in zip(good_index, rows, strict=True):
        if row[1] in known:
            keep_index.append(i)
            keep_rows.append(row)
        else:
            rejected.append(
                (i, Rejected("unknown_account", f"account {row[1]!r} is not in the store"))
            )

    landed: list[int] = []
    batch = uuid.uuid4().hex[:16]
    index = LakeIndex(layout)
    with index.locked():
        seen = index.known([row[0] for row in keep_rows]) if keep_rows else set()
        new_rows: list[tuple[Any, ...]] = []
        for i, row in zip(keep_index, keep_rows, strict=True):
            landed.append(i)
            if row[0] in seen:
                report.duplicates += 1
            else:
                seen.add(row[0])
                new_rows.append(row)
        parts = _plan_parts(layout, new_rows, batch)
        q_path = quarantine_path(layout, received_at, batch)
        pending = [path for path, _ in parts]
        if rejected and write_quarantine:
            pending.append(q_path)
        if pending:
            index.begin_batch(pending)
        if rejected and write_quarantine:
            atomic_write_parquet(
                _quarantine_table(items, rejected, rows_where=where, source=source, at=received_at),
                q_path,
                sort=False,
            )
        if parts:
            table = _events_table(new_rows)
            for path, take in parts:
                atomic_write_parquet(table.take(take), path)
        if pending:
            index.commit_batch(row[0] for row in new_rows)
    report.accepted = len(new_rows)
    report.quarantined = len(rejected)
    rejected.sort(key=lambda pair: pair[0])
    problems = [
        Problem(f"{exc.reason}: {exc.message}", where=where(i), field=exc.field, row=number(i))
        for i, exc in rejected[:MAX_PROBLEMS]
    ]
    report.problems = problems
    report.problems_omitted = max(0, len(rejected) - MAX_PROBLEMS)
    return report, sorted(landed)


def _plan_parts(
    layout: LakeLayout, rows: list[tuple[Any, ...]], batch: str
) -> list[tuple[Path, list[int]]]:
    by_day: dict[int, list[int]] = {}
    for i, row in enumerate(rows):
        by_day.setdefault(row[4] // _MICROS_PER_DAY, []).append(i)
    by_date = {_EPOCH_DATE + timedelta(days=day): take for day, take in by_day.items()}
    return [
        (layout.new_part_path(day, writer=batch), take) for day, take in sorted(by_date.items())
    ]


def _events_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    return pa.Table.from_arrays(
        [pa.array(col, type=f.type) for col, f in zip(columns, EVENT_SCHEMA, strict=True)],
        schema=EVENT_SCHEMA,
    )


def _quarantine_table(
    items: list[Any],
    rejected: list[tuple[int, Rejected]],
    *,
    rows_where: Callable[[int], str],
    source: str,
    at: datetime,
) -> pa.Table:
    data: dict[str, list[Any]] = {name: [] for name in QUARANTINE_SCHEMA.names}
    for i, exc in rejected:
        item = items[i]
        mapping = item if isinstance(item, Mapping) else {}
        data["received_at"].append(at)
        data["source"].append(source)
        data["where"].append(rows_where(i))
        data["reason"].append(exc.reason)
        data["message"].append(exc.message)
        data["field"].append(exc.field)
        message_id = mapping.get("message_id", mapping.get("messageId"))
        data["message_id"].append(None if message_id is None else str(message_id))
        account = mapping.get("account_id", mapping.get("groupId"))
        context = mapping.get("context")
        if account is None and isinstance(context, Mapping):
            account = context.get("groupId")
        data["account_id"].append(None if account is None else str(account))
        data["raw"].append(item.text if isinstance(item, _Unparsed) else raw_text(item))
    return pa.table(data, schema=QUARANTINE_SCHEMA)


# -- files ---------------------------------------------------------------------


def detect_format(path: Path) -> str:
    """The ingest format for a file name: jsonl, csv, parquet or json (Segment)."""
    suffixes = [s.lower() for s in path.suffixes]
    name = suffixes[-1] if suffixes else ""
    if name in (".jsonl", ".ndjson"):
        return "jsonl"
    if name in (".csv", ".tsv"):
        return "csv"
    if name in (".parquet", ".pq"):
        return "parquet"
    if name == ".json":
        return "json"
    raise InvalidInput(
        f"cannot tell the format of {path.name}",
        [Problem("use --format jsonl|csv|parquet|json", where=str(path), field="format")],
    )


Progress = Callable[[int, int], None]


def ingest_file(
    platform: Platform,
    path: Path | str,
    *,
    fmt: str | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Stream a JSON Lines, CSV, Parquet or Segment JSON file into the lake.

    Memory stays flat: the file is read in chunks of :data:`CHUNK_SIZE` records,
    each landed before the next is read. ``progress(done, total)`` is called
    after each chunk (bytes for text files, rows for Parquet).
    """
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"no such file: {path}")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise InvalidInput(
            f"unknown format {fmt!r}",
            [Problem(f"use one of {', '.join(FORMATS)}", field="format")],
        )
    source = path.name
    report = IngestReport()
    chunks = {
        "jsonl": _jsonl_chunks,
        "csv": _csv_chunks,
        "parquet": _parquet_chunks,
        "json": _json_chunks,
    }[fmt](path)
    for items, positions, unit, done, total in chunks:
        part, _ = _ingest_chunk(platform, items, source, unit, 0, positions)
        report.add(part)
        if progress is not None:
            progress(done, total)
    return report


_Chunk = tuple[list[Any], list[int], str, int, int]


def _jsonl_chunks(path: Path) -> Iterator[_Chunk]:
    total = path.stat().st_size
    with open(path, "rb") as handle:
        items: list[Any] = []
        lines: list[int] = []
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                items.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                text = line.decode(errors="replace").rstrip("\r\n")
                items.append(_Unparsed(text, f"not valid JSON ({exc})"))
            lines.append(number)
            if len(items) >= CHUNK_SIZE:
                yield items, lines, "line", handle.tell(), total
                items, lines = [], []
        yield items, lines, "line", total, total


def _csv_chunks(path: Path) -> Iterator[_Chunk]:
    total = path.stat().st_size
    with open(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
        reader = csv.DictReader(text, dialect=dialect)
        items: list[Any] = []
        lines: list[int] = []
        for row in reader:
            record: dict[str, Any] = {}
            extra: dict[str, Any] = {}
            for key, value in row.items():
                if key is None or value is None or value == "":
                    continue
                if key in _FLAT_COLUMNS:
                    record[key] = value
                else:
                    extra[key] = value
            if extra:
                props = record.get("properties")
                try:
                    base = orjson.loads(props) if props else {}
                except orjson.JSONDecodeError:
                    base = None
                if isinstance(base, dict):
                    record["properties"] = {**base, **extra}
            items.append(record)
            lines.append(reader.line_num)
            if len(items) >= CHUNK_SIZE:
                yield items, lines, "line", raw.tell(), total
                items, lines = [], []
        yield items, lines, "line", total, total


def _parquet_chunks(path: Path) -> Iterator[_Chunk]:
    handle = pq.ParquetFile(path)
    total = handle.metadata.num_rows
    done = 0
    for batch in handle.iter_batches(batch_size=CHUNK_SIZE):
        items = batch.to_pylist()
        positions = list(range(done + 1, done + len(items) + 1))
        done += len(items)
        yield items, positions, "row", done, total
    if total == 0:
        yield [], [], "row", 0, 0


def _json_chunks(path: Path) -> Iterator[_Chunk]:
    total = path.stat().st_size
    try:
        payload = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f"{path.name} is not valid JSON",
            [Problem(str(exc), where=path.name)],
        ) from None
    calls = list(_expand(payload if isinstance(payload, list) else [payload]))
    for start in range(0, max(len(calls), 1), CHUNK_SIZE):
        items = calls[start : start + CHUNK_SIZE]
        positions = list(range(start + 1, start + len(items) + 1))
        yield items, positions, "call", min(total, start + CHUNK_SIZE), total
