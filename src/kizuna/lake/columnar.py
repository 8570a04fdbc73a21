"""Records as Arrow columns without Python per record: JSON Lines and properties.

The columnar ingest (:mod:`kizuna.lake.ingest`) hands a block of records to
:func:`kizuna.lake.normalise.normalise_columns` as Arrow columns. Building those
columns one Python object at a time — ``orjson.loads`` per line, a ``dict.get`` per
field, ``orjson.dumps`` per ``properties`` — was most of the cost of a JSON Lines
ingest. This module builds them in bulk:

* :func:`jsonl_columns` splits a chunk of a JSON Lines file into lines with numpy,
  and has DuckDB's JSON reader (C++) take the flat fields out of every line at
  once, with each field's JSON type so that only a string is taken as a string;
* :func:`canonical_properties` vouches, for a whole column at once, that each
  ``properties`` text is already exactly what :func:`kizuna.lake.normalise.normalise`
  would store (``orjson.dumps`` of ``orjson.loads`` of it): it parses the column
  as *one* JSON array with orjson and checks that orjson writes the same bytes
  back — one C call for the block instead of two Python calls per record.

Exactness comes first. Every row whose columns these functions cannot vouch for is
marked *slow*, and the ingest sends it through :func:`~kizuna.lake.normalise.normalise`
with the record orjson parses from its line — the one place the rules and reasons
live. DuckDB's JSON reader is more lenient than orjson (it accepts trailing commas,
``NaN`` and ``Infinity``, numbers that overflow a double) and keeps the *first*
of two equal keys where orjson keeps the last, so:

* a line where DuckDB's leniency could show (a trailing comma, a ``NaN`` or
  ``Infinity`` literal, a number that overflows, deep nesting — DuckDB reads with
  yyjson's ``ALLOW_INF_AND_NAN`` and ``ALLOW_TRAILING_COMMAS`` flags, and is
  otherwise as strict as orjson) is slow, found by one regular expression over
  the block; a line neither reads is slow too, and quarantined with orjson's
  own message exactly as the row-at-a-time path does;
* a line that may name a top-level key twice (a field's name appears twice in it,
  or a key is spelled with a ``\\u`` escape) is slow when DuckDB's list of its
  keys has a repeat;
* lines holding a lone-surrogate escape are slow (DuckDB refuses them outright).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["canonical_properties", "jsonl_columns", "split_lines"]

#: The fields of a flat record the lake reads, and Segment's ``type``.
_FIELDS = ("message_id", "account_id", "user_id", "event", "timestamp", "properties", "type")
# What DuckDB's JSON reader accepts and orjson refuses (DuckDB reads with yyjson's
# ALLOW_INF_AND_NAN and ALLOW_TRAILING_COMMAS flags): a trailing comma, a NaN or
# Infinity literal, a number that overflows a double; and a lone surrogate escape
# (DuckDB fails the whole query on it). Text inside strings can match too (a string
# holding ", NaN"): such a line is only read more slowly.
_LENIENT = (
    r",[ \t\r\n]*[\]}]"
    r"|[:,\[][ \t\r\n]*[-+]?(?:[nN][aA]|[iI][nN])"
    r"|[:,\[][ \t\r\n]*-?[0-9]+(?:\.[0-9]+)?[eE][+-]?[0-9]{3}"
    r"|\\u[dD][89a-fA-F]"
)
_WS = r"[ \t\r\n]*"
# A flat field whose value is not a string (nor null), or properties that are not an
# object (nor null): taken as text by DuckDB, so left for normalise. A nested key of
# the same name matches too: such a line is only read more slowly.
_NOT_TEXT = (
    r'"(?:message_id|account_id|user_id|event|timestamp)"' + _WS + ":" + _WS + r'[^" \t\r\nn]'
    r'|"properties"' + _WS + ":" + _WS + r"[^{ \t\r\nn]"
)
# A key spelled with an escape could be one of the fields, unseen by the checks here.
_ESCAPED_KEY = r'\\u[0-9a-fA-F]{4}[^"]*"[ \t]*:'
_RISKY = "|".join(
    [_LENIENT, _NOT_TEXT, _ESCAPED_KEY, r"^[ \t\r]*[^{ \t\r]"]  # or not an object
)
# The same field key twice (maybe one nested in properties): DuckDB lists the keys.
_TWICE = "|".join(f'"{name}"{_WS}:.*"{name}"{_WS}:' for name in _FIELDS)
#: orjson's nesting limit: only a line longer than this may exceed it.
_ORJSON_DEPTH = 1024
#: Digits in a row from which a number may overflow a double (orjson refuses it).
_LONG_NUMBER = 300
#: Rows below which a block that failed a bulk check is checked row by row.
_BISECT_LEAF = 32


def split_lines(chunk: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive, newline included) byte offsets of each line of
    ``chunk``, split at ``\\n`` like ``file.readlines()`` in binary mode."""
    data = np.frombuffer(chunk, dtype=np.uint8)
    newlines = np.flatnonzero(data == 10)
    ends = newlines + 1
    if len(data) and (not len(newlines) or newlines[-1] != len(data) - 1):
        ends = np.concatenate([ends, [len(data)]])
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    return starts, ends.astype(np.int64)


