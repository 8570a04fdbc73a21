"""The digest index (exact, 16 bytes an event, converted from the old SQLite ids) and
group commit (concurrent requests written as one batch, each answered with its own)."""

from __future__ import annotations

import importlib
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from kizuna.lake.index import LakeIndex, index_path, merge_run_files, message_digests
from kizuna.lake.ingest import GroupCommitter, ingest_records
from kizuna.lake.layout import LakeLayout
from kizuna.lake.reader import read_events
from kizuna.platform import Platform
from kizuna.store.models import Account

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ingest"


def event(mid: str, account: str = "a1", **extra: Any) -> dict[str, Any]:
    return {
        "message_id": mid,
        "account_id": account,
        "event": "login",
        "timestamp": "2025-06-01T10:00:00Z",
        **extra,
    }


def add_accounts(platform: Platform, *ids: str) -> None:
    with platform.store.session() as session:
        session.add_all([Account(id=i, name=i) for i in ids])


def test_digests_are_distinct_stable_and_length_aware() -> None:
    ids = [f"{i}" for i in range(200_000)] + ["", "a", "a\x01", "é", "x" * 300, "x" * 301]
    digests = message_digests(ids)
    assert digests.shape == (len(ids), 2)
    assert len(np.unique(digests, axis=0)) == len(ids)
    arrow = pa.array(ids).slice(3, 10)
    assert (message_digests(arrow) == digests[3:13]).all()  # offsets of a sliced array
    assert (message_digests(pa.chunked_array([ids[:5], ids[5:9]])) == digests[:9]).all()


def test_index_is_exact_across_runs_and_merges(tmp_path: Path) -> None:
    index = LakeIndex(LakeLayout(tmp_path / "lake"))
    batches = [[f"b{b}-{i}" for i in range(300)] for b in range(40)]
    with index.locked():
        for ids in batches:
            assert not index.contains(message_digests(ids)).any()
            index.commit_batch(ids)
        assert index.count() == 40 * 300
        runs = list(index.runs_dir.iterdir())
        assert len(runs) < 20  # merged as they came
        every = [m for ids in batches for m in ids]
        assert index.contains(message_digests(every)).all()
        assert not index.contains(message_digests([m + "!" for m in every])).any()
        # 16 bytes an event in the runs
        assert sum(p.stat().st_size for p in runs) == 16 * len(every)


def test_an_old_index_of_ids_is_converted_without_losing_one(
    sqlite_platform: Platform,
) -> None:
    platform = sqlite_platform
    add_accounts(platform, "a1")
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    naive = importlib.import_module("naive_ingest")
    old = [event(f"old-{i}") for i in range(1_000)]
    assert naive.ingest_records(platform, old, source="old").accepted == 1_000
    path = index_path(LakeLayout(platform.settings.lake_dir))
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == 1_000
    report = ingest_records(platform, [*old[:10], event("new-1")], source="api")
    assert (report.accepted, report.duplicates) == (1, 10)
    with sqlite3.connect(path) as conn:
        tables = {n for (n,) in conn.execute("SELECT name FROM sqlite_master")}
    assert "messages" not in tables
    index = LakeIndex(LakeLayout(platform.settings.lake_dir))
    with index.locked():
        assert (
            index.count() == 1_001 == read_events(LakeLayout(platform.settings.lake_dir)).num_rows
        )


def test_concurrent_requests_are_written_together_each_with_its_own_counts(
    sqlite_platform: Platform,
) -> None:
    platform = sqlite_platform
    add_accounts(platform, "a1", "a2")
    committer = GroupCommitter()
    ingest_records(platform, [event("old")], source="t")
    requests = [
        [event("r0-1"), event("old"), event("r0-2", timestamp="soon")],
        [event("r1-1"), event("r0-1"), event("r1-2", account="ghost")],  # r0-1: first wins
        [event("r2-1", account="a2"), event("r2-1", account="a2")],
    ]
    index = LakeIndex(LakeLayout(platform.settings.lake_dir))
    with index.locked():  # an ingest is running: the requests queue up meanwhile
        futures = [
            committer.submit(platform, r, source=f"api:s{k}") for k, r in enumerate(requests)
        ]
        threading.Event().wait(0.3)
    reports = [f.result(timeout=30) for f in futures]
    assert committer.batches <= 2  # the first may start alone; the rest come together
    counts = [(r.accepted, r.duplicates, r.quarantined) for r in reports]
    assert counts == [(1, 1, 1), (1, 1, 1), (1, 1, 0)]
    assert [p.where for p in reports[0].problems] == ["api:s0 record 3"]
    assert [p.where for p in reports[1].problems] == ["api:s1 record 3"]
    ids = sorted(
        read_events(LakeLayout(platform.settings.lake_dir)).column("message_id").to_pylist()
    )
    assert ids == ["old", "r0-1", "r1-1", "r2-1"]


def _run_file(path: Path, digests: np.ndarray) -> Path:
    order = np.argsort(digests[:, 0], kind="stable")
    path.write_bytes(digests[order, 0].tobytes() + digests[order, 1].tobytes())
    return path


def test_a_merge_streamed_in_small_windows_keeps_every_digest_sorted(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    runs = [rng.integers(0, 2**63, size=(n, 2), dtype=np.uint64) for n in (1_000, 37, 2_500, 3)]
    # upper halves shared within and across runs (a 2^-64 coincidence in real life)
    runs[0][:5, 0] = 42
    runs[2][:3, 0] = 42
    runs[1][0, 0] = runs[2][10, 0]
    paths = [_run_file(tmp_path / f"in-{k}.run", d) for k, d in enumerate(runs)]
    target = tmp_path / "merged.run"
    assert merge_run_files(paths, target, window=64) == 3_540
    words = np.fromfile(target, dtype="<u8")
    hi, lo = words[:3_540], words[3_540:]
    assert (np.diff(hi.astype(np.float64)) >= 0).all() and (hi[:-1] <= hi[1:]).all()
    merged = np.stack([hi, lo], axis=1)
    every = np.concatenate(runs)
    assert (np.unique(merged, axis=0) == np.unique(every, axis=0)).all()
    assert not target.with_name(target.name + ".tmp").exists()


def _mapped_runs(index: LakeIndex) -> list[str]:
    maps = Path("/proc/self/maps").read_text().splitlines()
    return [line for line in maps if str(index.runs_dir) in line]


def test_lookups_leave_no_run_mapped_and_merges_find_shared_upper_halves(
    tmp_path: Path,
) -> None:
    index = LakeIndex(LakeLayout(tmp_path / "lake"))
    with index.locked():
        for b in range(8):
            digests = message_digests([f"m{b}-{i}" for i in range(400)])
            digests[:2, 0] = 99  # every run has two digests sharing one upper half
            assert not index.contains(digests).any()
            index.commit_digests(digests)
        assert len(list(index.runs_dir.iterdir())) < 8  # merged
        for b in range(8):
            digests = message_digests([f"m{b}-{i}" for i in range(400)])
            digests[:2, 0] = 99
            assert index.contains(digests).all()
        probe = message_digests(["not-there"])
        probe[0, 0] = 99
        assert not index.contains(probe).any()
        # the runs are mapped only during a lookup: memory does not grow with the lake
        assert _mapped_runs(index) == []
