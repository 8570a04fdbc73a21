"""Ingest: good events land, bad ones are quarantined with their reason, counts add up."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from kizuna.errors import Problem
from kizuna.lake.ingest import ingest_file, ingest_records
from kizuna.lake.layout import LakeLayout
from kizuna.lake.quarantine import replay, summarise
from kizuna.lake.reader import read_events
from kizuna.platform import Platform
from kizuna.store.models import Account


def add_accounts(platform: Platform, *ids: str) -> None:
    with platform.store.session() as session:
        session.add_all([Account(id=i, name=i.title()) for i in ids])


def lake_rows(platform: Platform) -> list[tuple[str, str, str | None, str, str, str | None]]:
    table = read_events(LakeLayout(platform.settings.lake_dir))
    return sorted(
        (
            r["message_id"],
            r["account_id"],
            r["user_id"],
            r["event"],
            r["timestamp"].isoformat(),
            r["properties"],
        )
        for r in table.to_pylist()
    )


MIXED = [
    {
        "message_id": "m1",
        "account_id": "acme",
        "user_id": "u1",
        "event": "login",
        "timestamp": "2025-06-01T10:00:00Z",
        "properties": {"duration_s": 31},
    },
    {
        "message_id": "m2",
        "account_id": "ghost",
        "user_id": "u1",
        "event": "login",
        "timestamp": "2025-06-01T10:00:00Z",
    },
    {"message_id": "m3", "account_id": "acme", "event": "login", "timestamp": "yesterday"},
    {"account_id": "acme", "event": "login"},
    {
        "message_id": "m1",
        "account_id": "acme",
        "user_id": "u1",
        "event": "login",
        "timestamp": "2025-06-01T10:00:00Z",
    },
    {
        "message_id": "m4",
        "account_id": "acme",
        "user_id": "u2",
        "event": "export_run",
        "timestamp": "2025-06-02T09:30:00+09:00",
        "properties": {"rows": 1200},
    },
    {
        "message_id": "m5",
        "account_id": "acme",
        "event": "x",
        "timestamp": "2025-06-02T00:00:00Z",
        "properties": [1, 2],
    },
]


def test_mixed_file_lands_good_quarantines_bad_and_counts_add_up(
    platform: Platform, tmp_path: Path
) -> None:
    add_accounts(platform, "acme")
    path = tmp_path / "events.jsonl"
    lines = [json.dumps(r) for r in MIXED]
    lines.insert(3, "{not json")
    path.write_text("\n".join(lines) + "\n\n")
    report = ingest_file(platform, path)
    assert (report.accepted, report.duplicates, report.quarantined) == (2, 1, 5)
    assert report.received == len(lines)
    assert report.problems == [
        Problem(
            "unknown_account: account 'ghost' is not in the store",
            where="events.jsonl line 2",
            row=2,
        ),
        Problem(
            "bad_timestamp: cannot parse timestamp 'yesterday'",
            where="events.jsonl line 3",
            field="timestamp",
            row=3,
        ),
        Problem(
            "bad_record: not valid JSON (unexpected character, expected a string key: "
            "line 1 column 2 (char 1))",
            where="events.jsonl line 4",
            row=4,
        ),
        Problem(
            "missing_field: missing required field(s): message_id, timestamp",
            where="events.jsonl line 5",
            field="message_id,timestamp",
            row=5,
        ),
        Problem(
            "bad_properties: properties must be a JSON object",
            where="events.jsonl line 8",
            field="properties",
            row=8,
        ),
    ]
    assert lake_rows(platform) == [
        ("m1", "acme", "u1", "login", "2025-06-01T10:00:00+00:00", '{"duration_s":31}'),
        ("m4", "acme", "u2", "export_run", "2025-06-02T00:30:00+00:00", '{"rows":1200}'),
    ]
    summary = summarise(LakeLayout(platform.settings.lake_dir))
    assert summary.total == 5
    assert summary.by_reason == {
        "bad_properties": 1,
        "bad_record": 1,
        "bad_timestamp": 1,
        "missing_field": 1,
        "unknown_account": 1,
    }
    ghost = next(s for s in summary.samples if s["reason"] == "unknown_account")
    assert (ghost["source"], ghost["where"], ghost["account_id"], ghost["message_id"]) == (
        "events.jsonl",
        "events.jsonl line 2",
        "ghost",
        "m2",
    )
    assert json.loads(ghost["raw"]) == MIXED[1]
    bad_json = next(s for s in summary.samples if s["reason"] == "bad_record")
    assert bad_json["raw"] == "{not json"
    assert summary.resent == 0
    # An at-least-once sender re-sends the whole file: the good events are duplicates,
    # the bad ones are received (and quarantined) again, and the summary says so.
    again = ingest_file(platform, path)
    assert (again.accepted, again.duplicates, again.quarantined) == (0, 3, 5)
    summary = summarise(LakeLayout(platform.settings.lake_dir))
    # 10 records received; the 3 of them that carry a message id repeat one
    assert (summary.total, summary.resent) == (10, 3)


def test_duplicates_are_dropped_across_calls_and_within_one(platform: Platform) -> None:
    add_accounts(platform, "acme")
    good = MIXED[0]
    first = ingest_records(platform, [good, good], source="api")
    second = ingest_records(platform, [good], source="api")
    assert (first.accepted, first.duplicates) == (1, 1)
    assert (second.accepted, second.duplicates) == (0, 1)
    assert len(lake_rows(platform)) == 1


def test_segment_batch_track_identify_group(platform: Platform, tmp_path: Path) -> None:
    add_accounts(platform, "acme")
    payload = {
        "batch": [
            {
                "type": "track",
                "messageId": "s1",
                "userId": "u1",
                "event": "report_created",
                "timestamp": "2025-06-01T10:00:00Z",
                "properties": {"rows": 5},
                "context": {"groupId": "acme"},
            },
            {
                "type": "identify",
                "messageId": "s2",
                "anonymousId": "anon-1",
                "timestamp": "2025-06-01T11:00:00Z",
                "traits": {"plan": "pro"},
            },
            {
                "type": "group",
                "messageId": "s3",
                "userId": "u1",
                "groupId": "acme",
                "timestamp": "2025-06-01T12:00:00Z",
                "traits": {"name": "Acme"},
            },
            {
                "type": "page",
                "messageId": "s4",
                "userId": "u1",
                "timestamp": "2025-06-01T12:00:00Z",
            },
        ],
        "context": {"groupId": "acme"},
    }
    path = tmp_path / "segment.json"
    path.write_text(json.dumps(payload))
    report = ingest_file(platform, path)
    # a page call is an event named the way Segment destinations name it (issue 13)
    assert (report.accepted, report.duplicates, report.quarantined) == (4, 0, 0)
    assert report.problems == []
    assert lake_rows(platform) == [
        ("s1", "acme", "u1", "report_created", "2025-06-01T10:00:00+00:00", '{"rows":5}'),
        ("s2", "acme", "anon-1", "identify", "2025-06-01T11:00:00+00:00", '{"plan":"pro"}'),
        ("s3", "acme", "u1", "group", "2025-06-01T12:00:00+00:00", '{"name":"Acme"}'),
        ("s4", "acme", "u1", "Loaded a Page", "2025-06-01T12:00:00+00:00", None),
    ]


def test_csv_and_parquet(platform: Platform, tmp_path: Path) -> None:
    add_accounts(platform, "acme")
    csv_path = tmp_path / "events.csv"
    csv_path.write_text(
        "message_id,account_id,user_id,event,timestamp,rows\n"
        "c1,acme,u1,export_run,2025-06-01T10:00:00Z,1200\n"
        "c2,acme,,login,2025-06-01 11:00:00,\n"
        "c3,acme,u1,login,,\n"
    )
    report = ingest_file(platform, csv_path)
    assert (report.accepted, report.quarantined) == (2, 1)
    assert report.problems[0].where == "events.csv line 4"
    parquet_path = tmp_path / "events.parquet"
    pq.write_table(
        pa.table(
            {
                "message_id": ["p1", "c1"],
                "account_id": ["acme", "acme"],
                "user_id": ["u3", "u1"],
                "event": ["login", "export_run"],
                "timestamp": ["2025-06-03T00:00:00Z", "2025-06-01T10:00:00Z"],
            }
        ),
        parquet_path,
    )
    report = ingest_file(platform, parquet_path)
    assert (report.accepted, report.duplicates, report.quarantined) == (1, 1, 0)
    assert lake_rows(platform) == [
        ("c1", "acme", "u1", "export_run", "2025-06-01T10:00:00+00:00", '{"rows":"1200"}'),
        ("c2", "acme", None, "login", "2025-06-01T11:00:00+00:00", None),
        ("p1", "acme", "u3", "login", "2025-06-03T00:00:00+00:00", None),
    ]


def test_replay_lands_events_once_the_account_exists(platform: Platform) -> None:
    add_accounts(platform, "acme")
    early = dict(MIXED[1], message_id="g1")
    report = ingest_records(platform, [early, MIXED[2]], source="api")
    assert report.quarantined == 2
    layout = LakeLayout(platform.settings.lake_dir)
    nothing = replay(platform)
    assert (nothing.candidates, nothing.accepted) == (0, 0)
    add_accounts(platform, "ghost")
    done = replay(platform)
    assert (done.candidates, done.accepted, done.duplicates, done.still_quarantined) == (1, 1, 0, 0)
    assert [r[0] for r in lake_rows(platform)] == ["g1"]
    assert summarise(layout).by_reason == {"bad_timestamp": 1}
    again = replay(platform)
    assert again.candidates == 0