def blank_lines(chunk: bytes, starts: np.ndarray) -> np.ndarray:
    """Which lines hold only white space (``line.strip()`` is empty)."""
    if not len(starts):
        return np.zeros(0, dtype=bool)
    data = np.frombuffer(chunk, dtype=np.uint8)
    first = data[starts]
    blank = _white(first)  # most lines start with "{": only the others are read on
    for i in np.flatnonzero(blank).tolist():
        end = int(starts[i + 1]) if i + 1 < len(starts) else len(data)
        blank[i] = bool(_white(data[int(starts[i]) : end]).all())
    return blank


def _white(data: np.ndarray) -> np.ndarray:
    """Bytes that ``bytes.strip()`` removes: 9 to 13 and 32."""
    return (data == 32) | ((data >= 9) & (data <= 13))


def _binary(chunk: bytes, starts: np.ndarray, ends: np.ndarray, rows: np.ndarray) -> pa.Array:
    """The lines ``rows`` of ``chunk`` as an Arrow binary array, without a copy: each
    runs to the next of ``rows`` (blank lines in between are white space in it)."""
    if not len(rows):
        return pa.array([], pa.binary())
    offsets = np.concatenate([starts[rows], ends[rows][-1:]]).astype(np.int32)
    return pa.Array.from_buffers(
        pa.binary(), len(rows), [None, pa.py_buffer(offsets), pa.py_buffer(chunk)]
    )


def _array_doc(texts: pa.Array) -> bytes:
    """``texts`` (each one JSON value) as the text of one JSON array, built in Arrow."""
    joined = pc.binary_join_element_wise(texts, pa.scalar(","), pa.scalar(""))
    n = len(joined)
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32)[
        joined.offset : joined.offset + n + 1
    ]
    data = joined.buffers()[2]
    body = data.to_pybytes()[offsets[0] : offsets[-1] - 1] if data is not None else b""
    return b"[" + body + b"]"


def _bulk_parse(doc: bytes, n: int) -> list[Any] | None:
    try:
        values = orjson.loads(doc)
    except orjson.JSONDecodeError:
        return None
    return values if isinstance(values, list) and len(values) == n else None


def _bisect(
    rows: np.ndarray,
    bulk_ok: Callable[[np.ndarray], bool],
    row_ok: Callable[[int], bool],
) -> np.ndarray:
    """The subset of ``rows`` that passes: whole ranges by ``bulk_ok``, halving a range
    that fails, and row by row below :data:`_BISECT_LEAF` rows."""
    good: list[np.ndarray] = []
    pending = [rows]
    while pending:
        part = pending.pop()
        if not len(part):
            continue
        if len(part) <= _BISECT_LEAF:
            good.append(np.asarray([r for r in part.tolist() if row_ok(r)], dtype=np.int64))
        elif bulk_ok(part):
            good.append(part)
        else:
            half = len(part) // 2
            pending.extend([part[half:], part[:half]])
    return np.sort(np.concatenate(good)) if good else np.zeros(0, dtype=np.int64)


# Only lines that are objects are read here (an array or a scalar goes to normalise).
_SELECT = """
SELECT i, {fields},
  CASE WHEN maybe_twice THEN len(keys) = len(list_distinct(keys)) ELSE true END AS keys_once
FROM (
  SELECT i, {transform} AS s,
    CASE WHEN maybe_twice THEN json_keys(line) END AS keys,
    maybe_twice
  FROM lines
)
"""


def _select_sql(*, guarded: bool) -> str:
    """One parse of each line into its fields: the flat ones as text (which values are
    strings was decided from the line), ``properties`` as JSON text, ``type`` only to
    see whether it is there."""
    types = {name: "VARCHAR" for name in _FIELDS}
    types["properties"] = "JSON"
    schema = "{" + ",".join(f'"{name}":"{kind}"' for name, kind in types.items()) + "}"
    fields = [f"s.{name} AS {name}" for name in _FIELDS if name not in ("properties", "type")]
    fields.append("json_type(s.properties) AS t_properties")
    fields.append("CAST(s.properties AS VARCHAR) AS properties")
    fields.append("s.type IS NOT NULL AS segment")
    transform = f"json_transform(line, '{schema}')"
    fields.append("true AS parsed")
    if guarded:  # a line that is not JSON: every field null, and not parsed
        transform = f"CASE WHEN json_valid(line) THEN {transform} END"
        fields[-1] = "s IS NOT NULL AS parsed"
    return _SELECT.format(fields=",\n  ".join(fields), transform=transform)


