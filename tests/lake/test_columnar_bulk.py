"""The bulk readers vouch only for what the row-at-a-time rules would decide the same way.

:func:`kizuna.lake.columnar.jsonl_columns` reads JSON Lines with DuckDB, which is more
lenient than orjson and keeps the first of two equal keys where orjson keeps the last;
:func:`kizuna.lake.columnar.canonical_properties` keeps a properties text as it is when
orjson writes it back the same. Each row either is handed on for
:func:`kizuna.lake.normalise.normalise` (slow) or holds exactly what orjson and
:func:`kizuna.lake.normalise.properties_text` make of that record.
"""

from __future__ import annotations

from typing import Any

import duckdb
import orjson
import pyarrow as pa
import pytest

from kizuna.lake.columnar import canonical_properties, jsonl_columns, split_lines
from kizuna.lake.normalise import Rejected, _clean_text, properties_text

FLAT = ("message_id", "account_id", "user_id", "event", "timestamp")

HOSTILE_LINES = [
    '{"message_id": "m1", "account_id": "a1", "event": "login",'
    ' "timestamp": "2025-06-01T00:00:00Z"}',
    "",
    "   \t ",
    # the same key twice: orjson keeps the last, DuckDB the first
    '{"message_id": "m2", "message_id": "m2b", "account_id": "a1", "event": "e", "timestamp": "t"}',
    '{"message_id": "m3", "account_id": "a1", "event": "e", "properties": {"a": 1, "a": 2}}',
    # DuckDB accepts these, orjson does not
    '{"message_id": "m4", "account_id": "a1", "event": "e",}',
    '{"message_id": "m5", "account_id": "a1", "event": "e", "properties": {"x": NaN}}',
    '{"message_id": "m6", "account_id": "a1", "event": "e", "extra": Infinity}',
    '{"message_id": "m7", "account_id": "a1", "event": "e", "properties": {"x": 1e400}}',
    '{"message_id": "m8", "account_id": "a1", "event": "e", "extra": [1,]}',
    # a key spelled with an escape, next to the real one
    '{"message_id": "m9", "mess\\u0061ge_id": "m9b", "account_id": "a1", "event": "e"}',
    # lone surrogate
    '{"message_id": "m10", "account_id": "a1", "event": "e\\ud800"}',
    # numbers orjson writes its own way
    '{"message_id": "m11", "account_id": "a1", "event": "e", "properties": {"f": 1.50}}',
    '{"message_id": "m12", "account_id": "a1", "event": "e",'
    ' "properties": {"b": 123456789012345678901234}}',
    '{"message_id": "m13", "account_id": "a1", "event": "e", "properties": {"f": 2.5, "g": -0.0}}',
    # escapes in values: decoded the same way by both
    '{"message_id": "m\\u00e914", "account_id": "a1", "event": "caf\\u00e9 \\"q\\" \\\\ \\/",'
    ' "properties": {"s": "\\u3042\\n\\t\\b\\f\\u0001\\u2028", "nested": {"k": [1, {"z": null}]}}}',
    # not strings, not objects, not flat
    '{"message_id": 15, "account_id": "a1", "event": "e"}',
    '{"message_id": "m16", "account_id": "a1", "event": true}',
    '{"message_id": "m17", "account_id": "a1", "event": "e", "properties": "{\\"a\\": 1}"}',
    '{"message_id": "m18", "account_id": "a1", "event": "e", "properties": [1, 2]}',
    '{"message_id": "m19", "account_id": "a1", "event": "e", "properties": {}}',
    '{"message_id": "m20", "account_id": "a1", "event": "e", "properties": null, "user_id": null}',
    '{"type": "track", "messageId": "s1", "groupId": "a1", "event": "x"}',
    "[1, 2, 3]",
    '[{"message_id": "m24", "account_id": "a1", "event": "e"}]',
    '"just a string"',
    "42",
    "not json at all",
    '{"message_id": "m21", ',
    "\ufeff" + '{"message_id": "m22", "account_id": "a1", "event": "e"}',
    '{"message_id": "m23", "account_id": "a1", "event": "e", "properties": {"k": "v"}}',
]


