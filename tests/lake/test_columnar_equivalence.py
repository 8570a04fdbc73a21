"""The columnar ingest lands exactly what the row-at-a-time reference lands.

The reference is the ingest path as it was before the columnar one (kept under
``bench/ingest/naive_ingest.py``, not in the package). Both ingest the same files
mixing good and bad events — flat and Segment calls, every quarantine reason,
duplicates, odd but valid values that only the row-at-a-time rules accept — into two
lakes; the events and the quarantined records (with their reasons, arrival times
aside) must be the same.
"""

from __future__ import annotations

import csv
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kizuna.lake.ingest import ingest_file, ingest_paths
from kizuna.lake.layout import LakeLayout
from kizuna.lake.quarantine import read_quarantine
from kizuna.lake.reader import read_events
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.models import Account

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ingest"


def reference() -> Any:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module("naive_ingest")


def good(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "message_id": f"m{i:05d}",
        "account_id": f"a{i % 5}",
        "user_id": f"u{i % 11}",
        "event": ["login", "export_run", "report_viewed"][i % 3],
        "timestamp": f"2025-06-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:07Z",
        "properties": {"i": i, "name": f"n{i}"} if i % 4 else None,
        **extra,
    }


def mixed_records() -> list[Any]:
    records: list[Any] = [good(i) for i in range(400)]
    odd: list[Any] = [
        good(1000, message_id=1001),  # a number as an id (accepted, as text)
        good(1002, account_id=" a1 "),  # white space around an id
        good(1003, user_id=""),  # an empty user id
        good(1004, timestamp="2025-06-03T10:00:00"),  # no offset: UTC
        good(1005, timestamp="2025-06-03T10:00:00.123+09:00"),
        good(1006, timestamp="2025-06-03 10:00:00.123456-05:30"),
        good(1007, timestamp=1748944800),  # epoch seconds
        good(1008, timestamp=1748944800123),  # epoch milliseconds
        good(1009, timestamp="2025-06-03T10:00:00.1Z"),
        good(1010, properties={}),
        good(1011, properties='{"from": "text"}'),
        good(1012, event="Viewed\u00a0page"),  # a no-break space inside: fine
        good(1013, event="  padded  "),
        good(0),  # a duplicate within the file
        good(7, event="other"),  # a duplicate id with other content: the first wins
    ]
    bad: list[Any] = [
        good(2000, account_id="ghost"),  # unknown_account
        good(2001, timestamp="1970-01-01T00:00:00Z"),  # before the floor
        good(2002, timestamp="2199-01-01T00:00:00Z"),  # in the future
        good(2003, timestamp="2025-13-01T00:00:00Z"),  # bad_timestamp (month 13)
        good(2004, timestamp="yesterday"),
        good(2005, timestamp=""),
        good(2006, event="x" * 201),
        good(2007, event="log\u0000in"),
        good(2008, event="evil\u202eevent"),
        good(2009, event=12),
        good(2010, message_id=["a"]),
        good(2011, account_id="a" * 300),
        good(2012, properties=[1, 2]),
        good(2013, properties="not json"),
        {"account_id": "a1", "event": "login"},  # missing fields
        [1, 2, 3],  # not an object
        good(2014, event=""),
    ]
    segment: list[Any] = [
        {
            "type": "track",
            "messageId": "s1",
            "userId": "u1",
            "event": "login",
            "timestamp": "2025-06-04T08:00:00Z",
            "context": {"groupId": "a2"},
            "properties": {"k": 1},
        },
        {
            "type": "identify",
            "messageId": "s2",
            "anonymousId": "anon-1",
            "groupId": "a3",
            "timestamp": "2025-06-04T08:00:00Z",
            "traits": {"plan": "pro"},
        },
        {
            "type": "group",
            "messageId": "s3",
            "userId": "u2",
            "groupId": "a4",
            "originalTimestamp": "2025-06-04T09:00:00Z",
        },
        {
            "type": "page",
            "messageId": "s4",
            "userId": "u2",
            "groupId": "a4",
            "name": "Home",
            "timestamp": "2025-06-04T09:00:00Z",
        },
        {
            "type": "screen",
            "messageId": "s5",
            "userId": "u2",
            "groupId": "a4",
            "timestamp": "2025-06-04T09:00:00Z",
        },
        {
            "type": "alias",
            "messageId": "s6",
            "userId": "u2",
            "groupId": "a4",
            "timestamp": "2025-06-04T09:00:00Z",
        },
        {
            "type": "track",
            "messageId": "s7",
            "userId": "",
            "anonymousId": "anon-2",
            "event": "x",
            "groupId": "a1",
            "timestamp": "2025-06-04T09:00:00Z",
        },
        {
            "type": "track",
            "messageId": "s8",
            "userId": "u1",
            "groupId": "ghost",
            "event": "x",
            "timestamp": "2025-06-04T09:00:00Z",
        },
    ]
    out: list[Any] = []
    for i, record in enumerate(records):
        out.append(record)
        if i < len(odd):
            out.append(odd[i])
        if i < len(bad):
            out.append(bad[i])
        if i < len(segment):
            out.append(segment[i])
    return out


