"""Land usage events in the lake: validate, de-duplicate, quarantine, write atomically.

Columnar from end to end. Records arrive in *blocks* (a file is read 200k records at
a time, the API's concurrent requests are grouped): a block's fields become Arrow
columns, :func:`kizuna.lake.normalise.normalise_columns` vouches for the rows that
pass every rule with vectorised compute, and only the others go through
:func:`kizuna.lake.normalise.normalise` one by one (which accepts them or says why
not — the rules and reasons live there only). Known accounts are checked once per
block, message ids are de-duplicated in bulk against the digest index
(:mod:`kizuna.lake.index`), and each day's new events are written as one part file
per block.

:func:`ingest_records` and :func:`ingest_file` return only after the accepted events
are durable: each batch's Parquet parts are written to a temporary name, fsynced,
renamed, and only then are their message-id digests committed to the index (see
:mod:`kizuna.lake.index` for why a crash can never land a batch twice).
:func:`ingest_paths` is the bulk path for a first history load (a folder or a glob
of files, larger batches, then the metrics' roll-up brought up to date).
:class:`GroupCommitter` serves the collection API: the requests that arrive while a
batch is being written are written together as the next batch, and each request
gets its own counts back once its events are durable.

Every record ends in exactly one of three places, so the counts always add
up: ``accepted + duplicates + quarantined == records received``.
"""

from __future__ import annotations

import csv
import glob as globbing
import io
import queue
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import sqlalchemy as sa

from kizuna.errors import InvalidInput, NotFound, Problem
from kizuna.lake.columnar import canonical_properties, jsonl_columns
from kizuna.lake.index import LakeIndex, message_digests
from kizuna.lake.layout import (
    EVENT_SCHEMA,
    LakeLayout,
    atomic_write_parquet,
    atomic_write_parquets,
)
from kizuna.lake.normalise import (
    Rejected,
    TimestampRules,
    normalise,
    normalise_columns,
    properties_text,
    raw_text,
)
from kizuna.lake.quarantine import QUARANTINE_SCHEMA, quarantine_path
from kizuna.store.models import Account

if TYPE_CHECKING:
    from kizuna.platform import Platform
    from kizuna.store.db import Store

__all__ = [
    "FORMATS",
    "GroupCommitter",
    "IngestReport",
    "ingest_file",
    "ingest_paths",
    "ingest_records",
]

#: Records per batch when a caller passes a long iterable or a file.
CHUNK_SIZE = 500_000
#: Records parsed at a time (as Python objects) before they become Arrow columns.
PARSE_ROWS = 100_000
#: Records per batch of the bulk path (a first history load).
BULK_CHUNK_SIZE = 2_000_000
#: Problems kept in one report; the quarantine always holds every record.
MAX_PROBLEMS = 1_000
FORMATS = ("jsonl", "csv", "parquet", "json")
_MICROS_PER_DAY = 86_400_000_000
_EPOCH_DATE = date(1970, 1, 1)
#: Above this share of records the columns cannot hold, a JSON Lines chunk is read
#: record by record as dicts (mostly Segment calls, which the dict path reads in bulk).
_SLOW_SHARE = 0.25
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


# -- blocks: records as columns ------------------------------------------------


@dataclass
class _Block:
    """Records as Arrow columns of the flat fields, with the way back to each record.

    ``slow`` marks rows the columns could not hold as they are (a number as an id,
    a line that was not JSON...): they go through :func:`normalise` one by one, given
    the record ``items`` returns. ``where(i)``/``number(i)``/``source(i)`` say where
    row ``i`` came from, for the quarantine and the problems.
    """

    columns: dict[str, pa.Array]
    slow: np.ndarray
    items: Callable[[Sequence[int]], list[Any]]
    where: Callable[[int], str]
    number: Callable[[int], int]
    source: Callable[[int], str]

    @property
    def size(self) -> int:
        return len(self.slow)


def _string_column(values: list[Any], slow: np.ndarray) -> pa.Array:
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowException, UnicodeEncodeError, TypeError):
        pass
    clean: list[Any] = []
    for i, value in enumerate(values):
        if value is None:
            clean.append(None)
            continue
        if type(value) is str:
            try:
                value.encode()
                clean.append(value)
                continue
            except UnicodeEncodeError:
                pass
        clean.append(None)
        slow[i] = True
    return pa.array(clean, pa.string())


