"""A SIGKILLed ingest leaves a readable lake; re-running it holds every event exactly once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.compute as pc

from kizuna.lake.ingest import ingest_file
from kizuna.lake.layout import LakeLayout
from kizuna.lake.reader import read_events
from kizuna.platform import Platform
from kizuna.store.models import Account

N_EVENTS = 20_000

WORKER = """
import sys
from pathlib import Path
import kizuna.lake.ingest as ingest
from kizuna.platform import Platform
from kizuna.settings import Settings

ingest.CHUNK_SIZE = 300  # many small batches: many points to die at
platform = Platform.from_settings(Settings(home=Path(sys.argv[1]), database_url=sys.argv[2]))
print("started", flush=True)
ingest.ingest_file(platform, Path(sys.argv[3]))
print("finished", flush=True)
"""


def write_events(path: Path) -> None:
    with open(path, "w") as handle:
        for i in range(N_EVENTS):
            day = 1 + i % 20
            handle.write(
                json.dumps(
                    {
                        "message_id": f"m{i:06d}",
                        "account_id": f"a{i % 7}",
                        "user_id": f"u{i % 13}",
                        "event": "login",
                        "timestamp": f"2025-06-{day:02d}T{i % 24:02d}:00:00Z",
                        "properties": {"i": i},
                    }
                )
                + "\n"
            )


def assert_lake_reads_cleanly(platform: Platform) -> list[str]:
    table = read_events(LakeLayout(platform.settings.lake_dir))
    ids = table.column("message_id")
    assert pc.count_distinct(ids).as_py() == table.num_rows, "an event landed twice"
    return ids.to_pylist()


def test_sigkill_mid_ingest_then_rerun_holds_each_event_once(
    sqlite_platform: Platform, tmp_path: Path
) -> None:
    platform = sqlite_platform
    with platform.store.session() as session:
        session.add_all([Account(id=f"a{i}", name=f"A{i}") for i in range(7)])
    source = tmp_path / "events.jsonl"
    write_events(source)
    rng = random.Random(20250630)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    landed_before = []
    killed_mid_ingest: list[bool] = []
    for _ in range(3):
        worker = subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                str(platform.settings.home),
                platform.store.url,
                str(source),
            ],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == b"started"
        time.sleep(rng.uniform(0.05, 0.6))
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        # Each worker re-ingests the whole file, so later ones may finish before the kill:
        # what matters is that some were killed mid-ingest.
        killed_mid_ingest.append(b"finished" not in worker.stdout.read())
        worker.stdout.close()
        landed_before.append(len(assert_lake_reads_cleanly(platform)))
    assert any(killed_mid_ingest), "every worker finished before it was killed"
    report = ingest_file(platform, source)
    ids = assert_lake_reads_cleanly(platform)
    assert sorted(ids) == [f"m{i:06d}" for i in range(N_EVENTS)]
    assert report.accepted + report.duplicates == N_EVENTS
    assert report.quarantined == 0
    # A batch that was written but not committed when the worker died was never
    # acknowledged: it is rolled back (its parts deleted) and lands in the re-run.
    assert report.duplicates <= landed_before[-1]
    assert not list(LakeLayout(platform.settings.lake_dir).events_dir.glob("*/*.tmp"))
