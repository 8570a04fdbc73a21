"""API load benchmark: account-detail reads and Segment-style event collection.

    python bench/api/run.py [--accounts 100000] [--reads 3000] [--events 200000]

Loads N synthetic accounts straight into a fresh SQLite store, starts
``kizuna serve --workers 2`` in a second process on 127.0.0.1, then:

1. account-detail reads (GET /accounts/{id}, bearer token): first one at a
   time (the service time), then at a fixed open-loop rate of 200 requests/s:
   p50 and p99 latency (target p99 < 50 ms);
2. event collection in batches of 500 (POST /v1/batch, 4 concurrent senders):
   events/s (target >= 50k/s), against the naive way — one event per request
   (POST /v1/track) — and against the lake's own ceiling (``ingest_records``
   called in-process on the same batches, no HTTP) in the same run;
3. checks that every accepted event is in the lake exactly once.

``--server plain`` runs plain ``uvicorn --workers N`` instead of ``kizuna serve``
(which sets TCP_NODELAY on every connection, see ``kizuna.api.serving``), to
show what that costs. Loopback only; bounded by the counts given. Prints the
machine, the load average before and after, and the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import platform as py_platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import sqlalchemy as sa

from kizuna.auth.sources import add_source
from kizuna.auth.tokens import create_token
from kizuna.auth.users import add_user
from kizuna.lake.ingest import ingest_records
from kizuna.lake.layout import LakeLayout
from kizuna.lake.reader import read_events
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.models import Account, TeamMember, TeamRole


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
    version = py_platform.python_version()
    return f"{os.cpu_count()} cores, {mem_kb / 1024**2:.1f} GB RAM, {cpu}, Python {version}"


def load(home: Path, accounts: int) -> tuple[Platform, str, str, list[str]]:
    platform = Platform.from_settings(Settings(home=home))
    platform.store.upgrade()
    ids = [f"acc-{i:06d}" for i in range(accounts)]
    owners = [f"csm-{i:03d}" for i in range(50)]
    t0 = time.perf_counter()
    now = datetime.now(UTC)
    with platform.store.engine.begin() as conn:
        conn.execute(
            sa.insert(TeamMember),
            [
                {
                    "id": o,
                    "name": o,
                    "email": f"{o}@bench",
                    "role": TeamRole.CSM,
                    "active": True,
                    "created_at": now,
                    "updated_at": now,
                }
                for o in owners
            ],
        )
        for start in range(0, accounts, 20_000):
            conn.execute(
                sa.insert(Account),
                [
                    {
                        "id": a,
                        "name": f"Account {a}",
                        "segment": random.choice(["smb", "mid", "ent"]),
                        "owner_id": owners[i % len(owners)],
                        "attributes": {"tier": i % 3},
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i, a in enumerate(ids[start : start + 20_000], start)
                ],
            )
    print(f"loaded {accounts:,} accounts in {time.perf_counter() - t0:.1f} s")
    add_user(
        platform, member_id="bench-admin", name="Bench", email="admin@bench", role=TeamRole.ADMIN
    )
    token = create_token(platform, "bench-admin", "bench").token
    write_key = add_source(platform, "bench").write_key
    return platform, token, write_key, ids


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def lake_ceiling(ids: list[str], n: int) -> float:
    """Events/s of ``ingest_records`` itself on batches of 500 (no HTTP), in a fresh lake."""
    home = Path(tempfile.mkdtemp(prefix="kizuna-bench-lake-"))
    try:
        platform = Platform.from_settings(Settings(home=home))
        platform.store.upgrade()
        events = make_events(ids, n, "c")
        ingest_records(platform, events[:500], source="bench")  # warm-up: index, caches
        t0 = time.perf_counter()
        for i in range(500, n, 500):
            ingest_records(platform, events[i : i + 500], source="bench")
        return (n - 500) / (time.perf_counter() - t0)
    finally:
        shutil.rmtree(home, ignore_errors=True)


async def sequential_reads(base: str, token: str, ids: list[str], count: int) -> list[float]:
    """Closed loop, one request at a time: what one read costs the server."""
    rng = random.Random(5)
    latencies = []
    async with httpx.AsyncClient(
        base_url=base, timeout=10, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        for i in range(count + 20):
            start = time.perf_counter()
            r = await client.get(f"/accounts/{rng.choice(ids)}")
            if i >= 20:
                latencies.append(time.perf_counter() - start)
            assert r.status_code == 200, r.text
    return latencies


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def reads(base: str, token: str, ids: list[str], count: int, rate: float) -> list[float]:
    """Open loop: request i is sent at t0 + i/rate whatever the answers do."""
    latencies: list[float] = []
    rng = random.Random(7)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(
        base_url=base, limits=limits, timeout=10, headers={"Authorization": f"Bearer {token}"}
    ) as client:

        async def one(account_id: str) -> None:
            start = time.perf_counter()
            r = await client.get(f"/accounts/{account_id}")
            latencies.append(time.perf_counter() - start)
            assert r.status_code == 200, r.text

        for _ in range(50):  # warm-up: connections, caches
            await one(rng.choice(ids))
        latencies.clear()
        t0 = time.perf_counter()
        tasks = []
        for i in range(count):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(rng.choice(ids))))
        await asyncio.gather(*tasks)
    return latencies


def make_events(ids: list[str], n: int, prefix: str) -> list[dict[str, object]]:
    rng = random.Random(11)
    names = ["login", "report_viewed", "report_exported", "dashboard_shared", "api_call"]
    return [
        {
            "type": "track",
            "messageId": f"{prefix}-{i}",
            "userId": f"u{rng.randrange(10**6)}",
            "event": rng.choice(names),  # live traffic: one day
            "timestamp": f"2025-06-30T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z",
            "properties": {"n": i % 100},
            "context": {"groupId": rng.choice(ids)},
        }
        for i in range(n)
    ]


async def send(
    base: str, write_key: str, bodies: list[tuple[str, dict]], senders: int
) -> tuple[float, int]:
    auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    accepted = 0
    # Bodies are encoded before the clock starts: the sender's JSON encoding is the
    # sending system's cost, not the server's (and it shares the 2 cores here).
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for path, body in bodies:
        queue.put_nowait((path, orjson.dumps(body)))
    headers = {"Authorization": auth, "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as client:

        async def worker() -> None:
            nonlocal accepted
            while not queue.empty():
                path, content = queue.get_nowait()
                r = await client.post(path, content=content)
                assert r.status_code == 200, r.text
                accepted += r.json()["accepted"]

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(senders)))
        return time.perf_counter() - t0, accepted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=3_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--naive-events", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--server", choices=["kizuna", "plain"], default="kizuna")
    args = parser.parse_args()
    print(machine())
    print(f"before: {load_average()}")
    home = Path(tempfile.mkdtemp(prefix="kizuna-bench-api-"))
    server = None
    try:
        platform, token, write_key, ids = load(home, args.accounts)
        ceiling = lake_ceiling(ids, min(args.events, 20_000))
        print(f"lake ceiling: ingest_records in-process, batches of 500: {ceiling:,.0f} events/s")
        port = free_port()
        env = {**os.environ, "KIZUNA_HOME": str(home)}
        log_file = (home.parent / "kizuna-bench-api-server.log").open("w")
        if args.server == "kizuna":
            command = [str(Path(sys.executable).with_name("kizuna")), "serve"]
        else:
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                "kizuna.api.app:app_from_environment",
                "--factory",
            ]
        server = subprocess.Popen(
            [
                *command,
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start")
            time.sleep(0.3)

        seq = asyncio.run(sequential_reads(base, token, ids, 300))
        print(
            f"reads one at a time: 300 GET /accounts/{{id}}: p50 {percentile(seq, 0.5) * 1000:.1f} "
            f"ms, p99 {percentile(seq, 0.99) * 1000:.1f} ms"
        )
        lat = asyncio.run(reads(base, token, ids, args.reads, args.rate))
        p50, p99 = percentile(lat, 0.5) * 1000, percentile(lat, 0.99) * 1000
        print(
            f"reads: {len(lat):,} GET /accounts/{{id}} at {args.rate:.0f}/s: "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(lat) * 1000:.1f} ms "
            f"(target p99 < 50 ms: {'met' if p99 < 50 else 'MISSED'})"
        )

        events = make_events(ids, args.events, "b")
        batches = [
            ("/v1/batch", {"batch": events[i : i + 500]}) for i in range(0, len(events), 500)
        ]
        seconds, accepted = asyncio.run(send(base, write_key, batches, senders=4))
        rate = accepted / seconds
        print(
            f"collection: {accepted:,} events in batches of 500 in {seconds:.2f} s: "
            f"{rate:,.0f} events/s (target >= 50k/s: {'met' if rate >= 50_000 else 'MISSED'}; "
            f"{rate / ceiling:.0%} of the lake ceiling)"
        )

        naive = make_events(ids, args.naive_events, "n")
        singles = [("/v1/track", e) for e in naive]
        n_seconds, n_accepted = asyncio.run(send(base, write_key, singles, senders=4))
        n_rate = n_accepted / n_seconds
        print(
            f"naive: {n_accepted:,} events one per request in {n_seconds:.2f} s: "
            f"{n_rate:,.0f} events/s ({rate / n_rate:.0f}x slower than batches)"
        )

        table = read_events(LakeLayout(platform.settings.lake_dir))
        in_lake = table.column("message_id").to_pylist()
        expected = {e["messageId"] for e in events} | {e["messageId"] for e in naive}
        ok = len(in_lake) == len(set(in_lake)) == accepted + n_accepted and set(in_lake) == expected
        print(
            f"lake check: {len(in_lake):,} events in the lake, {accepted + n_accepted:,} accepted, "
            f"every accepted event present exactly once: {ok}"
        )
        print(f"after: {load_average()}")
        if not ok:
            raise SystemExit(1)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