def _properties_column(values: Iterable[Any], slow: np.ndarray) -> pa.Array:
    """Properties as the lake keeps them; the common case (a non-empty dict) inline."""
    out: list[Any] = []
    append = out.append
    dumps = orjson.dumps
    option = orjson.OPT_NON_STR_KEYS
    for i, value in enumerate(values):
        if value is None:
            append(None)
        elif type(value) is dict and value:
            try:
                append(dumps(value, option=option))
            except TypeError:
                append(None)
                slow[i] = True
        else:
            try:
                append(properties_text(value))
            except Rejected:
                append(None)
                slow[i] = True
    try:
        return pa.array(out, pa.string())
    except (pa.ArrowException, UnicodeDecodeError):  # mixed text and bytes: all as text
        return pa.array([v.decode() if isinstance(v, bytes) else v for v in out], pa.string())


def _text_properties(
    column: pa.Array | pa.ChunkedArray, slow: np.ndarray, con: duckdb.DuckDBPyConnection
) -> pa.Array:
    """A column of properties as text (CSV, Parquet) as the lake keeps them, in bulk;
    marks in ``slow`` the rows only :func:`normalise` can decide."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    kind = column.type
    if not (
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    ):
        return _properties_column(column.to_pylist(), slow)
    props, odd = canonical_properties(column, con)
    slow |= odd
    return props


def _flat_view(item: Any) -> Any:
    """The flat fields of a record, or None when only :func:`normalise` can read it."""
    if type(item) is not dict:
        return None
    kind = item.get("type")
    if kind is None:
        return item
    if kind not in ("track", "identify", "group"):
        return None  # page, screen and unsupported types: row by row
    user = item.get("userId")
    if user is None:
        user = item.get("anonymousId")
    account = item.get("groupId")
    if account is None:
        context = item.get("context")
        if isinstance(context, Mapping):
            account = context.get("groupId")
    if kind == "track":
        event = item.get("event")
        props = item.get("properties")
    else:
        event = kind
        props = item.get("traits", item.get("properties"))
    return {
        "message_id": item.get("messageId", item.get("message_id")),
        "account_id": account,
        "user_id": user,
        "event": event,
        "timestamp": item.get("timestamp", item.get("originalTimestamp")),
        "properties": props,
    }


def _dict_block(
    items: list[Any],
    where: Callable[[int], str],
    number: Callable[[int], int],
    source: Callable[[int], str],
) -> _Block:
    """A block of records (dicts in flat or Segment form, or anything else)."""
    n = len(items)
    slow = np.zeros(n, dtype=bool)
    if any(type(item) is not dict or "type" in item for item in items):
        views = [_flat_view(item) for item in items]
        for i, view in enumerate(views):
            if view is None:
                slow[i] = True
        rows = [view if view is not None else {} for view in views]
    else:
        rows = items
    columns = {
        name: _string_column([row.get(name) for row in rows], slow)
        for name in ("message_id", "account_id", "user_id", "event")
    }
    stamps = [row.get("timestamp") for row in rows]
    columns["timestamp"] = _string_column(stamps, slow)
    columns["properties"] = _properties_column((row.get("properties") for row in rows), slow)
    return _Block(
        columns,
        slow,
        lambda take: [items[i] for i in take],
        where,
        number,
        source,
    )


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


def _record_block(items: list[Any], source: str, unit: str, offset: int) -> _Block:
    return _dict_block(
        items,
        lambda i: f"{source} {unit} {offset + i + 1}",
        lambda i: offset + i + 1,
        lambda i: source,
    )


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
            report.add(_land(platform, _record_block(chunk, source, "record", position)).report)
            position += len(chunk)
            chunk = []
    if chunk or position == 0:
        report.add(_land(platform, _record_block(chunk, source, "record", position)).report)
    return report


def ingest_parsed(
    platform: Platform, records: Sequence[Any], *, source: str, write_quarantine: bool
) -> tuple[IngestReport, list[int]]:
    """Ingest one in-memory batch; also return the indexes of records that landed
    (accepted or already present). Used by the quarantine replay."""
    landed = _land(
        platform,
        _record_block(list(records), source, "record", 0),
        write_quarantine=write_quarantine,
    )
    return landed.report, sorted(landed.landed.tolist())


@dataclass
class _Landed:
    report: IngestReport
    landed: np.ndarray  # block rows that are in the lake now (accepted or duplicates)
    accepted_rows: np.ndarray  # block rows written by this batch
    rejected_rows: np.ndarray  # block rows quarantined
    rejected: list[tuple[int, Rejected]]


def _prepare(
    platform: Platform, block: _Block, received_at: datetime, rules: TimestampRules
) -> tuple[pa.Table, np.ndarray, list[tuple[int, Rejected]]]:
    """The block's rows that may land (in row order, with their row numbers) and the
    rejected rows with their reason."""
    n = block.size
    rejected: list[tuple[int, Rejected]] = []
    if n == 0:
        return EVENT_SCHEMA.empty_table(), np.zeros(0, dtype=np.int64), rejected
    mask, table = normalise_columns(block.columns, received_at=received_at, rules=rules)
    fast = mask.to_numpy(zero_copy_only=False) & ~block.slow
    if block.slow.any():
        table = table.filter(pa.array(fast[mask.to_numpy(zero_copy_only=False)]))
    rows = np.flatnonzero(fast)
    slow = np.flatnonzero(~fast)
    if len(slow):
        good_rows: list[int] = []
        good: list[tuple[Any, ...]] = []
        for i, item in zip(slow.tolist(), block.items(slow.tolist()), strict=True):
            if isinstance(item, _Unparsed):
                rejected.append((i, Rejected("bad_record", item.message)))
                continue
            try:
                good.append(normalise(item, received_at=received_at, rules=rules))
                good_rows.append(i)
            except Rejected as exc:
                rejected.append((i, exc))
        if good:
            table = pa.concat_tables([table, _events_table(good)])
            rows = np.concatenate([rows, np.asarray(good_rows, dtype=np.int64)])
            order = np.argsort(rows, kind="stable")
            table = table.take(pa.array(order))
            rows = rows[order]
    # Unknown accounts go to quarantine, to be replayed once the account exists.
    if table.num_rows:
        accounts = pc.unique(table.column("account_id"))
        known = known_accounts(platform, accounts.to_pylist())
        is_known = pc.is_in(
            table.column("account_id"), value_set=pa.array(sorted(known), pa.string())
        )
        known_np = is_known.to_numpy(zero_copy_only=False)
        if not known_np.all():
            unknown = np.flatnonzero(~known_np)
            names = table.column("account_id").take(pa.array(unknown)).to_pylist()
            for i, name in zip(rows[unknown].tolist(), names, strict=True):
                rejected.append(
                    (i, Rejected("unknown_account", f"account {name!r} is not in the store"))
                )
            table = table.filter(is_known)
            rows = rows[known_np]
    return table, rows, rejected


@dataclass
class PreparedBlock:
    """A block checked and ready to land: what it holds once its records can go."""

    size: int  # records in the block
    table: pa.Table  # rows that may land, in row order
    rows: np.ndarray  # their row numbers in the block
    rejected: list[tuple[int, Rejected]]  # in row order
    quarantine: pa.Table | None  # the rejected records as quarantine rows
    problems: list[Problem]


def prepare_block(
    platform: Platform,
    block: _Block,
    *,
    write_quarantine: bool = True,
    received_at: datetime | None = None,
) -> PreparedBlock:
    received_at = received_at or platform.clock.now()
    rules = TimestampRules.from_settings(platform.settings)
    table, rows, rejected = _prepare(platform, block, received_at, rules)
    rejected.sort(key=lambda pair: pair[0])
    quarantine = (
        _quarantine_table(block, rejected, at=received_at)
        if rejected and write_quarantine
        else None
    )
    problems = [_problem(block, i, exc) for i, exc in rejected[:MAX_PROBLEMS]]
    return PreparedBlock(block.size, table, rows, rejected, quarantine, problems)


def _land(
    platform: Platform,
    block: _Block,
    *,
    write_quarantine: bool = True,
    received_at: datetime | None = None,
) -> _Landed:
    """Land one block as one batch: returns after its events are durable."""
    prepared = prepare_block(
        platform, block, write_quarantine=write_quarantine, received_at=received_at
    )
    return _land_prepared(platform, [prepared])[0]


def _land_prepared(platform: Platform, prepared: list[PreparedBlock]) -> list[_Landed]:
    """Land prepared blocks as one batch (one part file per day, one quarantine file):
    returns after their events are durable."""
    layout = LakeLayout(platform.settings.lake_dir)
    tables = [p.table for p in prepared if p.table.num_rows]
    table = pa.concat_tables(tables) if tables else EVENT_SCHEMA.empty_table()
    digests = message_digests(table.column("message_id")) if table.num_rows else None
    first = first_occurrences(digests) if digests is not None else np.zeros(0, dtype=bool)
    quarantined = [p.quarantine for p in prepared if p.quarantine is not None]
    batch = uuid.uuid4().hex[:16]
    index = LakeIndex(layout)
    with index.locked():
        new = first.copy()
        if digests is not None and first.any():
            candidates = np.flatnonzero(first)
            new[candidates[index.contains(digests[candidates])]] = False
        fresh = table.filter(pa.array(new)) if table.num_rows else table
        parts = _plan_parts(layout, fresh, batch)
        pending = [path for path, _ in parts]
        q_path = None
        if quarantined:
            arrived = quarantined[0].column("received_at")[0].as_py()
            q_path = quarantine_path(layout, arrived, batch)
            pending.append(q_path)
        if pending:
            index.begin_batch(pending)
        if q_path is not None:
            atomic_write_parquet(pa.concat_tables(quarantined), q_path, sort=False)
        atomic_write_parquets([(part, path) for path, part in parts])
        if pending:
            index.commit_digests(
                digests[new] if digests is not None else np.zeros((0, 2), np.uint64)
            )
    out: list[_Landed] = []
    start = 0
    for p in prepared:
        mine = new[start : start + p.table.num_rows]
        start += p.table.num_rows
        accepted = int(mine.sum())
        report = IngestReport(
            accepted=accepted,
            duplicates=p.table.num_rows - accepted,
            quarantined=len(p.rejected),
            problems=p.problems,
            problems_omitted=max(0, len(p.rejected) - MAX_PROBLEMS),
        )
        out.append(
            _Landed(
                report,
                p.rows,
                p.rows[mine],
                np.asarray([i for i, _ in p.rejected], dtype=np.int64),
                p.rejected,
            )
        )
    return out


def first_occurrences(digests: np.ndarray) -> np.ndarray:
    """A mask of the rows whose digest no earlier row has (the first of each id wins)."""
    n = len(digests)
    first = np.ones(n, dtype=bool)
    if n < 2:
        return first
    order = np.argsort(digests[:, 0], kind="stable")
    hi = digests[order, 0]
    same = np.flatnonzero(hi[1:] == hi[:-1]) + 1  # positions sharing the upper half
    lo = digests[:, 1]
    for p in same.tolist():  # rare: repeated ids in one batch (or 64-bit coincidences)
        q = p - 1
        while q >= 0 and hi[q] == hi[p]:
            if lo[order[q]] == lo[order[p]]:  # stable: order[q] came earlier
                first[order[p]] = False
                break
            q -= 1
    return first


def _problem(block: _Block, i: int, exc: Rejected) -> Problem:
    return Problem(
        f"{exc.reason}: {exc.message}", where=block.where(i), field=exc.field, row=block.number(i)
    )


def _plan_parts(layout: LakeLayout, table: pa.Table, batch: str) -> list[tuple[Path, pa.Table]]:
    """One part per day: the events sorted by (account_id, timestamp) within each."""
    return [(layout.new_part_path(day, writer=batch), part) for day, part in day_slices(table)]


def day_slices(table: pa.Table) -> list[tuple[date, pa.Table]]:
    """The events of ``table`` by day (in day order), each sorted by (account_id,
    timestamp); rows that tie keep their order."""
    if not table.num_rows:
        return []
    table = table.combine_chunks()
    micros = table.column("timestamp").cast(pa.int64()).to_numpy()
    day_of = np.floor_divide(micros, _MICROS_PER_DAY)  # exact, also before 1970
    # accounts by their rank in byte order (as Arrow sorts strings): one lexsort of
    # three integer keys instead of a table sort on a string column
    accounts = table.column("account_id").chunk(0)
    names = pc.unique(accounts)
    rank = np.empty(len(names), dtype=np.int64)
    rank[pc.sort_indices(names).to_numpy()] = np.arange(len(names))
    account_rank = rank[pc.index_in(accounts, value_set=names).to_numpy()]
    order = np.lexsort((micros, account_rank, day_of))
    table = table.take(pa.array(order))
    day_values = day_of[order]
    bounds = np.flatnonzero(np.diff(day_values)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [len(day_values)]])
    return [
        (_EPOCH_DATE + timedelta(days=int(day_values[s])), table.slice(s, e - s))
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
    ]


def _events_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    return pa.Table.from_arrays(
        [pa.array(col, type=f.type) for col, f in zip(columns, EVENT_SCHEMA, strict=True)],
        schema=EVENT_SCHEMA,
    )


def _quarantine_table(
    block: _Block, rejected: list[tuple[int, Rejected]], *, at: datetime
) -> pa.Table:
    data: dict[str, list[Any]] = {name: [] for name in QUARANTINE_SCHEMA.names}
    items = block.items([i for i, _ in rejected])
    for (i, exc), item in zip(rejected, items, strict=True):
        mapping = item if isinstance(item, Mapping) else {}
        data["received_at"].append(at)
        data["source"].append(block.source(i))
        data["where"].append(block.where(i))
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
IngestChunk = tuple[_Block, int, int]  # block, done, total (bytes for text files, rows for Parquet)


def _check_file(path: Path, fmt: str | None) -> str:
    if not path.is_file():
        raise NotFound(f"no such file: {path}")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise InvalidInput(
            f"unknown format {fmt!r}",
            [Problem(f"use one of {', '.join(FORMATS)}", field="format")],
        )
    return fmt


def _file_blocks(path: Path, fmt: str, size: int) -> Iterator[IngestChunk]:
    return {
        "jsonl": _jsonl_blocks,
        "csv": _csv_blocks,
        "parquet": _parquet_blocks,
        "json": _json_blocks,
    }[fmt](path, size)


def ingest_file(
    platform: Platform,
    path: Path | str,
    *,
    fmt: str | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Stream a JSON Lines, CSV, Parquet or Segment JSON file into the lake.

    Memory stays flat: the file is read in blocks of :data:`CHUNK_SIZE` records,
    each landed (one batch) before the next is read. ``progress(done, total)`` is
    called after each block (bytes for text files, rows for Parquet).
    """
    path = Path(path)
    fmt = _check_file(path, fmt)
    report = IngestReport()
    for done, total in _stream(
        platform, _file_blocks(path, fmt, _parse_rows(CHUNK_SIZE)), CHUNK_SIZE, report
    ):
        if progress is not None:
            progress(done, total)
    return report


