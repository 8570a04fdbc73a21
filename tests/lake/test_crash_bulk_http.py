"""Crashes on the new paths: a SIGKILLed bulk load and a SIGKILLed collection server.

Each is re-run (the bulk load) or re-sent (every batch, as an at-least-once sender
does) afterwards; the lake must then hold every event exactly once, and every batch
the server acknowledged before it died must be in the lake.
"""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pyarrow.compute as pc

from kizuna.auth.sources import add_source
from kizuna.lake.index import LakeIndex
from kizuna.lake.ingest import ingest_paths
from kizuna.lake.layout import LakeLayout
from kizuna.lake.reader import read_events
from kizuna.platform import Platform
from kizuna.store.models import Account

BULK_WORKER = """
import os
import sys
import time
from pathlib import Path
import kizuna.lake.ingest as ingest
from kizuna.platform import Platform
from kizuna.settings import Settings

ingest.BULK_CHUNK_SIZE = 250  # many small batches: many points to die at
real_replace = os.replace


def landing(src, dst):
    # every file the lake lands atomically is announced (a day's part file, or another:
    # a run of digests) and followed by a short pause, so the test kills the load
    # mid-way however fast the machine is
    real_replace(src, dst)
    print("landed part" if str(dst).endswith(".parquet") else "landed other", flush=True)
    time.sleep(0.03)


os.replace = landing
platform = Platform.from_settings(Settings(home=Path(sys.argv[1]), database_url=sys.argv[2]))
print("started", flush=True)
ingest.ingest_paths(platform, ingest.expand_paths(sys.argv[3]), rollup=False)
print("finished", flush=True)
"""


def lake_ids(platform: Platform) -> list[str]:
    table = read_events(LakeLayout(platform.settings.lake_dir))
    ids = table.column("message_id")
    assert pc.count_distinct(ids).as_py() == table.num_rows, "an event landed twice"
    return ids.to_pylist()


def add_accounts(platform: Platform, n: int) -> None:
    with platform.store.session() as session:
        session.add_all([Account(id=f"a{i}", name=f"A{i}") for i in range(n)])


def test_sigkill_mid_bulk_load_then_rerun_holds_each_event_once(
    sqlite_platform: Platform, tmp_path: Path
) -> None:
    platform = sqlite_platform
    add_accounts(platform, 7)
    folder = tmp_path / "history"
    folder.mkdir()
    expected = []
    for f in range(3):
        with open(folder / f"part-{f}.jsonl", "w") as handle:
            for i in range(6_000):
                mid = f"f{f}-{i:05d}"
                expected.append(mid)
                day = 1 + (i * 7 + f) % 28
                handle.write(
                    json.dumps(
                        {
                            "message_id": mid,
                            "account_id": f"a{i % 7}",
                            "event": "login",
                            "timestamp": f"2025-05-{day:02d}T{i % 24:02d}:00:00Z",
                            "properties": {"i": i},
                        }
                    )
                    + "\n"
                )
        # the same events re-sent in a later file: still once
    resent = (folder / "part-0.jsonl").read_text().splitlines(keepends=True)[:150]
    (folder / "resent.jsonl").write_text("".join(resent))
    rng = random.Random(1203)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    killed = []
    # the first load dies while it reads and spills, the others while they write the days
    for attempt in range(3):
        worker = subprocess.Popen(
            [
                sys.executable,
                "-c",
                BULK_WORKER,
                str(platform.settings.home),
                platform.store.url,
                str(folder),
            ],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == b"started"
        wanted = b"landed other" if attempt == 0 else b"landed part"
        for _ in range(rng.randint(1, 12 if attempt == 0 else 11)):  # of 84 and 12
            while (line := worker.stdout.readline().strip()) != wanted:
                assert line.startswith(b"landed"), line
        time.sleep(rng.uniform(0, 0.04))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        killed.append(b"finished" not in worker.stdout.read())
        worker.stdout.close()
        # readable, and nothing of a load that did not finish, even before any writer
        # rolled it back (its day files are pending)
        assert lake_ids(platform) == []
    assert all(killed), "a bulk load finished before it was killed"
    report = ingest_paths(platform, sorted(folder.iterdir()), rollup=False)
    assert sorted(lake_ids(platform)) == sorted(expected)
    assert report.quarantined == 0
    assert report.accepted + report.duplicates == len(expected) + len(resent)
    index = LakeIndex(LakeLayout(platform.settings.lake_dir))
    with index.locked():
        assert index.count() == len(expected)
        assert index.pending_count() == 0
    again = ingest_paths(platform, sorted(folder.iterdir()), rollup=False)
    assert again.accepted == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(platform: Platform, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KIZUNA_HOME": str(platform.settings.home),
        "KIZUNA_DATABASE_URL": platform.store.url,
        "PYTHONWARNINGS": "ignore",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "kizuna.server:app_from_environment",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        assert server.poll() is None and time.time() < deadline, "the server did not start"
        time.sleep(0.2)


def test_sigkill_mid_http_collection_then_resend_holds_each_event_once(
    sqlite_platform: Platform,
) -> None:
    platform = sqlite_platform
    add_accounts(platform, 7)
    write_key = add_source(platform, "crash").write_key
    auth = {"Authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()}
    batches = [
        {
            "batch": [
                {
                    "type": "track",
                    "messageId": f"b{b:03d}-{i:03d}",
                    "userId": f"u{i % 9}",
                    "event": "login",
                    "timestamp": f"2025-06-{1 + (b + i) % 28:02d}T10:00:00Z",
                    "context": {"groupId": f"a{(b + i) % 7}"},
                }
                for i in range(200)
            ]
        }
        for b in range(120)
    ]
    acknowledged: set[int] = set()
    lock = threading.Lock()

    def sender(base: str, mine: list[int], stop: threading.Event) -> None:
        with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
            for b in mine:
                if stop.is_set():
                    return
                try:
                    r = client.post("/v1/batch", json=batches[b])
                except httpx.HTTPError:
                    return  # the server died: this batch was not acknowledged
                assert r.status_code == 200, r.text
                body = r.json()
                assert body["accepted"] + body["duplicates"] == 200
                with lock:
                    acknowledged.add(b)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(platform, port)
    stop = threading.Event()
    threads = [
        threading.Thread(target=sender, args=(base, list(range(k, 120, 4)), stop))
        for k in range(4)  # concurrent senders: their batches are group-committed
    ]
    for t in threads:
        t.start()
    deadline = time.time() + 180  # the machine may be busy: wait for a few answers
    while len(acknowledged) < 5 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(random.Random(7).uniform(0.0, 0.5))  # then die mid-way
    server.send_signal(signal.SIGKILL)
    server.wait()
    stop.set()
    for t in threads:
        t.join()
    assert 0 < len(acknowledged) < 120, "the kill came before or after every batch"
    landed = set(lake_ids(platform))
    for b in acknowledged:  # answered only once durable
        assert {c["messageId"] for c in batches[b]["batch"]} <= landed
    # the senders re-send everything (at least once): each event lands once
    server = start_server(platform, port)
    try:
        sender(base, list(range(120)), threading.Event())
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
    ids = lake_ids(platform)
    assert sorted(ids) == sorted(c["messageId"] for batch in batches for c in batch["batch"])
