"""The bulk path writes each day's partition once per load, as one transaction."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

import kizuna.lake.ingest as ingest
from kizuna.lake.index import LakeIndex
from kizuna.lake.ingest import ingest_paths
from kizuna.lake.layout import LakeLayout
from kizuna.lake.quarantine import read_quarantine
from kizuna.lake.reader import committed_parts, read_events
from kizuna.platform import Platform
from kizuna.store.models import Account


def write_file(path: Path, events: Sequence[Mapping[str, object]]) -> None:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def test_a_bulk_load_writes_each_day_once_and_keeps_each_event_once(
    sqlite_platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = sqlite_platform
    with platform.store.session() as session:
        session.add_all([Account(id=f"a{i}", name=f"A{i}") for i in range(3)])
    monkeypatch.setattr(ingest, "BULK_CHUNK_SIZE", 50)  # many batches in one load
    folder = tmp_path / "history"
    folder.mkdir()
    events = [
        {
            "message_id": f"m{i:04d}",
            "account_id": f"a{i % 3}",
            "event": "login",
            "timestamp": f"2025-05-{1 + i % 5:02d}T{i % 24:02d}:00:00Z",
        }
        for i in range(600)
    ]
    write_file(folder / "a.jsonl", events[:300])
    write_file(folder / "b.jsonl", events[300:])
    # re-sent in a later file, one with another timestamp; and one bad record
    resent = [dict(events[7]), dict(events[420], timestamp="2025-05-09T00:00:00Z")]
    bad = {
        "message_id": "x1",
        "account_id": "nobody",
        "event": "login",
        "timestamp": "2025-05-01T00:00:00Z",
    }
    write_file(folder / "c.jsonl", [*resent, bad])
    report = ingest_paths(platform, sorted(folder.iterdir()), rollup=False)
    assert (report.accepted, report.duplicates, report.quarantined) == (600, 2, 1)
    layout = LakeLayout(platform.settings.lake_dir)
    parts = committed_parts(layout)
    assert len(parts) == 5  # one part file per day for the whole load
    assert len({p.event_date for p in parts}) == 5
    table = read_events(layout)
    assert sorted(table.column("message_id").to_pylist()) == [e["message_id"] for e in events]
    for part in parts:  # each sorted by account and time
        rows = read_events(layout, part.event_date, part.event_date)
        keys = list(
            zip(
                rows.column("account_id").to_pylist(),
                rows.column("timestamp").to_pylist(),
                strict=True,
            )
        )
        assert keys == sorted(keys)
    assert read_quarantine(layout).column("reason").to_pylist() == ["unknown_account"]
    index = LakeIndex(layout)
    with index.locked():
        assert index.count() == 600
        assert index.pending_count() == 0
        assert not index.spill_dir.exists()
    again = ingest_paths(platform, sorted(folder.iterdir()), rollup=False)
    assert (again.accepted, again.duplicates) == (0, 602)
    assert len(committed_parts(layout)) == 5