def _parse_rows(batch: int) -> int:
    return max(1, min(PARSE_ROWS, batch))


def prepared_batches(
    platform: Platform, blocks: Iterator[IngestChunk], batch: int
) -> Iterator[tuple[list[PreparedBlock], int, int]]:
    """Blocks prepared as they are read, ``batch`` records at a time, with the progress
    (done, total) of the source after each."""
    waiting: list[PreparedBlock] = []
    size = 0
    done = total = 0
    for block, done, total in blocks:
        waiting.append(prepare_block(platform, block))
        size += block.size
        if size >= batch:
            yield waiting, done, total
            waiting, size = [], 0
    if waiting:
        yield waiting, done, total


def _stream(
    platform: Platform, blocks: Iterator[IngestChunk], batch: int, report: IngestReport
) -> Iterator[tuple[int, int]]:
    """Prepare blocks as they are read; land them ``batch`` records at a time (adding to
    ``report``); yield progress after each batch, and once at the end (an empty source too)."""
    done = total = 0
    for prepared, done, total in prepared_batches(platform, blocks, batch):
        for landed in _land_prepared(platform, prepared):
            report.add(landed.report)
        yield done, total
    yield done, total


def expand_paths(spec: str | Path) -> list[Path]:
    """The files a bulk load reads: a folder's ingestible files (recursively), a glob's
    matches, or one file — in name order."""
    text = str(spec)
    path = Path(text)
    if path.is_dir():
        found = [p for p in path.rglob("*") if p.is_file() and _ingestible(p)]
    elif path.is_file():
        found = [path]
    else:
        found = [Path(p) for p in globbing.glob(text, recursive=True) if Path(p).is_file()]
        found = [p for p in found if _ingestible(p)]
        if not found:
            raise NotFound(f"no files match {text}")
    return sorted(found)


