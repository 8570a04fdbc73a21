"""Defects found by trying to break the lake (issue 13): each test failed before its fix."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from kizuna.lake.ingest import ingest_records
from kizuna.lake.layout import LakeLayout
from kizuna.lake.quarantine import read_quarantine, replay, summarise
from kizuna.lake.reader import read_events
from kizuna.lifecycle.book import lake_tracking_start
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.models import Account


def add_accounts(platform: Platform, *ids: str) -> None:
    with platform.store.session() as session:
        session.add_all([Account(id=i, name=i.title()) for i in ids])


def event(mid: str, account: str, ts: object, name: str = "login") -> dict[str, object]:
    return {"message_id": mid, "account_id": account, "event": name, "timestamp": ts}


def lake_ids(platform: Platform) -> list[str]:
    return sorted(
        read_events(LakeLayout(platform.settings.lake_dir)).column("message_id").to_pylist()
    )


# -- 1. absurd timestamps ------------------------------------------------------


def test_timestamps_before_the_floor_or_a_day_after_arrival_are_quarantined(
    platform: Platform,
) -> None:
    add_accounts(platform, "acme")
    # the clock says 2025-06-30 12:00 UTC: history from 2003 is fine, 2199 is not
    records = [
        event("epoch", "acme", 0),
        event("y1999", "acme", "1999-12-31T23:59:59Z"),
        event("y2003", "acme", "2003-04-01T00:00:00Z"),
        event("soon", "acme", "2025-07-01T11:00:00Z"),  # 23 h after arrival: clock skew
        event("late", "acme", "2025-07-01T12:00:01Z"),  # over a day after arrival
        event("y2199", "acme", "2199-01-01T00:00:00Z"),
    ]
    report = ingest_records(platform, records, source="api")
    assert (report.accepted, report.quarantined) == (2, 4)
    assert lake_ids(platform) == ["soon", "y2003"]
    table = read_quarantine(LakeLayout(platform.settings.lake_dir))
    reasons = dict(
        zip(table.column("message_id").to_pylist(), table.column("reason").to_pylist(), strict=True)
    )
    assert reasons == {
        "epoch": "timestamp_before_floor",
        "y1999": "timestamp_before_floor",
        "late": "timestamp_in_future",
        "y2199": "timestamp_in_future",
    }
    messages = {p.where: p.message for p in report.problems}
    assert messages["api record 1"] == (
        "timestamp_before_floor: timestamp 1970-01-01T00:00:00+00:00 is before the floor "
        "2000-01-01 (KIZUNA_EVENT_TIMESTAMP_FLOOR)"
    )
    assert messages["api record 5"] == (
        "timestamp_in_future: timestamp 2025-07-01T12:00:01+00:00 is more than 24 hours after "
        "it arrived (2025-06-30T12:00:00+00:00)"
    )


def test_the_timestamp_floor_is_a_setting(platform: Platform) -> None:
    add_accounts(platform, "acme")
    platform.settings = Settings(
        home=platform.settings.home,
        database_url=platform.settings.database_url,
        event_timestamp_floor=date(2010, 1, 1),
    )
    report = ingest_records(
        platform, [event("a", "acme", "2005-01-01"), event("b", "acme", "2015-01-01")], source="t"
    )
    assert (report.accepted, report.quarantined) == (1, 1)


def test_one_outlier_does_not_move_the_day_tracking_began(platform: Platform) -> None:
    accounts = [f"a{i}" for i in range(20)]
    add_accounts(platform, *accounts)
    records = [
        event(f"{a}-{d}", a, f"2025-03-{d:02d}T10:00:00Z") for a in accounts for d in (1, 2, 3)
    ]
    ingest_records(platform, records, source="t")
    assert lake_tracking_start(platform) == date(2025, 3, 1)
    # an outlier that passes the floor, e.g. a mistyped year on one account
    ingest_records(platform, [event("typo", "a7", "2002-03-01T10:00:00Z")], source="t")
    assert lake_tracking_start(platform) == date(2025, 3, 1)


def test_a_small_lake_still_has_a_tracking_start(platform: Platform) -> None:
    add_accounts(platform, "solo")
    ingest_records(platform, [event("x", "solo", "2025-02-01T10:00:00Z")], source="t")
    assert lake_tracking_start(platform) == date(2025, 2, 1)


# -- 2. quarantine always holds JSON; replay goes on past a bad record -----------


def _nested(depth: int) -> dict[str, object]:
    value: dict[str, object] = {"leaf": 1}
    for _ in range(depth):
        value = {"k": value}
    return value


def test_deeply_nested_records_are_quarantined_as_json_and_replay_goes_on(
    platform: Platform,
) -> None:
    deep = {
        "type": "identify",
        "messageId": "deep",
        "userId": "u1",
        "groupId": "ghost",
        "timestamp": "2025-06-01T10:00:00Z",
        "traits": _nested(252),
    }
    fine = event("fine", "ghost", "2025-06-01T11:00:00Z")
    report = ingest_records(platform, [deep, fine], source="api")
    assert report.quarantined == 2
    layout = LakeLayout(platform.settings.lake_dir)
    for raw in read_quarantine(layout).column("raw").to_pylist():
        import json

        json.loads(raw)  # valid JSON, whatever the depth
    add_accounts(platform, "ghost")
    done = replay(platform)
    assert done.accepted == 2
    assert done.unreplayable == []
    assert lake_ids(platform) == ["deep", "fine"]


def test_replay_reports_a_record_it_cannot_replay_and_goes_on(platform: Platform) -> None:
    ingest_records(
        platform,
        [
            event("broken", "ghost", "2025-06-01T10:00:00Z"),
            event("ok", "ghost", "2025-06-01T10:00:00Z"),
        ],
        source="api",
    )
    layout = LakeLayout(platform.settings.lake_dir)
    # a quarantine file written by an older Kizuna: one record kept as a Python repr
    (path,) = sorted(layout.quarantine_dir.glob("*/*.parquet"))
    table = pq.read_table(path)
    raws = table.column("raw").to_pylist()
    raws[0] = repr(orjson.loads(raws[0]))
    import pyarrow as pa

    table = table.set_column(table.schema.get_field_index("raw"), "raw", pa.array(raws))
    pq.write_table(table, path)
    add_accounts(platform, "ghost")
    done = replay(platform)
    assert (done.candidates, done.accepted) == (2, 1)
    assert [(u.message_id, u.reason) for u in done.unreplayable] == [
        ("broken", "the quarantined record is not valid JSON")
    ]
    assert lake_ids(platform) == ["ok"]
    # it stays in the quarantine and every later replay says so again, without dying
    again = replay(platform)
    assert [u.message_id for u in again.unreplayable] == ["broken"]
    assert summarise(layout).total == 1


def test_replay_skips_a_damaged_quarantine_file(platform: Platform, tmp_path: Path) -> None:
    ingest_records(platform, [event("ok", "ghost", "2025-06-01T10:00:00Z")], source="api")
    layout = LakeLayout(platform.settings.lake_dir)
    bad = layout.quarantine_dir / "received_date=2025-06-29" / "part-damaged.parquet"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not parquet")
    add_accounts(platform, "ghost")
    done = replay(platform)
    assert done.accepted == 1
    assert [u.where for u in done.unreplayable] == [str(bad.relative_to(layout.root))]


# -- 10. event validation ------------------------------------------------------


def test_event_names_are_strings_of_sane_length_without_control_characters(
    platform: Platform,
) -> None:
    add_accounts(platform, "acme")
    ts = "2025-06-01T10:00:00Z"
    records = [
        event("num", "acme", ts, 123),  # type: ignore[arg-type]
        event("bool", "acme", ts, True),  # type: ignore[arg-type]
        event("long", "acme", ts, "x" * 201),
        event("nul", "acme", ts, "log\x00in"),
        event("bidi", "acme", ts, "login\u202eevil"),
        event("ok", "acme", ts, "x" * 200),
        {**event("idnul", "acme", ts), "user_id": "u\x00"},
    ]
    report = ingest_records(platform, records, source="t")
    assert lake_ids(platform) == ["ok"]
    assert [(p.where, p.message, p.field) for p in report.problems] == [
        ("t record 1", "bad_event: event must be a string, not int", "event"),
        ("t record 2", "bad_event: event must be a string, not bool", "event"),
        ("t record 3", "bad_event: event is longer than 200 characters", "event"),
        (
            "t record 4",
            "bad_event: event contains a control or bidirectional-text character",
            "event",
        ),
        (
            "t record 5",
            "bad_event: event contains a control or bidirectional-text character",
            "event",
        ),
        (
            "t record 7",
            "bad_id: user_id contains a control or bidirectional-text character",
            "user_id",
        ),
    ]


def test_a_lone_surrogate_rejects_its_event_only(platform: Platform) -> None:
    add_accounts(platform, "acme")
    ts = "2025-06-01T10:00:00Z"
    bad_props = {**event("p", "acme", ts), "properties": {"name": "a\ud800b"}}
    report = ingest_records(
        platform,
        [event("s", "acme", ts, "log\udc00in"), bad_props, event("ok", "acme", ts)],
        source="t",
    )
    assert (report.accepted, report.quarantined) == (1, 2)
    assert [p.message.split(":")[0] for p in report.problems] == ["bad_text", "bad_text"]
    import json

    for raw in read_quarantine(LakeLayout(platform.settings.lake_dir)).column("raw").to_pylist():
        json.loads(raw)


def test_segment_page_and_screen_calls_are_events_named_by_the_page(platform: Platform) -> None:
    add_accounts(platform, "acme")
    base = {"userId": "u1", "groupId": "acme", "timestamp": "2025-06-01T10:00:00Z"}
    calls = [
        {
            **base,
            "type": "page",
            "messageId": "p1",
            "name": "Pricing",
            "category": "Docs",
            "properties": {"path": "/pricing"},
        },
        {**base, "type": "screen", "messageId": "p2", "name": "Home"},
        {**base, "type": "page", "messageId": "p3"},
    ]
    report = ingest_records(platform, calls, source="t")
    assert report.accepted == 3
    table = read_events(LakeLayout(platform.settings.lake_dir))
    rows = sorted(
        zip(
            table.column("message_id").to_pylist(),
            table.column("event").to_pylist(),
            table.column("properties").to_pylist(),
            strict=True,
        )
    )
    assert rows == [
        ("p1", "Viewed Pricing Page", '{"name":"Pricing","category":"Docs","path":"/pricing"}'),
        ("p2", "Viewed Home Screen", '{"name":"Home"}'),
        ("p3", "Loaded a Page", None),
    ]


# -- 7. demo events are in the dedupe index ------------------------------------


def test_a_resent_demo_event_is_a_duplicate(platform: Platform) -> None:
    from kizuna.lake.index import LakeIndex
    from kizuna.sim import SimConfig
    from kizuna.sim.demo import run_demo

    config = SimConfig(accounts=12, seed=2, start_date=date(2025, 5, 1), end_date=date(2025, 6, 30))
    run_demo(platform, config, force=True)
    layout = LakeLayout(platform.settings.lake_dir)
    events = read_events(layout)
    sample = events.slice(0, 3).to_pylist()
    report = ingest_records(platform, sample, source="resend")
    assert (report.accepted, report.duplicates) == (0, 3)
    index = LakeIndex(layout)
    with index.locked():
        assert index.count() == events.num_rows
    # a forced second demo replaces the events and their ids
    run_demo(platform, config.model_copy(update={"seed": 3}), force=True)
    with index.locked():
        assert index.count() == read_events(layout).num_rows


# -- 12. the store and the lake are created owner-only -------------------------


def test_a_new_sqlite_store_and_lake_are_owner_only(tmp_path: Path) -> None:
    from kizuna.store.db import Store

    store = Store(f"sqlite:///{tmp_path / 'home' / 'kizuna.sqlite3'}")
    store.upgrade()
    platform = Platform(
        settings=Settings(home=tmp_path / "home", database_url=store.url), store=store
    )
    add_accounts(platform, "acme")
    ingest_records(platform, [event("m", "acme", "2025-06-01T00:00:00Z")], source="t")
    assert (tmp_path / "home" / "kizuna.sqlite3").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "home" / "kizuna.sqlite3-wal").stat().st_mode & 0o777 == 0o600
    assert platform.settings.lake_dir.stat().st_mode & 0o777 == 0o700
    store.dispose()
