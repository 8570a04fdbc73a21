"""Turn one incoming record (flat or Segment form) into a lake row, or a reason why not.

Flat form::

    {"message_id", "account_id", "user_id", "event", "timestamp", "properties"}

Segment form (``type`` is ``track``, ``identify`` or ``group``)::

    {"type": "track", "messageId", "userId" | "anonymousId", "event", "timestamp",
     "properties", "context": {"groupId": ...}}      # or a top-level "groupId"

``identify`` and ``group`` calls become events named ``identify`` / ``group``
whose properties are the call's ``traits``. Timestamps are ISO 8601 strings
(a missing offset means UTC), ``datetime`` objects, or numbers of seconds since
the Unix epoch (milliseconds when larger than 10^11).

This module is the one place that decides what may land in the lake (issue 13);
any other ingest path (a columnar one included) applies the same rules:

* **timestamps** (:class:`TimestampRules`): not before a floor (the setting
  ``event_timestamp_floor``, default 2000-01-01) and not more than
  ``event_max_ahead_hours`` (default 24) after the record *arrived*. The rule is
  relative to arrival, not to today, so years of history load fine while an
  epoch-zero or year-2199 event is quarantined with its reason;
* **event names**: a string of 1 to :data:`EVENT_NAME_MAX` characters, with no
  control characters (NUL...) and no bidirectional-text controls;
* **ids** (message, account, user): a string or a number, at most
  :data:`ID_MAX` characters, no control or bidi characters;
* **text** anywhere in the record must be valid Unicode: a lone surrogate
  rejects that one event (``bad_text``), never its batch;
* Segment ``page`` and ``screen`` calls become events named the way Segment
  destinations name them: ``Viewed <name> Page`` / ``Viewed <name> Screen``
  (``Loaded a Page`` / ``Loaded a Screen`` without a name), with the call's
  ``name`` and ``category`` added to its properties.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from kizuna.lake.layout import EVENT_SCHEMA

if TYPE_CHECKING:
    from kizuna.settings import Settings

SEGMENT_TYPES = frozenset({"track", "identify", "group", "page", "screen"})
#: Longest accepted event name and id, in characters.
EVENT_NAME_MAX = 200
ID_MAX = 256
_MIN_TS = datetime(1, 1, 2, tzinfo=UTC)
_MAX_TS = datetime(9999, 12, 31, tzinfo=UTC)
# C0/C1 controls (NUL, escapes...) and the bidirectional-text controls that can
# make a name read differently from what it is (Trojan Source, CVE-2021-42574).
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")

#: Reasons an event is quarantined (stable codes, shown by ``kizuna lake quarantine``).
REASONS = {
    "bad_record": "the record is not a JSON object (or not valid JSON)",
    "missing_field": "a required field is missing or empty",
    "bad_timestamp": "the timestamp cannot be parsed",
    "timestamp_before_floor": "the timestamp is before the floor (event_timestamp_floor)",
    "timestamp_in_future": "the timestamp is more than a day after the event arrived",
    "bad_event": "the event name is not a string, too long, or has control characters",
    "bad_id": "an id is not a string or number, too long, or has control characters",
    "bad_text": "the record has text that is not valid Unicode (a lone surrogate)",
    "bad_properties": "properties is not a JSON object",
    "unsupported_type": "a Segment call type other than track, identify, group, page, screen",
    "unknown_account": "the account is not in the store",
}


class Rejected(Exception):
    """A record that cannot land; carries the quarantine reason and field."""

    def __init__(self, reason: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.field = field


@dataclass(frozen=True)
class TimestampRules:
    """Which event times may land: from ``floor`` to ``max_ahead`` after arrival."""

    floor: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    max_ahead: timedelta = timedelta(hours=24)

    @classmethod
    def from_settings(cls, settings: Settings) -> TimestampRules:
        return cls(
            floor=datetime.combine(settings.event_timestamp_floor, datetime.min.time(), UTC),
            max_ahead=timedelta(hours=settings.event_max_ahead_hours),
        )

    def check(self, ts: datetime, received_at: datetime | None) -> None:
        """Raise :class:`Rejected` when ``ts`` may not land for a record received then
        (``received_at`` None: only the floor applies)."""
        if ts < self.floor:
            raise Rejected(
                "timestamp_before_floor",
                f"timestamp {ts.isoformat()} is before the floor {self.floor.date().isoformat()} "
                "(KIZUNA_EVENT_TIMESTAMP_FLOOR)",
                "timestamp",
            )
        if received_at is not None and ts > received_at + self.max_ahead:
            hours = self.max_ahead / timedelta(hours=1)
            raise Rejected(
                "timestamp_in_future",
                f"timestamp {ts.isoformat()} is more than {hours:g} hours after it arrived "
                f"({received_at.astimezone(UTC).isoformat()})",
                "timestamp",
            )


DEFAULT_RULES = TimestampRules()

Row = tuple[str, str, str | None, str, int, str | None]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _clean(text: str, what: str, field: str, limit: int, reason: str) -> str:
    if _SURROGATE.search(text):
        raise Rejected("bad_text", f"{what} is not valid Unicode (a lone surrogate)", field)
    if len(text) > limit:
        raise Rejected(reason, f"{what} is longer than {limit} characters", field)
    if _FORBIDDEN.search(text):
        raise Rejected(reason, f"{what} contains a control or bidirectional-text character", field)
    return text


def _id(value: Any, field: str) -> str | None:
    """An id: a non-empty string or a number (Segment allows numeric ids)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise Rejected("bad_id", f"{field} must be a string, not {type(value).__name__}", field)
    text = value.strip() if isinstance(value, str) else str(value)
    return _clean(text, field, field, ID_MAX, "bad_id") if text else None