def _ingestible(path: Path) -> bool:
    try:
        detect_format(path)
    except InvalidInput:
        return False
    return True


@dataclass
class BulkReport(IngestReport):
    """A bulk load: the counts of every file, the files read and the roll-up days rebuilt."""

    files: int = 0
    rollup_days_rebuilt: int | None = None


def ingest_paths(
    platform: Platform,
    paths: Sequence[Path],
    *,
    fmt: str | None = None,
    progress: Progress | None = None,
    rollup: bool = True,
) -> BulkReport:
    """The bulk path for a first history load: every file of ``paths`` read in batches
    of :data:`BULK_CHUNK_SIZE` records and landed as one transaction that writes each
    day's partition once (:mod:`kizuna.lake.bulk`), then the metrics' daily roll-up
    refreshed once for everything that landed.

    Re-running after a crash (or twice) lands every event exactly once: a load that
    did not finish left nothing, one that did counts everything as duplicates.
    ``progress(done, total)`` counts bytes over all files.
    """
    from kizuna.lake import bulk  # it builds on this module

    formats = [_check_file(Path(p), fmt) for p in paths]
    sizes = [Path(p).stat().st_size for p in paths]
    total = sum(sizes)
    report = BulkReport(files=len(paths))

    def batches() -> Iterator[tuple[list[PreparedBlock], int, int]]:
        before = 0
        for path, file_fmt, size in zip(paths, formats, sizes, strict=True):
            blocks = _file_blocks(Path(path), file_fmt, _parse_rows(BULK_CHUNK_SIZE))
            for prepared, done, file_total in prepared_batches(platform, blocks, BULK_CHUNK_SIZE):
                share = done / file_total if file_total else 1.0
                yield prepared, before + int(size * share), total
            before += size

    bulk.load(platform, batches(), report, batch_rows=BULK_CHUNK_SIZE, progress=progress)
    if rollup and report.accepted:
        from kizuna.metrics.service import refresh_rollup  # metrics reads the lake: not at import

        report.rollup_days_rebuilt = refresh_rollup(platform)
    return report


