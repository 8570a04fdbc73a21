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
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

SEGMENT_TYPES = frozenset({"track", "identify", "group"})
_MIN_TS = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_TS = datetime(2200, 1, 1, tzinfo=UTC)

#: Reasons an event is quarantined (stable codes, shown by ``kizuna lake quarantine``).
REASONS = {
    "bad_record": "the record is not a JSON object (or not valid JSON)",
    "missing_field": "a required field is missing or empty",
    "bad_timestamp": "the timestamp cannot be parsed",
    "bad_properties": "properties is not a JSON object",
    "unsupported_type": "a Segment call type other than track, identify, group",
    "unknown_account": "the account is not in the store",
}


class Rejected(Exception):
    """A record that cannot land; carries the quarantine reason and field."""

    def __init__(self, reason: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.field = field


Row = tuple[str, str, str | None, str, int, str | None]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    return None


def parse_timestamp(value: Any) -> datetime:
    """A timezone-aware UTC datetime from an ISO string, a datetime or epoch seconds."""
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
        raise Rejected(
            "bad_properties", f"properties not JSON-serialisable: {exc}", "properties"
        ) from None


def normalise(record: Any) -> Row:
    """The lake row for ``record``; raises :class:`Rejected` with every missing field named."""
    if not isinstance(record, Mapping):
        raise Rejected("bad_record", "the record is not a JSON object")
    kind = record.get("type")
    if kind is not None:
        if kind not in SEGMENT_TYPES:
            raise Rejected("unsupported_type", f"Segment call type {kind!r} not supported", "type")
        message_id = _text(record.get("messageId", record.get("message_id")))
        user_id = _text(record.get("userId")) or _text(record.get("anonymousId"))
        context = record.get("context")
        account_id = _text(record.get("groupId"))
        if account_id is None and isinstance(context, Mapping):
            account_id = _text(context.get("groupId"))
        if kind == "track":
            event = _text(record.get("event"))
            props = record.get("properties")
        else:
            event = kind
            props = record.get("traits", record.get("properties"))
        raw_ts = record.get("timestamp", record.get("originalTimestamp"))
        names = ("messageId", "groupId", "event", "timestamp")
    else:
        message_id = _text(record.get("message_id"))
        account_id = _text(record.get("account_id"))
        user_id = _text(record.get("user_id"))
        event = _text(record.get("event"))
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
    assert message_id is not None and account_id is not None and event is not None
    micros = (ts - _EPOCH) // _MICROSECOND
    return message_id, account_id, user_id, event, micros, _properties(props)


def raw_text(record: Any) -> str:
    """The record as JSON text, for the quarantine (never fails)."""
    if isinstance(record, str | bytes):
        return record.decode(errors="replace") if isinstance(record, bytes) else record
    try:
        return orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS, default=str).decode()
    except TypeError:
        return repr(record)
