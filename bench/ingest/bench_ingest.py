"""Ingest benchmark: files (JSON Lines, CSV, Parquet), a bulk history load, HTTP collection.

    python bench/ingest/bench_ingest.py [--events 10000000] [--bulk-events 100000000]
        [--http-events 1000000] [--naive-events 300000] [--work /work/scratch/h20/bench]

Generates the inputs with DuckDB (not timed): ``--events`` events as JSON Lines, CSV and
Parquet, ``--bulk-events`` as 10 Parquet files (a first history load), over a year and
10,000 accounts, ids like UUIDs. Then, each in its own child process so that CPU time
and peak memory (``getrusage``) are the ingest's own:

1. ``kizuna ingest FILE`` (``ingest_file``) of each file into a fresh lake, and the naive
   way — the row-at-a-time path as it was, kept in ``bench/ingest/naive_ingest.py`` with
   its SQLite index of ids — on the first ``--naive-events`` of each file, for the ratio;
2. ``kizuna ingest DIR`` (``ingest_paths``: batches of 1M, then the metrics' roll-up);
3. HTTP: ``kizuna serve`` (one worker) in a second process, this process sending
   ``POST /v1/batch`` of 500 events from 8 connections while reading
   ``GET /accounts/{id}`` at 20 requests/s (p50/p99); against ``ingest_records`` in-process
   on the same batches of 500 in the same run.

After each load it checks that the lake holds every event exactly once (DuckDB over the
committed part files) and reports the dedupe index's bytes per event. Prints the
machine, the load average before and after, and events/s by wall clock and by CPU time
(the machine may be shared: CPU time is the fairer figure then).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SRC = ROOT / "src"
NAMES = ["login", "report_viewed", "report_exported", "dashboard_shared", "api_call"]
ACCOUNTS = 10_000


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except OSError:
        mem_kb = 0
    return f"{os.cpu_count()} cores, {mem_kb / 1024**2:.1f} GB RAM, {cpu}"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f}"


def select_events(n: int, start: int = 0) -> str:
    return f"""
        SELECT
          printf('%08x-%04x-4%03x-a%03x-%012x', i, (i >> 32) % 65536, i % 4096,
                 (i * 7) % 4096, hash(i * 11) % 281474976710656) AS message_id,
          'acc-' || lpad(CAST(hash(i) % {ACCOUNTS} AS VARCHAR), 6, '0') AS account_id,
          'u' || CAST(hash(i * 3) % 200000 AS VARCHAR) AS user_id,
          (['login','report_viewed','report_exported','dashboard_shared','api_call'])
            [1 + CAST(hash(i * 7) % 5 AS INTEGER)] AS event,
          TIMESTAMPTZ '2025-01-01 00:00:00+00'
            + to_microseconds(CAST(hash(i * 5) % 31536000000000 AS BIGINT)) AS ts,
          json_object('n', i % 100, 'plan', 'pro') AS properties
        FROM range({start}, {start + n}) t(i)"""


def generate(work: Path, events: int, bulk: int) -> dict[str, Any]:
    """The input files (made once; kept across runs in ``work``)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files: dict[str, Any] = {}
    text = (
        "SELECT message_id, account_id, user_id, event, "
        "strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ') AS timestamp, properties FROM ({q})"
    )
    jsonl = work / f"events-{events}.jsonl"
    if not jsonl.exists():
        con.execute(f"COPY ({text.format(q=select_events(events))}) TO '{jsonl}' (FORMAT json)")
    files["jsonl"] = jsonl
    csv_path = work / f"events-{events}.csv"
    if not csv_path.exists():
        con.execute(
            f"COPY ({text.format(q=select_events(events))}) TO '{csv_path}' (FORMAT csv, HEADER)"
        )
    files["csv"] = csv_path
    parquet = work / f"events-{events}.parquet"
    pq_query = (
        "SELECT message_id, account_id, user_id, event, ts AS timestamp, "
        "CAST(properties AS VARCHAR) AS properties FROM ({q})"
    )
    if not parquet.exists():
        con.execute(
            f"COPY ({pq_query.format(q=select_events(events))}) TO '{parquet}' "
            "(FORMAT parquet, COMPRESSION zstd)"
        )
    files["parquet"] = parquet
    folder = work / f"history-{bulk}"
    if not folder.exists():
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        per = bulk // 10
        for k in range(10):
            n = per if k < 9 else bulk - 9 * per
            # offset the ids so the bulk load is not the same events as the files
            q = pq_query.format(q=select_events(n, start=10**12 + k * per))
            target = tmp / f"part-{k:02d}.parquet"
            con.execute(f"COPY ({q}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
        tmp.rename(folder)
    files["bulk"] = folder
    return files


def make_home(home: Path) -> None:
    """A fresh store with the accounts (and a user, token and write key for HTTP)."""
    sys.path.insert(0, str(SRC))
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from kizuna.auth.sources import add_source
    from kizuna.auth.tokens import create_token
    from kizuna.auth.users import add_user
    from kizuna.platform import Platform
    from kizuna.settings import Settings
    from kizuna.store.models import Account, TeamMember, TeamRole

    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    platform = Platform.from_settings(Settings(home=home))
    platform.store.upgrade()
    now = datetime.now(UTC)
    with platform.store.engine.begin() as conn:
        conn.execute(
            sa.insert(TeamMember),
            [
                {
                    "id": "csm",
                    "name": "csm",
                    "email": "csm@bench",
                    "role": TeamRole.CSM,
                    "active": True,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        conn.execute(
            sa.insert(Account),
            [
                {
                    "id": f"acc-{i:06d}",
                    "name": f"Account {i}",
                    "owner_id": "csm",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(ACCOUNTS)
            ],
        )
    add_user(platform, member_id="admin", name="Bench", email="admin@bench", role=TeamRole.ADMIN)
    token = create_token(platform, "admin", "bench").token
    write_key = add_source(platform, "bench").write_key
    (home / "bench.json").write_text(json.dumps({"token": token, "write_key": write_key}))
    platform.close()


# -- child processes: one measured load each ---------------------------------------


def child(kind: str, home: Path, target: str, limit: int) -> None:
    """Run one load in this (child) process; print its report as JSON."""
    sys.path.insert(0, str(SRC))
    from kizuna.platform import Platform
    from kizuna.settings import Settings

    platform = Platform.from_settings(Settings(home=home))
    started = time.perf_counter()
    out: dict[str, Any] = {}
    if kind == "new":
        from kizuna.lake.ingest import ingest_file

        report = ingest_file(platform, Path(target))
    elif kind == "bulk":
        from kizuna.lake.ingest import expand_paths, ingest_paths

        t0 = time.perf_counter()
        report = ingest_paths(platform, expand_paths(target), rollup=False)
        out["load_s"] = time.perf_counter() - t0
        # the load's own peak, then a fresh peak for the roll-up (metrics' code)
        out["load_peak_mb"] = _peak_rss_mb()
        _reset_peak_rss()
        t1 = time.perf_counter()
        from kizuna.metrics.service import refresh_rollup

        out["rollup_days"] = refresh_rollup(platform)
        out["rollup_s"] = time.perf_counter() - t1
        out["rollup_peak_mb"] = _peak_rss_mb()
    elif kind == "naive":
        sys.path.insert(0, str(HERE))
        import naive_ingest  # the row-at-a-time reference

        naive_ingest.CHUNK_SIZE = 50_000
        report = naive_ingest.ingest_file(platform, Path(target))
    elif kind == "inprocess":
        from kizuna.lake.ingest import ingest_records

        calls = [orjson.loads(line) for line in Path(target).read_bytes().splitlines()]
        started = time.perf_counter()
        report = None
        accepted = 0
        for i in range(0, len(calls), 500):
            accepted += ingest_records(platform, calls[i : i + 500], source="bench").accepted
        out["accepted_total"] = accepted
    else:
        raise SystemExit(f"unknown kind {kind}")
    out["seconds"] = time.perf_counter() - started
    if report is not None:
        out.update(
            accepted=report.accepted, duplicates=report.duplicates, quarantined=report.quarantined
        )
    print("RESULT " + json.dumps(out), flush=True)


def _peak_rss_mb() -> float:
    """This process's peak resident memory since start (or the last reset), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak_rss() -> None:
    """Start a new peak (Linux: writing 5 to clear_refs resets VmHWM)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def run_child(kind: str, home: Path, target: Path, limit: int = 0) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "KIZUNA_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", kind, str(home), str(target), str(limit)],
        stdout=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    output = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{kind} {target} failed: {output[-2000:]}")
    line = next(x for x in output.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT ") :])
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    result["peak_mb"] = usage.ru_maxrss / 1024
    return result


def check_lake(home: Path, expected: int) -> dict[str, Any]:
    """Every event exactly once (DuckDB over the committed parts) and index bytes/event."""
    sys.path.insert(0, str(SRC))
    from kizuna.lake.index import LakeIndex
    from kizuna.lake.layout import LakeLayout

    layout = LakeLayout(home / "lake")
    files = [str(p) for p in layout.event_files()]
    con = duckdb.connect()
    rows, distinct = con.execute(
        "SELECT count(*), count(DISTINCT message_id) FROM read_parquet(?)", [files]
    ).fetchone()
    index = LakeIndex(layout)
    with index.locked():
        count = index.count()
        index_bytes = index.index_bytes()
    ok = rows == distinct == expected == count
    return {
        "rows": rows,
        "distinct": distinct,
        "index_count": count,
        "exactly_once": ok,
        "index_bytes_per_event": index_bytes / max(1, count),
        "part_files": len(files),
    }


def shrink(path: Path, n: int, work: Path) -> Path:
    """The first ``n`` events of ``path`` (same format), for the naive way."""
    out = work / f"{path.stem}-first{n}{path.suffix}"
    if out.exists():
        return out
    if path.suffix == ".parquet":
        duckdb.connect().execute(
            f"COPY (SELECT * FROM read_parquet('{path}') LIMIT {n}) TO '{out}' (FORMAT parquet)"
        )
    else:
        with open(path, "rb") as src, open(out, "wb") as dst:
            for i, line in enumerate(src):
                if i >= n + (1 if path.suffix == ".csv" else 0):
                    break
                dst.write(line)
    return out


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s" if seconds else "-"


# -- HTTP ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


async def http_load(
    base: str, secrets: dict[str, str], bodies: list[bytes], read_rate: float
) -> dict[str, Any]:
    auth = "Basic " + base64.b64encode(f"{secrets['write_key']}:".encode()).decode()
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    accepted = 0
    latencies: list[float] = []
    done = asyncio.Event()
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:

        async def sender() -> None:
            nonlocal accepted
            while not queue.empty():
                body = queue.get_nowait()
                r = await client.post(
                    "/v1/batch",
                    content=body,
                    headers={"Authorization": auth, "Content-Type": "application/json"},
                )
                assert r.status_code == 200, r.text
                accepted += r.json()["accepted"]

        async def reader() -> None:
            rng = random.Random(5)
            headers = {"Authorization": f"Bearer {secrets['token']}"}
            t0 = time.perf_counter()
            i = 0
            tasks = []

            async def one() -> None:
                start = time.perf_counter()
                r = await client.get(
                    f"/accounts/acc-{rng.randrange(ACCOUNTS):06d}", headers=headers
                )
                latencies.append(time.perf_counter() - start)
                assert r.status_code == 200, r.text

            while not done.is_set():
                delay = t0 + i / read_rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one()))
                i += 1
            await asyncio.gather(*tasks)

        reading = asyncio.create_task(reader())
        t0 = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(8)))
        seconds = time.perf_counter() - t0
        done.set()
        await reading
    return {
        "seconds": seconds,
        "accepted": accepted,
        "read_p50_ms": percentile(latencies, 0.5) * 1000,
        "read_p99_ms": percentile(latencies, 0.99) * 1000,
        "reads": len(latencies),
    }


def http_bench(work: Path, n: int, read_rate: float) -> dict[str, Any]:
    home = work / "home-http"
    make_home(home)
    secrets = json.loads((home / "bench.json").read_text())
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # live traffic: the events of one day (2025-06-30), in arrival order
    rows = con.execute(
        "SELECT message_id, account_id, user_id, event, "
        "strftime(TIMESTAMPTZ '2025-06-30 00:00:00+00' + to_microseconds("
        f"CAST(86400000000 * (row_number() OVER () - 1) / {n} AS BIGINT)), "
        "'%Y-%m-%dT%H:%M:%S.%fZ'), properties "
        f"FROM ({select_events(n, start=2 * 10**12)})"
    ).fetchall()
    calls = [
        {
            "type": "track",
            "messageId": m,
            "userId": u,
            "event": e,
            "timestamp": t,
            "properties": orjson.loads(p),
            "context": {"groupId": a},
        }
        for m, a, u, e, t, p in rows
    ]
    bodies = [orjson.dumps({"batch": calls[i : i + 500]}) for i in range(0, n, 500)]
    # the in-process rate on the same batches, in a fresh lake of its own
    calls_file = work / f"http-calls-{n}.jsonl"
    calls_file.write_bytes(b"\n".join(orjson.dumps(c) for c in calls))
    in_home = work / "home-inprocess"
    make_home(in_home)
    inproc = run_child("inprocess", in_home, calls_file)
    inproc["check"] = check_lake(in_home, n)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(SRC), "KIZUNA_HOME": str(home)}
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
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                if httpx.get(f"{base}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.3)
        cpu_before = _proc_cpu(server.pid)
        result = asyncio.run(http_load(base, secrets, bodies, read_rate))
        result["server_cpu_s"] = _proc_cpu(server.pid) - cpu_before
    finally:
        server.terminate()
        server.wait()
    result["check"] = check_lake(home, n)
    result["inprocess"] = inproc
    return result


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


# -- main ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--bulk-events", type=int, default=100_000_000)
    parser.add_argument("--http-events", type=int, default=1_000_000)
    parser.add_argument("--naive-events", type=int, default=300_000)
    parser.add_argument("--read-rate", type=float, default=20.0)
    parser.add_argument("--work", type=Path, default=Path("/work/scratch/h20/bench"))
    parser.add_argument("--only", default="files,bulk,http")
    parser.add_argument(
        "--no-rerun", action="store_true", help="skip the bulk load's re-run (all duplicates)"
    )
    args = parser.parse_args()
    only = set(args.only.split(","))
    args.work.mkdir(parents=True, exist_ok=True)
    print(machine(), flush=True)
    print(f"before: {load_average()}", flush=True)
    t0 = time.perf_counter()
    files = generate(args.work, args.events, args.bulk_events)
    print(f"inputs ready in {time.perf_counter() - t0:.0f} s (not timed below)", flush=True)
    results: dict[str, Any] = {}
    if "files" in only:
        for fmt in ("jsonl", "csv", "parquet"):
            path = files[fmt]
            home = args.work / f"home-{fmt}"
            make_home(home)
            new = run_child("new", home, path)
            new["check"] = check_lake(home, args.events)
            small = shrink(path, args.naive_events, args.work)
            naive_home = args.work / f"home-naive-{fmt}"
            make_home(naive_home)
            naive = run_child("naive", naive_home, small)
            naive_rate = naive["accepted"] / naive["seconds"]
            new_rate = new["accepted"] / new["seconds"]
            print(
                f"{fmt:8s} {args.events:,} events: {new['seconds']:.1f} s = {new_rate:,.0f} "
                f"events/s wall, {args.events / new['cpu_s']:,.0f}/s CPU ({new['cpu_s']:.1f} s "
                f"CPU), peak {new['peak_mb']:,.0f} MB; exactly once: "
                f"{new['check']['exactly_once']}; index "
                f"{new['check']['index_bytes_per_event']:.1f} B/event; "
                f"{new['check']['part_files']} part files",
                flush=True,
            )
            print(
                f"         naive on {args.naive_events:,}: {naive_rate:,.0f} events/s wall, "
                f"{naive['accepted'] / naive['cpu_s']:,.0f}/s CPU, peak "
                f"{naive['peak_mb']:,.0f} MB -> new/naive {new_rate / naive_rate:.1f}x wall, "
                f"{(args.events / new['cpu_s']) / (naive['accepted'] / naive['cpu_s']):.1f}x CPU",
                flush=True,
            )
            results[fmt] = {"new": new, "naive": naive}
            shutil.rmtree(naive_home, ignore_errors=True)
            shutil.rmtree(home, ignore_errors=True)
    if "bulk" in only:
        home = args.work / "home-bulk"
        make_home(home)
        bulk = run_child("bulk", home, files["bulk"])
        bulk["check"] = check_lake(home, args.bulk_events)
        print(
            f"bulk     {args.bulk_events:,} events (10 Parquet files): load {bulk['load_s']:.1f} s "
            f"= {args.bulk_events / bulk['load_s']:,.0f} events/s wall, roll-up "
            f"{bulk['rollup_s']:.1f} s ({bulk['rollup_days']} days); total {bulk['seconds']:.1f} "
            f"s, {bulk['cpu_s']:.1f} s CPU, peak {bulk['peak_mb']:,.0f} MB (load "
            f"{bulk['load_peak_mb']:,.0f} MB, roll-up {bulk['rollup_peak_mb']:,.0f} MB); "
            "exactly once: "
            f"{bulk['check']['exactly_once']}; index "
            f"{bulk['check']['index_bytes_per_event']:.1f} B/event",
            flush=True,
        )
        if not args.no_rerun:
            again = run_child("bulk", home, files["bulk"])
            print(
                f"         re-run: accepted {again['accepted']}, duplicates "
                f"{again['duplicates']:,} in {again['load_s']:.1f} s; exactly once: "
                f"{check_lake(home, args.bulk_events)['exactly_once']}",
                flush=True,
            )
        results["bulk"] = bulk
        shutil.rmtree(home, ignore_errors=True)
    if "http" in only:
        http = http_bench(args.work, args.http_events, args.read_rate)
        inproc = http["inprocess"]
        in_rate = args.http_events / inproc["seconds"]
        http_rate = args.http_events / http["seconds"]
        print(
            f"http     {args.http_events:,} events, POST /v1/batch of 500 from 8 connections: "
            f"{http_rate:,.0f} events/s (server {http['server_cpu_s']:.1f} s CPU); in-process "
            f"ingest_records on the same batches: {in_rate:,.0f} events/s -> "
            f"{100 * http_rate / in_rate:.0f} %; reads at {args.read_rate:g}/s meanwhile: p50 "
            f"{http['read_p50_ms']:.1f} ms, p99 {http['read_p99_ms']:.1f} ms; exactly once: "
            f"{http['check']['exactly_once']}",
            flush=True,
        )
        results["http"] = http
    print(f"after: {load_average()}", flush=True)
    (args.work / "results.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
    else:
        main()