def _jsonl_blocks(path: Path, size: int) -> Iterator[IngestChunk]:
    """A JSON Lines file in chunks of whole lines (about ``size`` records each), each
    made into columns in bulk (:func:`kizuna.lake.columnar.jsonl_columns`)."""
    total = path.stat().st_size
    source = path.name
    con = duckdb.connect()
    number = 0  # lines before the chunk
    yielded = False
    with open(path, "rb") as handle:
        rest = b""
        while True:
            data = handle.read(max(1, size) * 160)
            buffer = rest + data if rest else data
            if not buffer:
                break
            if data:
                cut = buffer.rfind(b"\n") + 1
                if cut == 0:  # a line longer than a chunk: read on
                    rest = buffer
                    continue
                chunk, rest = buffer[:cut], buffer[cut:]
            else:
                chunk, rest = buffer, b""
            done = handle.tell() - len(rest)
            blocks, lines = _jsonl_chunk(con, chunk, number, source, size)
            for block in blocks:
                yielded = True
                yield block, done, total
            number += lines
    con.close()
    if number == 0 and not yielded:
        yield _record_block([], source, "line", 0), total, total


def _jsonl_chunk(
    con: duckdb.DuckDBPyConnection, chunk: bytes, number: int, source: str, size: int
) -> tuple[list[_Block], int]:
    """The blocks of one chunk of whole lines (the first is line ``number + 1``), and
    how many lines it has."""
    got = jsonl_columns(con, chunk)
    if got is not None and not len(got[2]):  # only blank lines
        return [], len(got[3])
    if got is None or got[1].mean() > _SLOW_SHARE:
        # not UTF-8, or mostly records the columns cannot hold (Segment calls):
        # the records parsed one by one, as dicts
        return _jsonl_dict_blocks(chunk, number, source, size)
    columns, slow, rows, starts, ends = got
    numbers = number + 1 + rows

    def items(take: Sequence[int]) -> list[Any]:
        out: list[Any] = []
        for i in take:
            line = chunk[starts[rows[i]] : ends[rows[i]]]
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                text = line.decode(errors="replace").rstrip("\r\n")
                out.append(_Unparsed(text, f"not valid JSON ({exc})"))
        return out

    def line_number(i: int) -> int:
        return int(numbers[i])

    block = _Block(
        columns,
        slow,
        items,
        lambda i: f"{source} line {numbers[i]}",
        line_number,
        lambda i: source,
    )
    return [block], len(starts)