def write_jsonl(path: Path, records: list[Any]) -> None:
    with open(path, "w") as handle:
        for i, record in enumerate(records):
            handle.write(json.dumps(record) + "\n")
            if i == 17:
                handle.write("\n")  # a blank line
                handle.write('{"message_id": "broken", \n')  # not JSON


def lake_contents(platform: Platform) -> tuple[list[Any], list[Any]]:
    layout = LakeLayout(platform.settings.lake_dir)
    events = sorted(tuple(r.values()) for r in read_events(layout).to_pylist())
    quarantined = read_quarantine(layout).drop_columns(["received_at"]).to_pylist()
    return events, sorted(tuple(r.values()) for r in quarantined)


@pytest.fixture
def two_lakes(sqlite_platform: Platform, tmp_path: Path) -> tuple[Platform, Platform]:
    platform = sqlite_platform
    with platform.store.session() as session:
        session.add_all([Account(id=f"a{i}", name=f"A{i}") for i in range(5)])
    settings = Settings(home=tmp_path / "reference-home", database_url=platform.store.url)
    ref = Platform(settings=settings, store=platform.store, clock=platform.clock)
    return platform, ref


def assert_same(new: Platform, ref: Platform, new_report: Any, ref_report: Any) -> None:
    assert (new_report.accepted, new_report.duplicates, new_report.quarantined) == (
        ref_report.accepted,
        ref_report.duplicates,
        ref_report.quarantined,
    )
    assert [p.to_dict() for p in new_report.problems] == [p.to_dict() for p in ref_report.problems]
    new_events, new_q = lake_contents(new)
    ref_events, ref_q = lake_contents(ref)
    assert new_events == ref_events
    assert new_q == ref_q


def test_jsonl_mixing_good_and_bad_lands_the_same_as_the_reference(
    two_lakes: tuple[Platform, Platform], tmp_path: Path
) -> None:
    new, ref = two_lakes
    path = tmp_path / "mixed.jsonl"
    records = mixed_records()
    write_jsonl(path, records)
    new_report = ingest_file(new, path)
    ref_report = reference().ingest_file(ref, path)
    assert new_report.quarantined >= 20 and new_report.accepted >= 400
    assert new_report.duplicates == 2
    assert_same(new, ref, new_report, ref_report)
    # again: everything is a duplicate or quarantined again, on both paths
    assert_same(new, ref, ingest_file(new, path), reference().ingest_file(ref, path))


def test_segment_json_and_records_land_the_same_as_the_reference(
    two_lakes: tuple[Platform, Platform], tmp_path: Path
) -> None:
    new, ref = two_lakes
    path = tmp_path / "batch.json"
    path.write_text(json.dumps({"batch": mixed_records(), "context": {"groupId": "a0"}}))
    assert_same(new, ref, ingest_file(new, path), reference().ingest_file(ref, path))