def _event_name(value: Any, field: str = "event") -> str | None:
    """An event name: a non-empty string (a number or a boolean is not a name)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise Rejected("bad_event", f"event must be a string, not {type(value).__name__}", field)
    text = value.strip()
    return _clean(text, "event", field, EVENT_NAME_MAX, "bad_event") if text else None


def parse_timestamp(value: Any) -> datetime:
    """A timezone-aware UTC datetime from an ISO string, a datetime or epoch seconds.

    Only parses; :meth:`TimestampRules.check` decides whether the time may land.
    """
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise Rejected("missing_field", "timestamp is empty", "timestamp")
        try:
            ts = datetime.fromisoformat(text)
        except ValueError:
            raise Rejected(
                "bad_timestamp", f"cannot parse timestamp {text[:60]!r}", "timestamp"
            ) from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) > 1e11 else value
        try:
            ts = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise Rejected("bad_timestamp", f"epoch {value!r} out of range", "timestamp") from None
    else:
        raise Rejected("bad_timestamp", f"cannot parse timestamp {value!r}", "timestamp")
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    if not _MIN_TS <= ts < _MAX_TS:
        raise Rejected("bad_timestamp", f"timestamp {ts.isoformat()} out of range", "timestamp")
    return ts


def _properties(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise Rejected("bad_properties", "properties is not valid JSON", "properties") from None
    if not isinstance(value, Mapping):
        raise Rejected("bad_properties", "properties must be a JSON object", "properties")
    if not value:
        return None
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError as exc:
        message = str(exc)
        if "surrogate" in message:
            raise Rejected(
                "bad_text", "properties have text that is not valid Unicode", "properties"
            ) from None
        raise Rejected(
            "bad_properties", f"properties not JSON-serialisable: {message}", "properties"
        ) from None


def _page_event(kind: str, record: Mapping[str, Any]) -> tuple[str | None, Any]:
    """A Segment ``page``/``screen`` call as an event named as Segment destinations do."""
    name = record.get("name")
    props = record.get("properties")
    label = "Page" if kind == "page" else "Screen"
    if isinstance(name, str) and name.strip():
        event: str | None = f"Viewed {name.strip()} {label}"
    else:
        event = f"Loaded a {label}"
    if isinstance(props, Mapping) or props is None:
        extra = {k: record[k] for k in ("name", "category") if record.get(k) is not None}
        props = {**extra, **(props or {})} or None
    return event, props


def normalise(
    record: Any,
    *,
    received_at: datetime | None = None,
    rules: TimestampRules = DEFAULT_RULES,
) -> Row:
    """The lake row for ``record``; raises :class:`Rejected` with every missing field named.

    ``received_at`` is when the record arrived (the future-timestamp rule is
    relative to it); None skips that rule, for callers that replay history.
    """
    if not isinstance(record, Mapping):
        raise Rejected("bad_record", "the record is not a JSON object")
    kind = record.get("type")
    if kind is not None:
        if kind not in SEGMENT_TYPES:
            shown = kind if isinstance(kind, str | int | float | bool) else type(kind).__name__
            raise Rejected("unsupported_type", f"Segment call type {shown!r} not supported", "type")
        message_id = _id(record.get("messageId", record.get("message_id")), "messageId")
        user_id = _id(record.get("userId"), "userId") or _id(
            record.get("anonymousId"), "anonymousId"
        )
        context = record.get("context")
        account_id = _id(record.get("groupId"), "groupId")
        if account_id is None and isinstance(context, Mapping):
            account_id = _id(context.get("groupId"), "groupId")
        if kind == "track":
            event = _event_name(record.get("event"))
            props = record.get("properties")
        elif kind in ("page", "screen"):
            event, props = _page_event(kind, record)
            event = _event_name(event, "name")
        else:
            event = kind
            props = record.get("traits", record.get("properties"))
        raw_ts = record.get("timestamp", record.get("originalTimestamp"))
        names = ("messageId", "groupId", "event", "timestamp")
    else:
        message_id = _id(record.get("message_id"), "message_id")
        account_id = _id(record.get("account_id"), "account_id")
        user_id = _id(record.get("user_id"), "user_id")
        event = _event_name(record.get("event"))
        props = record.get("properties")
        raw_ts = record.get("timestamp")
        names = ("message_id", "account_id", "event", "timestamp")
    missing = [
        name
        for name, value in zip(names, (message_id, account_id, event, raw_ts), strict=True)
        if value is None or value == ""
    ]
    if missing:
        raise Rejected(
            "missing_field", f"missing required field(s): {', '.join(missing)}", ",".join(missing)
        )
    ts = parse_timestamp(raw_ts)
    rules.check(ts, received_at)
    assert message_id is not None and account_id is not None and event is not None
    micros = (ts - _EPOCH) // _MICROSECOND
    return message_id, account_id, user_id, event, micros, _properties(props)


def raw_text(record: Any) -> str:
    """The record as JSON text, for the quarantine (never fails, always valid JSON
    — except for text that arrived as text, e.g. a line that was not JSON).

    orjson refuses nesting deeper than 254 levels and lone surrogates; the
    standard library writes both (surrogates as ``\\udXXX`` escapes). A record
    neither can write (deeper than Python's recursion limit) is kept as a JSON
    string holding its ``repr`` — still JSON, so a replay can read and report it.
    """
    if isinstance(record, str | bytes):
        return record.decode(errors="replace") if isinstance(record, bytes) else record
    try:
        return orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS, default=str).decode()
    except TypeError:
        pass
    try:
        return json.dumps(record, default=str, allow_nan=True)
    except (RecursionError, TypeError, ValueError):
        return json.dumps(repr(record)[:100_000])


def load_raw(raw: str) -> Any:
    """A quarantined record read back from :func:`raw_text`; raises ``ValueError``."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)  # lone surrogates, deep nesting


# -- the columnar path -----------------------------------------------------------------
#
# The same rules, for a whole block of records at once with Arrow compute. A row the
# vectorised checks cannot vouch for — anything unusual: a number as an id, white space
# around a name, an epoch timestamp, a rule broken — is handed to :func:`normalise`
# one at a time, which accepts it or says exactly why not. So every rule and every
# reason stays in one place, and the fast path only ever accepts rows :func:`normalise`
# would accept, with the same values.

#: Python's ``str.strip()`` white space, and the characters :data:`_FORBIDDEN` refuses.
_WS = (
    r"\t\n\x{0b}\x{0c}\r\x{1c}-\x{1f} \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}"
    r"\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}"
)
_BAD = r"\x{00}-\x{1f}\x{7f}-\x{9f}\x{61c}\x{200e}\x{200f}\x{202a}-\x{202e}\x{2066}-\x{2069}"
_UNCLEAN_TEXT = f"^[{_WS}]|[{_WS}]$|[{_BAD}]"
_FAST_TS = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6})?(Z|[+-]\d{2}:\d{2})?$"
_HAS_OFFSET = r"(Z|[+-]\d{2}:\d{2})$"


