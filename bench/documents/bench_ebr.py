"""Benchmark: 100 EBR PDFs for 100 accounts with plans, against the naive way.

    python bench/documents/bench_ebr.py [--accounts 100] [--dates 26]

Builds a fresh home (SQLite) with N accounts, each with a success plan (a
metric-bound KPI, two manual ones), tickets, a contract and weekly metric
values; then renders every account's EBR as a PDF:

* batch: ``kizuna report ebr --all`` (metric values of a slice of accounts read
  in one pass and handed to each document; slices rendered in one process per
  core);
* naive: one single-account run per document, each reading the metric store for
  its own account (as ``kizuna report ebr ACCOUNT`` run N times in a shell
  loop would, minus the process start).

Prints the figures and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform as host
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.documents.seed import plan_data

from kizuna.clock import FixedClock
from kizuna.documents import render
from kizuna.documents.batch import batch_accounts, render_ebrs
from kizuna.metrics.store import write_values
from kizuna.plans import import_plan_data
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.db import Store
from kizuna.store.models import Account, TeamMember

AS_OF = date(2025, 6, 30)
METRICS = ["logins_28d", "active_users_28d", "feature_breadth_28d", "seat_utilisation_28d"]


def build_home(root: Path, accounts: int, dates: int) -> Platform:
    from datetime import UTC, datetime

    store = Store(f"sqlite:///{root / 'kizuna.sqlite3'}")
    store.upgrade()
    platform = Platform(
        settings=Settings(home=root, database_url=store.url),
        store=store,
        clock=FixedClock(datetime(2025, 6, 30, 12, tzinfo=UTC)),
    )
    ids = [f"acct-{i:04d}" for i in range(accounts)]
    with store.session() as s:
        s.add(TeamMember(id="carl", name="Carl CSM", email="carl@example.com"))
        s.flush()
        for i, aid in enumerate(ids):
            s.add(
                Account(id=aid, name=f"Customer {i:04d} KK", segment="enterprise", owner_id="carl")
            )
    for i, aid in enumerate(ids):
        data = plan_data("ja" if i % 2 else "en")
        data.update(id=f"plan-{aid}", account_id=aid)
        data["meetings"][0]["id"] = f"ms-{aid}"
        import_plan_data(platform, data)
    days = [AS_OF - timedelta(days=7 * k) for k in range(dates)][::-1]
    rows = [(d, a, k) for k, d in enumerate(days) for a in ids]
    wide = pa.table(
        {
            "as_of": pa.array([r[0] for r in rows], pa.date32()),
            "account_id": [r[1] for r in rows],
            **{
                m: pa.array([float(10 + r[2] * (j + 1)) for r in rows], pa.float64())
                for j, m in enumerate(METRICS)
            },
        }
    )
    write_values(root, wide, METRICS)
    return platform


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--dates", type=int, default=26)
    parser.add_argument("--jobs", type=int, default=0, help="batch processes (0: one per core)")
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} cores, {host.processor() or host.machine()}, "
        f"Python {host.python_version()}; load average {os.getloadavg()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        platform = build_home(root / "home", args.accounts, args.dates)
        print(
            f"setup: {args.accounts} accounts with plans, {args.dates} metric dates "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        render(platform, "ebr", "acct-0000", fmt="pdf", as_of=AS_OF, keep=False)  # warm-up
        render(platform, "ebr", "acct-0001", fmt="pdf", as_of=AS_OF, keep=False)

        t0 = time.perf_counter()
        c0 = time.process_time()
        k0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        accounts = batch_accounts(platform, AS_OF)
        result = render_ebrs(platform, AS_OF, root / "batch", accounts=accounts, jobs=args.jobs)
        batch = time.perf_counter() - t0
        k1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        batch_cpu = (
            (time.process_time() - c0) + (k1.ru_utime + k1.ru_stime) - (k0.ru_utime + k0.ru_stime)
        )
        assert not result.failed and len(result.written) == args.accounts, result.failed
        size = sum(p.stat().st_size for p in result.written)

        t0 = time.perf_counter()
        c0 = time.process_time()
        for aid in accounts:
            doc = render(platform, "ebr", aid, fmt="pdf", as_of=AS_OF, keep=False)
            (root / "naive").mkdir(exist_ok=True)
            (root / "naive" / doc.filename).write_bytes(doc.content)
        naive = time.perf_counter() - t0
        naive_cpu = time.process_time() - c0
    print(
        f"batch (--jobs {args.jobs or os.cpu_count()}): {len(result.written)} EBR PDFs "
        f"in {batch:.1f} s "
        f"({batch / len(result.written):.2f} s each, {size / 1e6:.1f} MB); "
        f"CPU {batch_cpu:.1f} s ({batch_cpu / len(result.written):.2f} s per document)"
    )
    print(
        f"naive (one single-account run per document): {naive:.1f} s "
        f"({naive / len(accounts):.2f} s each; CPU {naive_cpu:.1f} s) "
        f"-> batch is {naive / batch:.2f}x"
    )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