def _jsonl_dict_blocks(
    chunk: bytes, number: int, source: str, size: int
) -> tuple[list[_Block], int]:
    """The row-at-a-time reading of a chunk: orjson per line, records as dicts."""
    loads = orjson.loads
    pieces = chunk.split(b"\n")
    lines = [piece + b"\n" for piece in pieces[:-1]]
    if pieces[-1]:
        lines.append(pieces[-1])
    keep = [i for i, line in enumerate(lines) if line.strip()]
    numbers = [number + i + 1 for i in keep]
    chosen = [lines[i] for i in keep]
    try:
        items: list[Any] = [loads(line) for line in chosen]
    except orjson.JSONDecodeError:
        items = []
        for line in chosen:
            try:
                items.append(loads(line))
            except orjson.JSONDecodeError as exc:
                text = line.decode(errors="replace").rstrip("\r\n")
                items.append(_Unparsed(text, f"not valid JSON ({exc})"))
    blocks = []
    for start in range(0, len(items), max(1, size)):
        part = items[start : start + size]
        nums = numbers[start : start + size]
        blocks.append(
            _dict_block(
                part, partial(_where_line, source, nums), nums.__getitem__, lambda i: source
            )
        )
    return blocks, len(lines)


def _where_line(source: str, numbers: list[int], i: int) -> str:
    return f"{source} line {numbers[i]}"


