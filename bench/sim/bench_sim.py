"""Benchmark of the simulator: time, events/s and peak memory at two or three sizes.

Each size runs in its own process so its peak RSS is its own. Compared in the
same run with the naive way (a Python loop building one dict per event, then
``pa.Table.from_pylist``), on a slice of events.

    python bench/sim/bench_sim.py            # sizes XS (1k accounts) and S (10k accounts)
    python bench/sim/bench_sim.py --with-m   # also M (100k accounts, ~100M events)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def machine() -> dict[str, object]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as handle:
        mem_kb = int(handle.readline().split()[1])
    return {"cores": os.cpu_count(), "ram_gb": round(mem_kb / 1024**2, 1), "cpu": cpu,
            "python": platform.python_version()}  # fmt: skip


def run_one(preset: str, accounts: int | None) -> dict[str, object]:
    """Simulate one size in this process; print the figures as JSON."""
    from kizuna.sim import SimConfig, simulate

    config = SimConfig.preset(preset, accounts=accounts)
    out = Path(tempfile.mkdtemp(prefix="kizuna-bench-sim-"))
    try:
        t0 = time.perf_counter()
        summary = simulate(config, out / "sim")
        seconds = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in (out / "sim").rglob("*") if p.is_file())
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {
        "preset": preset,
        "accounts": config.accounts,
        "events": summary.events,
        "seconds": round(seconds, 1),
        "events_per_s": round(summary.events / seconds),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "output_mb": round(size / 1024**2),
        "rows": summary.rows,
    }


def naive(n_events: int) -> dict[str, object]:
    """The naive way: one Python dict per event, then Arrow and Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kizuna.lake.layout import EVENT_SCHEMA

    rng = random.Random(42)
    names = ["login", "page_view", "report_created", "export_run"]
    t0 = time.perf_counter()
    rows = []
    base = 1_719_792_000_000_000
    for k in range(n_events):
        event = rng.choice(names)
        rows.append(
            {
                "message_id": f"naive-{k}",
                "account_id": f"A{rng.randrange(10_000):06d}",
                "user_id": f"u{rng.randrange(8)}",
                "event": event,
                "timestamp": base + rng.randrange(86_400_000_000),
                "properties": json.dumps({"duration_s": rng.randrange(300)})
                if event == "page_view"
                else None,
            }
        )
    table = pa.Table.from_pylist(rows, schema=EVENT_SCHEMA).sort_by(
        [("account_id", "ascending"), ("timestamp", "ascending")]
    )
    with tempfile.TemporaryDirectory() as tmp:
        pq.write_table(table, Path(tmp) / "naive.parquet", compression="zstd")
    seconds = time.perf_counter() - t0
    return {
        "events": n_events,
        "seconds": round(seconds, 2),
        "events_per_s": round(n_events / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--one", nargs=2, metavar=("PRESET", "ACCOUNTS"))
    parser.add_argument("--with-m", action="store_true")
    args = parser.parse_args()
    if args.one:
        preset, accounts = args.one
        print(json.dumps(run_one(preset, int(accounts) if accounts != "-" else None)))
        return
    print(json.dumps({"machine": machine()}))
    sizes = [("S", "1000"), ("S", "-")] + ([("M", "-")] if args.with_m else [])
    for preset, accounts in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--one", preset, accounts],
            check=True, capture_output=True, text=True, timeout=3600,
        )  # fmt: skip
        print(out.stdout.strip(), flush=True)
    print(json.dumps({"naive": naive(500_000)}))


if __name__ == "__main__":
    main()
