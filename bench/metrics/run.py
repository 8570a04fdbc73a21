"""Benchmark: the default metric set as of one date and at 52 weekly dates.

    python bench/metrics/run.py --size S      # 10k accounts, 10M events
    python bench/metrics/run.py --size M      # 100k accounts, 100M events

Builds a synthetic lake (or reuses one in --work), then times Kizuna's
compute_metrics (Ibis on DuckDB) and a straightforward pandas implementation of
the same definitions, checks both give the same numbers, and prints wall time,
events/s and peak memory (RSS high-water mark of a child process per run).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform as pyplatform
import resource
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

SIZES = {"XS": (1_000, 1_000_000), "S": (10_000, 10_000_000), "M": (100_000, 100_000_000)}
AS_OF = date(2025, 6, 30)
DAYS = 365
EVENTS = [
    "login",
    "page_view",
    "report_created",
    "dashboard_viewed",
    "export_run",
    "integration_synced",
    "alert_configured",
    "forecast_run",
    "user_invited",
    "api_call",
    "onboarding_kickoff",
    "onboarding_data_connected",
    "onboarding_first_value",
]
WEIGHTS = np.array([20, 30, 6, 12, 4, 5, 2, 2, 1, 15, 0.3, 0.3, 0.3])


def build(work: Path, n_accounts: int, n_events: int) -> None:
    from kizuna.lake.layout import EVENT_SCHEMA, LakeLayout, atomic_write_parquet
    from kizuna.store.db import Store
    from kizuna.store.models import Account, ContractLine

    store = Store(f"sqlite:///{work / 'kizuna.sqlite3'}")
    store.upgrade()
    rng = np.random.default_rng(7)
    with store.engine.begin() as conn:
        conn.execute(
            sa.insert(Account), [{"id": f"acct{i:06d}", "name": f"A{i}"} for i in range(n_accounts)]
        )
        starts = rng.integers(0, 700, n_accounts)
        conn.execute(
            sa.insert(ContractLine),
            [
                {
                    "id": f"line{i:06d}",
                    "account_id": f"acct{i:06d}",
                    "product": "core",
                    "arr": Decimal(1000),
                    "currency": "USD",
                    "quantity": int(rng.integers(5, 60)),
                    "start_date": date(2024, 1, 1) + timedelta(days=int(s)),
                    "end_date": date(2024, 1, 1) + timedelta(days=int(s) + 364),
                    "status": "active",
                }
                for i, s in enumerate(starts)
            ],
        )
    layout = LakeLayout(work / "lake")
    first = AS_OF - timedelta(days=DAYS - 1)
    per_day = n_events // DAYS
    activity = rng.gamma(1.0, 1.0, n_accounts)
    activity /= activity.sum()
    probs = WEIGHTS / WEIGHTS.sum()
    counter = 0
    for d in range(DAYS):
        day = first + timedelta(days=d)
        n = per_day if d < DAYS - 1 else n_events - per_day * (DAYS - 1)
        acct = rng.choice(n_accounts, n, p=activity)
        user = rng.integers(0, 25, n)
        ev = rng.choice(len(EVENTS), n, p=probs)
        secs = rng.integers(0, 86400, n)
        base = np.datetime64(day.isoformat(), "us").astype(np.int64)
        ts = base + secs.astype(np.int64) * 1_000_000
        ids = pa.array([f"m{counter + i:010d}" for i in range(n)])
        counter += n
        props = np.full(n, None, dtype=object)
        login_or_view = np.isin(ev, [0, 1])
        props[login_or_view] = [
            f'{{"duration_s":{v}}}' for v in rng.integers(1, 600, login_or_view.sum())
        ]
        export = ev == 4
        props[export] = [f'{{"rows":{v}}}' for v in rng.integers(1, 5000, export.sum())]
        table = pa.Table.from_arrays(
            [
                ids,
                pa.array(np.char.add("acct", np.char.zfill(acct.astype(str), 6))),
                pa.array(np.char.add("u", user.astype(str))),
                pa.array(np.array(EVENTS)[ev]),
                pa.array(ts, pa.timestamp("us", tz="UTC")),
                pa.array(props, pa.string()),
            ],
            schema=EVENT_SCHEMA,
        )
        atomic_write_parquet(table, layout.new_part_path(day, writer="bench"))
    (work / "built.json").write_text(json.dumps({"accounts": n_accounts, "events": n_events}))


def _platform(work: Path):  # type: ignore[no-untyped-def]
    from kizuna.platform import Platform
    from kizuna.settings import Settings

    return Platform.from_settings(
        Settings(home=work, database_url=f"sqlite:///{work / 'kizuna.sqlite3'}")
    )


def run_kizuna(work: Path, dates: list[date], queue: mp.Queue) -> None:
    from kizuna.metrics import compute_metrics, read_metric_values

    platform = _platform(work)
    started = time.perf_counter()
    compute_metrics(platform, dates)
    seconds = time.perf_counter() - started
    values = read_metric_values(platform, as_of=dates).to_pandas()
    values.to_parquet(work / f"kizuna-{len(dates)}.parquet")
    queue.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def run_pandas(work: Path, dates: list[date], queue: mp.Queue) -> None:
    """The naive way: load events into pandas, then per date and per metric filter + group."""
    from kizuna.metrics import load_definitions

    metrics = load_definitions(None)
    started = time.perf_counter()
    frame = pd.read_parquet(
        work / "lake" / "events",
        columns=["account_id", "user_id", "event", "timestamp", "properties"],
    )
    frame["day"] = (frame["timestamp"].astype("int64") // 86_400_000_000).astype("int32")
    for prop in ("duration_s", "rows"):
        frame[prop] = pd.to_numeric(frame["properties"].str.extract(f'"{prop}":(-?[0-9.]+)')[0])
    accounts = pd.Index(sorted(frame["account_id"].unique()), name="account_id")
    with sa.create_engine(f"sqlite:///{work / 'kizuna.sqlite3'}").connect() as conn:
        lines = pd.read_sql(
            "select account_id, quantity, start_date, end_date, status from contract_lines", conn
        )
        all_accounts = pd.read_sql("select id as account_id from accounts", conn)["account_id"]
    accounts = pd.Index(sorted(all_accounts), name="account_id")
    epoch = date(1970, 1, 1)
    lines["start"] = (pd.to_datetime(lines["start_date"]) - pd.Timestamp(epoch)).dt.days
    lines["end"] = (pd.to_datetime(lines["end_date"]) - pd.Timestamp(epoch)).dt.days
    results = []
    needed = sorted({(d - epoch).days for d in dates} | {(d - epoch).days - 28 for d in dates})
    by_day: dict[int, pd.DataFrame] = {}
    for d in needed:
        out = pd.DataFrame(index=accounts)
        for m in metrics.metrics:
            if m.kind in ("ratio", "pct_change", "tenure"):
                continue
            w = frame[(frame.day > d - m.window_days) & (frame.day <= d)]
            if m.filter.events:
                w = w[w.event.isin(m.filter.events)]
            g = w.groupby("account_id")
            if m.kind == "count":
                out[m.name] = g.size().reindex(accounts, fill_value=0).astype(float)
            elif m.kind == "sum":
                out[m.name] = g[m.property].sum().reindex(accounts, fill_value=0).astype(float)
            elif m.kind == "distinct_users":
                out[m.name] = g["user_id"].nunique().reindex(accounts, fill_value=0).astype(float)
            elif m.kind == "active_days":
                out[m.name] = g["day"].nunique().reindex(accounts, fill_value=0).astype(float)
            elif m.kind == "per_user":
                n = g.size().reindex(accounts, fill_value=0)
                u = g["user_id"].nunique().reindex(accounts, fill_value=0)
                out[m.name] = (n / u.replace(0, np.nan)).astype(float)
            elif m.kind == "seat_share":
                live = lines[(lines.start <= d) & (lines.end >= d) & (lines.status != "cancelled")]
                seats = live.groupby("account_id")["quantity"].sum().reindex(accounts)
                u = g["user_id"].nunique().reindex(accounts, fill_value=0)
                out[m.name] = u / seats.replace(0, np.nan)
            elif m.kind == "feature_breadth":
                f = w[w.event.isin(m.features)].groupby("account_id")["event"].nunique()
                out[m.name] = f.reindex(accounts, fill_value=0).astype(float)
            elif m.kind == "days_since_last":
                out[m.name] = (d - g["day"].max()).reindex(accounts).astype(float)
        started_lines = lines[lines.start <= d]
        out["tenure_days"] = (
            (d - started_lines.groupby("account_id")["start"].min()).reindex(accounts).astype(float)
        )
        out["logins_per_active_day_28d"] = out["logins_28d"] / out["active_days_28d"].replace(
            0, np.nan
        )
        by_day[d] = out
    for day in dates:
        d = (day - epoch).days
        out = by_day[d].copy()
        prev = by_day[d - 28]
        out["events_28d_change"] = (
            (out["events_28d"] - prev["events_28d"]) / prev["events_28d"].replace(0, np.nan) * 100
        )
        out["active_users_28d_change"] = (
            (out["active_users_28d"] - prev["active_users_28d"])
            / prev["active_users_28d"].replace(0, np.nan)
            * 100
        )
        long = out.reset_index().melt(id_vars="account_id", var_name="metric", value_name="value")
        long["as_of"] = day
        results.append(long)
    seconds = time.perf_counter() - started
    pd.concat(results).to_parquet(work / f"pandas-{len(dates)}.parquet")
    queue.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def measure(target, work: Path, dates: list[date]) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(work, dates, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def same_numbers(work: Path, n: int) -> tuple[bool, int]:
    a = pd.read_parquet(work / f"kizuna-{n}.parquet")
    b = pd.read_parquet(work / f"pandas-{n}.parquet")
    a["as_of"] = pd.to_datetime(a["as_of"]).dt.date
    b["as_of"] = pd.to_datetime(b["as_of"]).dt.date
    merged = a.merge(
        b, on=["account_id", "as_of", "metric"], how="outer", suffixes=("_k", "_p"), indicator=True
    )
    both = merged["_merge"] == "both"
    close = np.isclose(merged["value_k"], merged["value_p"], rtol=1e-9, equal_nan=True)
    bad = int((~(both & close)).sum())
    return bad == 0, bad


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        ram = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    except OSError:
        ram = 0.0
    return f"{os.cpu_count()} cores, {ram:.0f} GB RAM, {cpu}, Python {pyplatform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", choices=sorted(SIZES), default="S")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--skip-pandas-weekly", action="store_true")
    args = parser.parse_args()
    n_accounts, n_events = SIZES[args.size]
    work = args.work or Path(f"/tmp/kizuna-bench-metrics-{args.size}")
    if not (work / "built.json").exists():
        work.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        build(work, n_accounts, n_events)
        print(
            f"built lake: {n_events:,} events, {n_accounts:,} accounts "
            f"in {time.perf_counter() - t:.1f} s"
        )
    print(f"machine: {machine()}")
    print(f"size {args.size}: {n_accounts:,} accounts, {n_events:,} events over {DAYS} days")
    weekly = [AS_OF - timedelta(days=7 * i) for i in range(51, -1, -1)]
    for label, dates in (("one date", [AS_OF]), ("52 weekly dates", weekly)):
        k_s, k_mb = measure(run_kizuna, work, dates)
        line = (
            f"{label}: kizuna/duckdb {k_s:.2f} s, {n_events / k_s / 1e6:.1f} M events/s, "
            f"peak {k_mb:.0f} MB"
        )
        if label == "52 weekly dates" and args.skip_pandas_weekly:
            print(line + "; pandas skipped")
            continue
        p_s, p_mb = measure(run_pandas, work, dates)
        ok, bad = same_numbers(work, len(dates))
        print(
            f"{line} | pandas {p_s:.2f} s, peak {p_mb:.0f} MB | speed-up {p_s / k_s:.1f}x | "
            f"same numbers: {'yes' if ok else f'NO ({bad} differ)'}"
        )


if __name__ == "__main__":
    main()