def _where_csv(source: str, offset: int, i: int) -> str:
    return f"{source} line {offset + i + 2}"  # the header is line 1


def _number_csv(offset: int, i: int) -> int:
    return offset + i + 2


def _csv_reader_names(path: Path) -> list[str] | None:
    with open(path, encoding="utf-8-sig", newline="") as text:
        dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
        header = next(csv.reader(text, dialect=dialect), None)
    return header


def _csv_blocks(path: Path, size: int) -> Iterator[IngestChunk]:
    total = path.stat().st_size
    source = path.name
    names = _csv_reader_names(path)
    if not names:
        yield _record_block([], source, "line", 0), total, total
        return
    extra = [n for n in names if n not in _FLAT_COLUMNS]
    if extra or len(set(names)) != len(names):
        # other columns become properties: the records are built one by one
        yield from _csv_dict_blocks(path, size)
        return
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    con = duckdb.connect()
    handle = open(path, "rb")  # noqa: SIM115 - closed below, read by Arrow
    reader = pacsv.open_csv(
        handle,
        read_options=pacsv.ReadOptions(block_size=max(1 << 16, size * 160), use_threads=True),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=True,
        ),
    )
    row = 0
    for batch in reader:
        table = pa.Table.from_batches([batch])
        n = table.num_rows
        slow = np.zeros(n, dtype=bool)
        columns = {
            name: table.column(name).combine_chunks() for name in names if name != "properties"
        }
        if "properties" in names:
            columns["properties"] = _text_properties(table.column("properties"), slow, con)
        offset = row

        def items(take: Sequence[int], table: pa.Table = table) -> list[Any]:
            rows = table.take(pa.array(list(take), pa.int64())).to_pylist()
            return [{k: v for k, v in r.items() if v is not None} for r in rows]

        yield (
            _Block(
                columns,
                slow,
                items,
                partial(_where_csv, source, offset),
                partial(_number_csv, offset),
                lambda i: source,
            ),
            min(total, handle.tell()),
            total,
        )
        row += n
    handle.close()
    con.close()
    if row == 0:
        yield _record_block([], source, "line", 0), total, total


def _csv_dict_blocks(path: Path, size: int) -> Iterator[IngestChunk]:
    total = path.stat().st_size
    source = path.name
    with open(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
        reader = csv.DictReader(text, dialect=dialect)
        items: list[Any] = []
        lines: list[int] = []

        def block(items: list[Any], lines: list[int]) -> _Block:
            return _dict_block(
                items,
                lambda i: f"{source} line {lines[i]}",
                lambda i: lines[i],
                lambda i: source,
            )

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
            if len(items) >= size:
                yield block(items, lines), raw.tell(), total
                items, lines = [], []
        yield block(items, lines), total, total


def _parquet_blocks(path: Path, size: int) -> Iterator[IngestChunk]:
    handle = pq.ParquetFile(path)
    con = duckdb.connect()
    total = handle.metadata.num_rows
    source = path.name
    names = handle.schema_arrow.names
    flat = "type" not in names and not any(n in names for n in ("messageId", "groupId"))
    done = 0
    for batch in handle.iter_batches(batch_size=max(1, size)):
        table = pa.Table.from_batches([batch])
        offset = done
        done += table.num_rows

        def items(take: Sequence[int], table: pa.Table = table) -> list[Any]:
            return table.take(pa.array(list(take), pa.int64())).to_pylist()

        def where(i: int, offset: int = offset) -> str:
            return f"{source} row {offset + i + 1}"

        def number(i: int, offset: int = offset) -> int:
            return offset + i + 1

        if not flat:
            records = table.to_pylist()
            yield _dict_block(records, where, number, lambda i: source), done, total
            continue
        n = table.num_rows
        slow = np.zeros(n, dtype=bool)
        columns: dict[str, pa.Array] = {}
        for name in ("message_id", "account_id", "user_id", "event"):
            if name not in names:
                continue
            col = table.column(name).combine_chunks()
            if pa.types.is_large_string(col.type) or pa.types.is_string_view(col.type):
                col = col.cast(pa.string())
            if not pa.types.is_string(col.type):
                slow |= col.is_valid().to_numpy(zero_copy_only=False)
                col = pa.nulls(n, pa.string())
            columns[name] = col
        if "timestamp" in names:
            col = table.column("timestamp").combine_chunks()
            if pa.types.is_large_string(col.type):
                col = col.cast(pa.string())
            columns["timestamp"] = col
        if "properties" in names:
            columns["properties"] = _text_properties(table.column("properties"), slow, con)
        if not columns:
            columns["message_id"] = pa.nulls(n, pa.string())
        yield _Block(columns, slow, items, where, number, lambda i: source), done, total
    con.close()
    if total == 0:
        yield _record_block([], source, "row", 0), 0, 0


def _json_blocks(path: Path, size: int) -> Iterator[IngestChunk]:
    total = path.stat().st_size
    try:
        payload = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f"{path.name} is not valid JSON",
            [Problem(str(exc), where=path.name)],
        ) from None
    calls = list(_expand(payload if isinstance(payload, list) else [payload]))
    for start in range(0, max(len(calls), 1), max(1, size)):
        items = calls[start : start + size]
        yield _record_block(items, path.name, "call", start), min(total, start + size), total