_SQL = _select_sql(guarded=False)
# the same, when some line is not JSON (DuckDB then fails the whole query)
_SQL_GUARDED = _select_sql(guarded=True)


def jsonl_columns(
    con: duckdb.DuckDBPyConnection, chunk: bytes
) -> tuple[dict[str, pa.Array], np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The flat fields of the non-blank lines of ``chunk`` (whole lines of a JSON Lines
    file) as Arrow columns.

    Returns ``(columns, slow, rows, starts, ends)``: ``starts``/``ends`` are the byte
    offsets of every line of the chunk, ``rows`` the indexes of the non-blank ones —
    the block's records, in order — and ``slow`` marks the records the columns do
    not hold (null there): lines orjson refuses, records that are not flat (Segment
    calls, arrays), fields that are not strings, properties that are not already
    canonical. They go to :func:`~kizuna.lake.normalise.normalise`. None when the
    chunk is not valid UTF-8 (the caller then parses it record by record).
    """
    starts, ends = split_lines(chunk)
    rows = np.flatnonzero(~blank_lines(chunk, starts))
    n = len(rows)
    slow = np.ones(n, dtype=bool)
    lines = _binary(chunk, starts, ends, rows)
    try:
        text = lines.cast(pa.string())
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    risky = pc.match_substring_regex(text, _RISKY).to_numpy(zero_copy_only=False)
    lengths = ends[rows] - starts[rows]
    long = np.flatnonzero(lengths > _LONG_NUMBER)
    if len(long):  # long lines only: deeper than orjson's limit, or a number that overflows
        some = text.take(pa.array(long))
        brackets = pc.add(pc.count_substring(some, "{"), pc.count_substring(some, "["))
        odd = pc.or_(
            pc.greater(brackets, _ORJSON_DEPTH),
            pc.match_substring_regex(some, r"[0-9]{" + str(_LONG_NUMBER) + "}"),
        )
        risky[long] |= odd.to_numpy(zero_copy_only=False)
    # A field named twice: DuckDB lists the line's keys to see whether any top-level
    # key repeats (the name may be a key inside properties too).
    maybe_twice = pc.match_substring_regex(text, _TWICE).to_numpy(zero_copy_only=False)
    fast = np.flatnonzero(~risky)
    table = pa.table(
        {
            "i": pa.array(fast, pa.int64()),
            "line": text if len(fast) == n else text.take(pa.array(fast)),
            "maybe_twice": pa.array(maybe_twice[fast], pa.bool_()),
        }
    )
    try:
        result = _run(con, table, _SQL)
    except duckdb.Error:
        try:
            result = _run(con, table, _SQL_GUARDED)
        except duckdb.Error:  # record by record after all
            return None
    order = result.column("i").to_numpy()
    if len(order) > 1 and not (np.diff(order) > 0).all():
        result = result.take(pa.array(np.argsort(order, kind="stable")))
        order = result.column("i").to_numpy()

    flag = _flag
    ok = ~flag(result.column("segment"))
    ok &= flag(result.column("keys_once")) & flag(result.column("parsed"))
    kind = result.column("t_properties")
    ok &= ~flag(pc.and_(pc.is_valid(kind), pc.not_equal(kind, "OBJECT")))
    props, props_slow = canonical_properties(result.column("properties"), con, minified=True)
    ok &= ~props_slow
    take = np.full(n, -1, dtype=np.int64)
    take[order[ok]] = np.flatnonzero(ok)
    index = pa.array(take, mask=take < 0)
    columns: dict[str, pa.Array] = {
        name: result.column(name).combine_chunks().take(index)
        for name in ("message_id", "account_id", "user_id", "event", "timestamp")
    }
    columns["properties"] = props.take(index)
    slow[order[ok]] = False
    return columns, slow, rows, starts, ends


def _run(con: duckdb.DuckDBPyConnection, lines: pa.Table, sql: str) -> pa.Table:
    cursor = con.cursor()
    try:
        cursor.register("lines", lines)
        return cursor.sql(sql).to_arrow_table()
    finally:
        cursor.close()


def canonical_properties(
    texts: pa.Array | pa.ChunkedArray,
    con: duckdb.DuckDBPyConnection,
    *,
    minified: bool = False,
) -> tuple[pa.Array, np.ndarray]:
    """``properties`` texts as the lake keeps them, and the rows this cannot vouch for.

    A row is vouched for when it is null or an empty object (both kept null, as
    :func:`~kizuna.lake.normalise.normalise` stores them) or a JSON object whose text
    orjson accepts and whose canonical form (``orjson.dumps(orjson.loads(text))``) is
    the text DuckDB minifies it to; that form is kept. Every other row — white
    space around it, an array, invalid JSON, a float orjson writes differently, a
    repeated key — is marked, for :func:`~kizuna.lake.normalise.properties_text` to
    decide. The check parses all candidates as one JSON array with orjson and
    compares what orjson writes with the minified texts; a block that differs is
    halved until the rows that differ are found. ``minified``: the texts are
    DuckDB's own output already (the JSON Lines path), not to be minified again.
    """
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not pa.types.is_string(texts.type):
        texts = texts.cast(pa.string())
    n = len(texts)
    slow = np.zeros(n, dtype=bool)
    none = pa.scalar(None, pa.string())
    if n == 0:
        return pa.array([], pa.string()), slow
    valid = _flag(texts.is_valid())
    shaped = _flag(pc.and_(pc.starts_with(texts, "{"), pc.ends_with(texts, "}")))
    slow[valid & ~shaped] = True
    candidates = np.flatnonzero(shaped)
    if not len(candidates):
        return pc.if_else(pa.array(valid & ~slow), texts, none), slow
    originals = texts.take(pa.array(candidates))
    option = orjson.OPT_NON_STR_KEYS
    checked = False  # every candidate already vouched for
    if minified:
        small = originals
    elif _canonical_as_they_are(originals, con, option):
        small, checked = originals, True  # the usual case for files a program wrote
    else:
        # Each text must be one complete JSON value before the texts can be checked
        # as one array (else a string could run from one text into the next):
        # DuckDB says so, and minifies, for the whole column at once.
        small = _duckdb_texts(
            con, originals, "CASE WHEN json_valid(t) THEN CAST(json(t) AS VARCHAR) END"
        )
    empty = _flag(pc.equal(small, "{}"))
    whole = _flag(small.is_valid())
    slow[candidates[~whole]] = True

    def bulk_ok(part: np.ndarray) -> bool:
        def some(texts: pa.Array) -> pa.Array:
            return texts if len(part) == len(texts) else texts.take(pa.array(part))

        doc = _array_doc(some(originals))
        values = _bulk_parse(doc, len(part))
        if values is None:
            return False
        target = doc if small is originals else _array_doc(some(small))
        return orjson.dumps(values, option=option) == target

    def row_ok(r: int) -> bool:
        try:
            value = orjson.loads(originals[r].as_py())
        except orjson.JSONDecodeError:
            return False
        if type(value) is not dict:
            return False
        try:
            return orjson.dumps(value, option=option).decode() == small[r].as_py()
        except TypeError:
            return False

    good = np.flatnonzero(whole) if checked else _bisect(np.flatnonzero(whole), bulk_ok, row_ok)
    keep = np.zeros(len(candidates), dtype=bool)
    keep[good] = True
    slow[candidates[whole & ~keep]] = True
    # an object orjson reads as empty ("{ }") is stored as null, like "{}"
    kept = np.zeros(n, dtype=bool)
    kept[candidates[keep & ~empty]] = True
    positions = np.full(n, -1, dtype=np.int64)
    positions[candidates] = np.arange(len(candidates))
    index = pa.array(positions, mask=~kept)
    return small.take(index), slow


def _canonical_as_they_are(texts: pa.Array, con: duckdb.DuckDBPyConnection, option: int) -> bool:
    """Whether every text is one JSON value that orjson writes back byte for byte."""
    doc = _array_doc(texts)
    values = _bulk_parse(doc, len(texts))
    if values is None or orjson.dumps(values, option=option) != doc:
        return False
    return bool(_flag(_duckdb_texts(con, texts, "json_valid(t)")).all())


def _duckdb_texts(con: duckdb.DuckDBPyConnection, texts: pa.Array, expression: str) -> pa.Array:
    """``expression`` of column ``t`` evaluated by DuckDB over ``texts``, in order."""
    cursor = con.cursor()
    try:
        cursor.register("texts", pa.table({"t": texts}))
        out = cursor.sql(f"SELECT {expression} AS v FROM texts").to_arrow_table()
    finally:
        cursor.close()
    return out.column("v").combine_chunks()


def _flag(mask: Any) -> np.ndarray:
    return np.asarray(mask.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