def test_csv_and_parquet_land_the_same_as_the_reference(
    two_lakes: tuple[Platform, Platform], tmp_path: Path
) -> None:
    new, ref = two_lakes
    flat = [r for r in mixed_records() if isinstance(r, dict) and "type" not in r]
    names = ["message_id", "account_id", "user_id", "event", "timestamp", "properties"]
    csv_path = tmp_path / "mixed.csv"
    with open(csv_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for r in flat:
            row = []
            for name in names:
                value = r.get(name)
                if isinstance(value, dict | list):
                    value = json.dumps(value)
                row.append("" if value is None else str(value))
            writer.writerow(row)
    assert_same(new, ref, ingest_file(new, csv_path), reference().ingest_file(ref, csv_path))
    text_rows = [
        {n: (json.dumps(r[n]) if isinstance(r.get(n), dict | list) else r.get(n)) for n in names}
        for r in flat
    ]
    table = pa.table(
        {n: pa.array([None if row[n] is None else str(row[n]) for row in text_rows]) for n in names}
    )
    pq_path = tmp_path / "mixed.parquet"
    pq.write_table(table, pq_path)
    assert_same(new, ref, ingest_file(new, pq_path), reference().ingest_file(ref, pq_path))


def test_the_bulk_path_lands_the_same_as_the_reference(
    two_lakes: tuple[Platform, Platform], tmp_path: Path
) -> None:
    new, ref = two_lakes
    folder = tmp_path / "history"
    folder.mkdir()
    records = mixed_records()
    write_jsonl(folder / "one.jsonl", records[: len(records) // 2])
    write_jsonl(folder / "two.jsonl", records[len(records) // 2 :])
    new_report = ingest_paths(new, sorted(folder.iterdir()), rollup=False)
    ref_report = reference().IngestReport()
    for path in sorted(folder.iterdir()):
        ref_report.add(reference().ingest_file(ref, path))
    assert_same(new, ref, new_report, ref_report)


HOSTILE = [
    # read differently by DuckDB and orjson: repeated keys, an escaped key
    '{"message_id": "h1", "message_id": "h1b", "account_id": "a1", "event": "e",'
    ' "timestamp": "%s"}',
    '{"message_id": "h2", "account_id": "a1", "event": "e", "timestamp": "%s",'
    ' "properties": {"a": 1, "a": 2}}',
    '{"message_id": "h3", "mess\\u0061ge_id": "h3b", "account_id": "a2", "event": "e",'
    ' "timestamp": "%s"}',
    # accepted by DuckDB, refused by orjson
    '{"message_id": "h4", "account_id": "a1", "event": "e", "timestamp": "%s",}',
    '{"message_id": "h5", "account_id": "a1", "event": "e", "timestamp": "%s",'
    ' "properties": {"x": NaN}}',
    '{"message_id": "h6", "account_id": "a1", "event": "e", "timestamp": "%s", "extra": [1,]}',
    '{"message_id": "h7", "account_id": "a1", "event": "e\\ud800", "timestamp": "%s"}',
    # written differently by orjson
    '{"message_id": "h8", "account_id": "a3", "event": "e", "timestamp": "%s",'
    ' "properties": {"f": 1.50, "big": 123456789012345678901234, "z": -0.0}}',
    '{"message_id": "h\\u00e99", "account_id": "a3", "event": "caf\\u00e9 \\"q\\"",'
    ' "timestamp": "%s", "properties": {"s": "\\u3042\\n\\u0001", "n": {"k": [1, {"z": null}]}}}',
    '{"message_id": "h10", "account_id": "a4", "event": "e", "timestamp": "%s", "properties": { }}',
    '{"message_id": "h11", "account_id": "a4", "event": "e", "timestamp": "%s",'
    ' "properties": "{\\"a\\": 1}"}',
    '{"message_id": "h12", "account_id": "a4", "event": "e", "timestamp": "%s", "user_id": 7}',
    "\ufeff" + '{"message_id": "h13", "account_id": "a4", "event": "e", "timestamp": "%s"}',
    '"a string"',
    "42",
    '[{"message_id": "h14", "account_id": "a1", "event": "e", "timestamp": "%s"}]',
]


def test_jsonl_lines_the_bulk_reader_must_not_misread_land_as_in_the_reference(
    two_lakes: tuple[Platform, Platform], tmp_path: Path
) -> None:
    new, ref = two_lakes
    path = tmp_path / "hostile.jsonl"
    lines = []
    for i in range(200):
        lines.append(json.dumps(good(i)))
        if i < len(HOSTILE):
            text = HOSTILE[i]
            lines.append(text % f"2025-06-0{1 + i % 9}T10:00:00Z" if "%s" in text else text)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    new_report = ingest_file(new, path)
    ref_report = reference().ingest_file(ref, path)
    assert new_report.accepted >= 200
    assert_same(new, ref, new_report, ref_report)