def expected_fields(line: bytes) -> dict[str, Any] | None:
    """What the row-at-a-time path reads from a line: the flat fields and properties text,
    or None when it would not take the record as flat strings."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict) or "type" in record:
        return None
    out: dict[str, Any] = {}
    for name in FLAT:
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            return None
        out[name] = value
    try:
        out["properties"] = properties_text(record.get("properties"))
    except Rejected:
        return None
    return out


def test_jsonl_columns_vouch_only_for_what_orjson_reads_the_same() -> None:
    chunk = ("\n".join(HOSTILE_LINES) + "\n").encode()
    got = jsonl_columns(duckdb.connect(), chunk)
    assert got is not None
    columns, slow, rows, starts, ends = got
    non_blank = [i for i, line in enumerate(HOSTILE_LINES) if line.strip()]
    assert rows.tolist() == non_blank
    fast_ids = []
    for k, i in enumerate(rows.tolist()):
        line = chunk[starts[i] : ends[i]]
        if slow[k]:
            continue
        want = expected_fields(line)
        assert want is not None, line
        have = {name: columns[name][k].as_py() for name in (*FLAT, "properties")}
        assert have == want, line
        fast_ids.append(have["message_id"])
    # the plain and the merely unusual-but-safe records are read in bulk
    assert fast_ids == ["m1", "m11", "m13", "mé14", "m19", "m20", "m23"]
    # and every other record (read differently, refused by orjson, not flat
    # strings, properties written differently) is left for normalise
    assert int((~slow).sum()) == len(fast_ids)


def test_split_lines_counts_like_readlines() -> None:
    chunk = b'{"a":1}\n\n  \n{"b":2}'
    starts, ends = split_lines(chunk)
    lines = [chunk[s:e] for s, e in zip(starts, ends, strict=True)]
    assert lines == [b'{"a":1}\n', b"\n", b"  \n", b'{"b":2}']


@pytest.mark.parametrize(
    "texts",
    [
        [
            '{"a":1}',
            '{"a": 1, "b": "x"}',
            "{}",
            "{ }",
            None,
            "",
            "  ",
            "[1,2]",
            "not json",
            '{"a":1,}',
            '{"a":NaN}',
            '{"a":1,"a":2}',
            '{"f":1.50}',
            '{"f":1.5}',
            '{"b":123456789012345678901234}',
            ' {"a":1}',
            '{"a":"}',
            '{"}',
            '{"b":1},{"c":2}',
            '{"s":"\\u00e9"}',
            '{"n":{"k":[1,{"z":null}]}}',
        ]
        * 3,
    ],
)
def test_canonical_properties_agree_with_the_row_at_a_time_rule(texts: list[str | None]) -> None:
    column, slow = canonical_properties(pa.array(texts, pa.string()), duckdb.connect())
    assert len(column) == len(texts)
    vouched = 0
    for k, text in enumerate(texts):
        if slow[k]:
            continue
        vouched += 1
        assert column[k].as_py() == properties_text(text), text
    # the clean, the minified-to-clean and the empty ones are vouched for
    assert vouched >= 3 * 8
    for k, text in enumerate(texts):
        if text in ('{"a":"}', '{"}', '{"b":1},{"c":2}', '{"a":1,}', '{"a":NaN}'):
            assert slow[k], text


def test_clean_text_by_bytes_matches_the_full_rules() -> None:
    values = [
        "plain",
        "with space",
        " lead",
        "trail ",
        "",
        None,
        "x" * 10,
        "x" * 11,
        "tab\tin",
        "caf\u00e9",
        "\u00a0nbsp",
        "bidi\u202e",
        "\u3042" * 10,
        "\u3042" * 11,
        "del\x7f",
    ]
    column = pa.array(values, pa.string())
    got = _clean_text(column, 10, required=True).to_pylist()
    assert got == [
        True,
        True,
        False,
        False,
        False,
        False,
        True,
        False,
        False,
        True,
        False,
        False,
        True,
        False,
        False,
    ]
    optional = _clean_text(column.slice(3), 10, required=False).to_pylist()
    assert optional[2] is True  # a null user id is fine
    assert optional == [*got[3:5], True, *got[6:]]