# -- group commit (the collection API) -----------------------------------------

#: Records a group commit takes at most (requests are never split).
GROUP_MAX_RECORDS = 100_000


@dataclass
class _Request:
    platform: Platform
    records: list[Any]
    source: str
    future: Future[IngestReport]


class GroupCommitter:
    """Writes the collection API's requests in groups, each group as one batch.

    :meth:`submit` queues a request's records and returns a future; one thread lands
    everything queued while the previous batch was being written as the next batch,
    then answers each request with its own counts and problems — only once the
    batch is durable. Duplicates between requests of a group count against the
    later request, as if they had been landed one after the other.
    """

    def __init__(self) -> None:
        self._queue: queue.Queue[_Request] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0  # how many batches were written (for tests and benchmarks)

    def submit(
        self, platform: Platform, records: Iterable[Any], *, source: str
    ) -> Future[IngestReport]:
        future: Future[IngestReport] = Future()
        self._queue.put(_Request(platform, list(_expand(records)), source, future))
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="kizuna-group-commit", daemon=True
                )
                self._thread.start()
        return future

    def ingest(self, platform: Platform, records: Iterable[Any], *, source: str) -> IngestReport:
        """Submit and wait (same signature as :func:`ingest_records`)."""
        return self.submit(platform, records, source=source).result()

    def _run(self) -> None:
        while True:
            group = [self._queue.get()]
            size = len(group[0].records)
            while size < GROUP_MAX_RECORDS:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                group.append(nxt)
                size += len(nxt.records)
            by_platform: dict[int, list[_Request]] = {}
            for request in group:
                by_platform.setdefault(id(request.platform), []).append(request)
            for requests in by_platform.values():
                try:
                    self._commit(requests)
                except BaseException as exc:  # answer every waiting request
                    for request in requests:
                        if not request.future.done():
                            request.future.set_exception(exc)

    def _commit(self, requests: list[_Request]) -> None:
        items: list[Any] = []
        starts: list[int] = []
        for request in requests:
            starts.append(len(items))
            items.extend(request.records)
        bounds = np.asarray(starts, dtype=np.int64)

        def owner(i: int) -> int:
            return int(np.searchsorted(bounds, i, side="right") - 1)

        def number(i: int) -> int:
            return i - starts[owner(i)] + 1

        def source(i: int) -> str:
            return requests[owner(i)].source

        block = _dict_block(items, lambda i: f"{source(i)} record {number(i)}", number, source)
        landed = _land(requests[0].platform, block)
        self.batches += 1
        k = len(requests)
        who_landed = np.searchsorted(bounds, landed.landed, side="right") - 1
        who_accepted = np.searchsorted(bounds, landed.accepted_rows, side="right") - 1
        n_landed = np.bincount(who_landed, minlength=k)
        n_accepted = np.bincount(who_accepted, minlength=k)
        rejected: list[list[tuple[int, Rejected]]] = [[] for _ in requests]
        for i, exc in landed.rejected:
            rejected[owner(i)].append((i, exc))
        for r, request in enumerate(requests):
            report = IngestReport(
                accepted=int(n_accepted[r]),
                duplicates=int(n_landed[r] - n_accepted[r]),
                quarantined=len(rejected[r]),
            )
            report.problems = [_problem(block, i, exc) for i, exc in rejected[r][:MAX_PROBLEMS]]
            report.problems_omitted = max(0, len(rejected[r]) - MAX_PROBLEMS)
            request.future.set_result(report)


_COMMITTER: GroupCommitter | None = None


def group_committer() -> GroupCommitter:
    """The process's one :class:`GroupCommitter`."""
    global _COMMITTER
    if _COMMITTER is None:
        _COMMITTER = GroupCommitter()
    return _COMMITTER