def _clean_text(column: Any, limit: int, *, required: bool) -> Any:
    """Rows of a string column the fast path may take as they are (nulls too, unless
    ``required``)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    n = len(column)
    if n == 0:
        return pa.array([], pa.bool_())
    valid = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    ok = _plain_ascii(column, limit) & valid if pa.types.is_string(column.type) else valid & False
    rest = valid & ~ok
    if rest.any():
        # anything but plain ASCII: the full rules, on those rows only
        others = column.filter(pa.array(rest))
        clean = pc.and_(
            pc.and_(
                pc.less_equal(pc.utf8_length(others), limit),
                pc.greater(pc.utf8_length(others), 0),
            ),
            pc.invert(pc.match_substring_regex(others, _UNCLEAN_TEXT)),
        )
        ok[rest] = np.asarray(clean.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
    if not required:
        ok |= ~valid
    return pa.array(ok)


def _plain_ascii(column: pa.Array, limit: int) -> np.ndarray:
    """Rows that are 1 to ``limit`` printable ASCII characters with no space at either
    end — clean by every rule, decided from the bytes with numpy (most ids and names)."""
    n = len(column)
    offsets = np.frombuffer(column.buffers()[1], dtype=np.int32)[
        column.offset : column.offset + n + 1
    ]
    buffer = column.buffers()[2]
    if buffer is None or offsets[-1] == offsets[0]:
        return np.zeros(n, dtype=bool)
    data = np.frombuffer(buffer, dtype=np.uint8)[: offsets[-1]]
    starts = offsets[:-1]
    lengths = np.diff(offsets)
    solid = lengths > 0
    sure = solid & (lengths <= limit)
    rows = np.flatnonzero(solid)
    bad = (data < 0x20) | (data > 0x7E)
    # the solid rows are contiguous byte ranges: one reduction per row
    sure[rows] &= ~np.logical_or.reduceat(bad, starts[rows])
    sure[rows] &= data[starts[rows]] != 0x20
    sure[rows] &= data[starts[rows] + lengths[rows] - 1] != 0x20
    return sure


def fast_timestamps(column: Any) -> tuple[Any, Any]:
    """Microseconds since the epoch (int64) of a string or timestamp column, and a mask
    of the rows parsed here (the others go to :func:`normalise`)."""
    n = len(column)
    if pa.types.is_timestamp(column.type):
        # A naive timestamp is UTC (as in parse_timestamp): the stored value either way.
        if column.type.unit == "ns":  # finer than the lake keeps: row by row
            return pa.nulls(n, pa.int64()), pa.array(np.zeros(n, dtype=bool))
        micros = pc.cast(column, pa.int64())
        factor = {"s": 1_000_000, "ms": 1_000, "us": 1}[column.type.unit]
        if factor != 1:
            micros = pc.multiply(micros, factor)
        return micros, pc.fill_null(pc.is_valid(micros), False)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return pa.nulls(n, pa.int64()), pa.array(np.zeros(n, dtype=bool))
    ok = pc.fill_null(pc.match_substring_regex(column, _FAST_TS), False)
    text = pc.if_else(ok, column, pa.scalar("2000-01-01T00:00:00Z"))
    text = pc.if_else(
        pc.match_substring_regex(text, _HAS_OFFSET),
        text,
        pc.binary_join_element_wise(text, "Z", ""),
    )
    try:
        parsed = pc.cast(text, pa.timestamp("us", tz="UTC"))
    except pa.ArrowInvalid:
        # an impossible date (month 13...) somewhere: find which, row by row
        values = text.to_pylist()
        good = []
        for value in values:
            try:
                pa.array([value]).cast(pa.timestamp("us", tz="UTC"))
                good.append(True)
            except pa.ArrowInvalid:
                good.append(False)
        ok = pc.and_(ok, pa.array(good))
        text = pc.if_else(ok, text, pa.scalar("2000-01-01T00:00:00Z"))
        parsed = pc.cast(text, pa.timestamp("us", tz="UTC"))
    return pc.cast(parsed, pa.int64()), ok


def normalise_columns(
    columns: Mapping[str, Any],
    *,
    received_at: datetime | None,
    rules: TimestampRules = DEFAULT_RULES,
) -> tuple[Any, Any]:
    """The rows of a block that pass every rule, as lake columns, without Python per row.

    ``columns`` maps the flat field names (``message_id``, ``account_id``, ``user_id``,
    ``event``, ``timestamp``, ``properties``) to Arrow arrays of one length; ids and
    the event must be string arrays, ``timestamp`` strings or timestamps, and
    ``properties`` already canonical JSON text (as :func:`normalise` writes it) or null.
    Returns ``(mask, table)``: which rows the fast path vouches for, and those rows
    as an :data:`~kizuna.lake.layout.EVENT_SCHEMA` table in row order. Every other
    row must go through :func:`normalise`.
    """

    def string(name: str, n: int) -> Any:
        col = columns.get(name)
        if col is None:
            return pa.nulls(n, pa.string())
        return col

    n = len(next(iter(columns.values())))
    mid = string("message_id", n)
    acc = string("account_id", n)
    uid = string("user_id", n)
    ev = string("event", n)
    ok = pc.and_(_clean_text(mid, ID_MAX, required=True), _clean_text(acc, ID_MAX, required=True))
    ok = pc.and_(ok, _clean_text(uid, ID_MAX, required=False))
    ok = pc.and_(ok, _clean_text(ev, EVENT_NAME_MAX, required=True))
    ts_col = columns.get("timestamp")
    if ts_col is None:
        micros, ts_ok = pa.nulls(n, pa.int64()), pa.array(np.zeros(n, dtype=bool))
    else:
        micros, ts_ok = fast_timestamps(ts_col)
    ok = pc.and_(ok, ts_ok)
    floor = (rules.floor - _EPOCH) // _MICROSECOND
    in_rules = pc.greater_equal(micros, floor)
    if received_at is not None:
        ahead = (received_at.astimezone(UTC) + rules.max_ahead - _EPOCH) // _MICROSECOND
        in_rules = pc.and_(in_rules, pc.less_equal(micros, ahead))
    ok = pc.fill_null(pc.and_(ok, in_rules), False)
    props = columns.get("properties")
    if props is None:
        props = pa.nulls(n, pa.string())
    table = pa.Table.from_arrays(
        [mid, acc, uid, ev, micros.cast(pa.timestamp("us", tz="UTC")), props],
        names=EVENT_SCHEMA.names,
    ).filter(ok)
    return ok, table.cast(EVENT_SCHEMA)


def properties_text(value: Any) -> str | None:
    """A record's ``properties`` as the lake keeps them (canonical JSON text or None);
    raises :class:`Rejected` as :func:`normalise` does."""
    return _properties(value)
