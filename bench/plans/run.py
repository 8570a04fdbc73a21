"""Benchmark: the status of 10,000 success plans as of one date, at the M size.

Setup (once, under ``bench/data/plans-M/``, git-ignored): a copy of the M store
(``/work/coord/data/M/kizuna.sqlite3`` or ``--m-store``: 100k accounts, never
changed in place) upgraded to the newest migration; metric values for every
account on nine weekly dates written in the metrics store's own layout (seeded
random walks: the bench measures the plans, not the metrics engine); 10,000
plans (7,000 enterprise high-touch, 3,000 mid-market: 50,000 KPIs) and a
check-in for each manual KPI.

Measured: :func:`kizuna.plans.evaluate_plans` for every active plan as of one
date (KPI values from the latest metric date on or before it, check-ins,
overdue milestones, plan status), and :func:`record_plan_status` (the same plus
storing a row per plan). Compared in the same run with the naive way: one plan
at a time (its own queries and its own metric reads), timed on a sample and
scaled to 10,000.

    python bench/plans/run.py [--plans 10000] [--naive-sample 200]
"""

from __future__ import annotations

import argparse
import os
import platform as py_platform
import shutil
import sys
import time
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from kizuna.clock import FixedClock
from kizuna.metrics.store import stored_dates, write_values
from kizuna.plans import evaluate_plans, record_plan_status
from kizuna.plans.service import create_plans
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.db import Store
from kizuna.store.models import Account
from kizuna.store.plans_models import Plan, PlanCheckin, PlanKpi

ROOT = Path(__file__).resolve().parents[1] / "data" / "plans-M"
AS_OF = date(2025, 6, 30)
START = AS_OF - timedelta(days=56)
METRICS = [
    "active_users_28d",
    "reports_created_28d",
    "seat_utilisation_28d",
    "logins_28d",
    "dashboards_viewed_28d",
]


def machine() -> str:
    cpu = "unknown CPU"
    ram = "unknown RAM"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GB RAM"
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {ram}, {cpu}, Python {py_platform.python_version()}"


def setup(m_store: Path, n_plans: int) -> Platform:
    ROOT.mkdir(parents=True, exist_ok=True)
    db = ROOT / "kizuna.sqlite3"
    if not db.exists():
        print(f"copying {m_store} ...", flush=True)
        shutil.copyfile(m_store, ROOT / "kizuna.sqlite3.part")
        os.replace(ROOT / "kizuna.sqlite3.part", db)
    store = Store(f"sqlite:///{db}")
    t0 = time.perf_counter()
    store.upgrade()
    print(f"store at migration {store.current_revision()} ({time.perf_counter() - t0:.1f} s)")
    settings = Settings(home=ROOT / "home", database_url=store.url)
    platform = Platform(settings, store, FixedClock(_noon(AS_OF)))
    with store.session() as session:
        accounts = session.execute(
            sa.select(Account.id, Account.segment).order_by(Account.id)
        ).all()
    ids = [a for a, _ in accounts]
    if not stored_dates(settings.home):
        rng = np.random.default_rng(14)
        level = rng.lognormal(3.0, 1.0, size=(len(ids), len(METRICS)))
        drift = rng.normal(0.0, 0.04, size=(len(ids), len(METRICS)))
        days = [START + timedelta(days=7 * k) for k in range(9)]
        for k, day in enumerate(days):
            values = level * np.exp(drift * k + rng.normal(0, 0.05, size=level.shape))
            values[:, 2] = np.clip(values[:, 2] / 100.0, 0, 1)  # a utilisation ratio
            table = {"as_of": pa.array([day] * len(ids), pa.date32()), "account_id": ids}
            for j, name in enumerate(METRICS):
                table[name] = pa.array(np.round(values[:, j], 1))
            write_values(settings.home, pa.table(table), METRICS)
        print(f"metric values: {len(ids):,} accounts × {len(METRICS)} metrics × {len(days)} dates")
    with store.session() as session:
        have = session.scalar(sa.select(sa.func.count()).select_from(Plan)) or 0
    if have < n_plans:
        enterprise = [a for a, s in accounts if s == "enterprise"]
        others = [a for a, s in accounts if s != "enterprise"]
        n_ent = min(len(enterprise), n_plans * 7 // 10)
        chosen_ent = enterprise[:n_ent]
        chosen_mid = others[: n_plans - n_ent]
        t0 = time.perf_counter()
        create_plans(platform, chosen_ent, "enterprise_high_touch", start=START)
        create_plans(platform, chosen_mid, "mid_market", start=START, language="ja")
        with store.session() as session:
            manual = session.scalars(sa.select(PlanKpi.id).where(PlanKpi.metric.is_(None))).all()
            session.execute(
                sa.insert(PlanCheckin),
                [
                    {
                        "kpi_id": k,
                        "value": float(k % 10),
                        "checkin_date": AS_OF - timedelta(days=k % 30),
                        "checked_by": "bench",
                    }
                    for k in manual
                ],
            )
        print(f"created {n_plans:,} plans in {time.perf_counter() - t0:.1f} s")
    return platform


def _noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--m-store", type=Path, default=Path("/work/coord/data/M/kizuna.sqlite3"))
    parser.add_argument("--plans", type=int, default=10_000)
    parser.add_argument("--naive-sample", type=int, default=200)
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)
    platform = setup(args.m_store, args.plans)
    with platform.store.session() as session:
        plans = session.scalar(sa.select(sa.func.count()).select_from(Plan))
        kpis = session.scalar(sa.select(sa.func.count()).select_from(PlanKpi))
        accounts = session.scalar(sa.select(sa.func.count()).select_from(Account))
    print(f"machine: {machine()}")
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    print(f"{accounts:,} accounts, {plans:,} plans, {kpis:,} KPIs and KGIs; as of {AS_OF}")

    runs, cpu = [], []
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        results = evaluate_plans(platform, AS_OF)
        runs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    statuses: dict[str, int] = {}
    for r in results.values():
        statuses[r.status.value] = statuses.get(r.status.value, 0) + 1
    print(
        f"evaluate_plans, {len(results):,} plans: best {min(runs):.2f} s of {len(runs)} runs "
        f"({', '.join(f'{t:.2f}' for t in runs)}), CPU {min(cpu):.2f} s; statuses {statuses}"
    )

    t0 = time.perf_counter()
    # close_achieved=False keeps the run repeatable (achieved plans stay active, none proposed)
    run = record_plan_status(platform, AS_OF, close_achieved=False)
    recorded = time.perf_counter() - t0
    print(
        f"record_plan_status (evaluate + store {run.plans:,} rows): {recorded:.2f} s; "
        f"{len(run.achieved)} with their KGI achieved"
    )

    sample = sorted(results)[: args.naive_sample]
    t0 = time.perf_counter()
    for plan_id in sample:
        evaluate_plans(platform, AS_OF, plan_ids=[plan_id])
    naive = time.perf_counter() - t0
    per = naive / len(sample)
    print(
        f"naive, one plan at a time: {len(sample)} plans in {naive:.2f} s "
        f"= {per * 1000:.1f} ms/plan "
        f"→ {per * len(results):.0f} s for {len(results):,} plans "
        f"({per * len(results) / min(runs):.0f}× the batched way)"
    )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    platform.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
