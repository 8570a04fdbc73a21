"""Benchmark: the default metric set as of one date and at 52 weekly dates, on simulator data.

    kizuna sim --preset S --out bench/data/S && python bench/metrics/prepare.py bench/data/S
    python bench/metrics/run.py --data bench/data/S [--rebuild] [--incremental]
    python bench/metrics/run.py --data bench/data/M --incremental

Times Kizuna's ``compute_metrics`` (Ibis on DuckDB, over the cached daily
roll-up and its prefix table) and a straightforward pandas implementation of
the same definitions over the raw events, each in a fresh process (peak RSS is
the process's high-water mark), checks both give the same numbers, and prints
wall time, CPU time, events/s and peak memory. ``--rebuild`` first times
building the roll-up cache from scratch; ``--incremental`` times the refresh a
new day of events causes (the last horizon + 2 days rebuilt, the prefix table
rolled forward from there).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform as pyplatform
import resource
import shutil
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import sqlalchemy as sa

AS_OF = date(2025, 6, 30)
EPOCH = date(1970, 1, 1)


def _platform(home: Path) -> Any:
    from kizuna.platform import Platform
    from kizuna.settings import Settings

    return Platform.from_settings(
        Settings(home=home, database_url=f"sqlite:///{home / 'kizuna.sqlite3'}")
    )


def _usage() -> tuple[float, float]:
    """(CPU seconds of this process, all threads; peak RSS in MB)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, r.ru_maxrss / 1024


def run_refresh(home: Path, invalidate_days: int, queue: mp.Queue) -> None:
    from kizuna.metrics.service import refresh_rollup

    platform = _platform(home)
    if invalidate_days:
        # what a new day of events does: the last days' roll-up is stale
        rollup = home / "lake" / "_rollup"
        for manifest in [*rollup.glob("*/manifest.json"), *rollup.glob("*/prefix-*/manifest.json")]:
            data = json.loads(manifest.read_text())
            for day in sorted(data, key=int)[-invalidate_days:]:
                data.pop(day)
            manifest.write_text(json.dumps(data))
    started = time.perf_counter()
    days = refresh_rollup(platform)
    seconds = time.perf_counter() - started
    queue.put((seconds, *_usage(), days))


def run_kizuna(home: Path, dates: list[date], queue: mp.Queue) -> None:
    from kizuna.metrics import compute_metrics, read_metric_values

    platform = _platform(home)
    started = time.perf_counter()
    run = compute_metrics(platform, dates)
    seconds = time.perf_counter() - started
    cpu, rss = _usage()
    values = read_metric_values(platform, as_of=dates).to_pandas()
    values.to_parquet(home / "bench" / f"kizuna-{len(dates)}.parquet")
    queue.put((seconds, cpu, rss, run.rollup_days_rebuilt))


def run_pandas(home: Path, dates: list[date], queue: mp.Queue) -> None:
    """The naive way: load the events into pandas, then per date and per metric filter + group."""
    from kizuna.metrics import load_definitions

    metrics = load_definitions(None)
    started = time.perf_counter()
    longest = max(m.window_days or 0 for m in metrics.metrics)
    first = min(dates) - timedelta(days=28 + longest + 1)
    partitioning = ds.partitioning(pa.schema([("event_date", pa.string())]), flavor="hive")
    events = ds.dataset(home / "lake" / "events", format="parquet", partitioning=partitioning)
    table = events.to_table(
        columns=["account_id", "user_id", "event", "timestamp", "properties"],
        filter=ds.field("event_date") >= first.isoformat(),
    )
    # categoricals keep 100M events in a few GB; properties are a few thousand distinct texts
    frame = table.to_pandas(strings_to_categorical=True)
    del table
    frame["day"] = (frame["timestamp"].astype("int64") // 86_400_000_000).astype("int32")
    frame = frame.drop(columns="timestamp")
    properties = sorted({m.property for m in metrics.metrics if m.property})
    texts = frame["properties"].cat.categories.to_series()
    for prop in properties:
        numbers = pd.to_numeric(texts.str.extract(f'"{prop}": *(-?[0-9.]+)')[0]).to_numpy()
        codes = frame["properties"].cat.codes.to_numpy()
        frame[prop] = np.where(codes >= 0, numbers[codes], np.nan)
    frame = frame.drop(columns="properties")
    with sa.create_engine(f"sqlite:///{home / 'kizuna.sqlite3'}").connect() as conn:
        lines = pd.read_sql(
            "select account_id, quantity, start_date, end_date, status from contract_lines", conn
        )
        all_accounts = pd.read_sql("select id as account_id from accounts", conn)["account_id"]
    accounts = pd.Index(sorted(all_accounts), name="account_id")
    lines["start"] = (pd.to_datetime(lines["start_date"]) - pd.Timestamp(EPOCH)).dt.days
    lines["end"] = (pd.to_datetime(lines["end_date"]) - pd.Timestamp(EPOCH)).dt.days
    needed = sorted({(d - EPOCH).days for d in dates} | {(d - EPOCH).days - 28 for d in dates})
    by_day: dict[int, pd.DataFrame] = {}
    for d in needed:
        out = pd.DataFrame(index=accounts)
        recent = frame[(frame.day > d - longest) & (frame.day <= d)]
        for m in metrics.metrics:
            if m.kind in ("ratio", "pct_change", "tenure"):
                continue
            assert m.window_days is not None
            w = recent[recent.day > d - m.window_days]
            if m.filter.events:
                w = w[w.event.isin(m.filter.events)]
            g = w.groupby("account_id", observed=True)
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
                f = w[w.event.isin(m.features)].groupby("account_id", observed=True)["event"]
                out[m.name] = f.nunique().reindex(accounts, fill_value=0).astype(float)
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
    results = []
    for day in dates:
        d = (day - EPOCH).days
        out = by_day[d].copy()
        prev = by_day[d - 28]
        for name, base in (
            ("events_28d_change", "events_28d"),
            ("active_users_28d_change", "active_users_28d"),
        ):
            out[name] = (out[base] - prev[base]) / prev[base].replace(0, np.nan) * 100
        long = out.reset_index().melt(id_vars="account_id", var_name="metric", value_name="value")
        long["as_of"] = day
        results.append(long)
    seconds = time.perf_counter() - started
    pd.concat(results).to_parquet(home / "bench" / f"pandas-{len(dates)}.parquet")
    queue.put((seconds, *_usage(), 0))


def measure(target: Any, *args: Any) -> tuple[float, float, float, int]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def same_numbers(home: Path, dates: list[date]) -> tuple[bool, int, int]:
    """Compare the two runs' values date by date (bounded memory): (all equal, differing, total)."""
    keys = [("account_id", "ascending"), ("metric", "ascending")]
    bad = total = 0
    for day in dates:
        a, b = (
            pq.read_table(
                home / "bench" / f"{who}-{len(dates)}.parquet",
                columns=["account_id", "metric", "value"],
                filters=[("as_of", "=", day)],
            ).sort_by(keys)
            for who in ("kizuna", "pandas")
        )
        total += max(a.num_rows, b.num_rows)
        if a.num_rows != b.num_rows or not (
            a.column("account_id").equals(b.column("account_id"))
            and a.column("metric").equals(b.column("metric"))
        ):
            bad += max(a.num_rows, b.num_rows)
            continue
        va = a.column("value").to_numpy(zero_copy_only=False)
        vb = b.column("value").to_numpy(zero_copy_only=False)
        bad += int((~np.isclose(va, vb, rtol=1e-9, equal_nan=True)).sum())
    return bad == 0, bad, total


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


def lake_events(home: Path) -> int:
    files = sorted((home / "lake" / "events").glob("event_date=*/*.parquet"))
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True, help="a prepared simulator home")
    parser.add_argument("--rebuild", action="store_true", help="time a cold roll-up build first")
    parser.add_argument("--incremental", action="store_true", help="time a one-day refresh")
    parser.add_argument("--skip-pandas-weekly", action="store_true")
    parser.add_argument("--dates", choices=["1", "52", "both"], default="both")
    args = parser.parse_args()
    home: Path = args.data
    (home / "bench").mkdir(exist_ok=True)
    events = lake_events(home)
    with sa.create_engine(f"sqlite:///{home / 'kizuna.sqlite3'}").connect() as conn:
        accounts = conn.execute(sa.text("select count(*) from accounts")).scalar_one()
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at start")
    print(f"data: {home} — {accounts:,} accounts, {events:,} events")
    if args.rebuild:
        shutil.rmtree(home / "lake" / "_rollup", ignore_errors=True)
        s, cpu, mb, days = measure(run_refresh, home, 0)
        print(
            f"roll-up cache from scratch: {s:.1f} s wall, {cpu:.1f} s CPU, "
            f"{events / s / 1e6:.2f} M events/s, peak {mb:.0f} MB ({days} days)"
        )
    else:
        measure(run_refresh, home, 0)  # make sure the cache is current
    if args.incremental:
        s, cpu, mb, days = measure(run_refresh, home, 30)
        print(
            f"refresh after a new day: {s:.1f} s wall, {cpu:.1f} s CPU, peak {mb:.0f} MB "
            f"({days} days rebuilt)"
        )
    weekly = [AS_OF - timedelta(days=7 * i) for i in range(51, -1, -1)]
    runs = [("one date", [AS_OF]), ("52 weekly dates", weekly)]
    runs = [r for r in runs if args.dates == "both" or len(r[1]) == int(args.dates)]
    for label, dates in runs:
        load = os.getloadavg()[0]
        k_s, k_cpu, k_mb, _ = measure(run_kizuna, home, dates)
        line = (
            f"{label}: kizuna {k_s:.2f} s wall, {k_cpu:.2f} s CPU, "
            f"{events / k_s / 1e6:.1f} M events/s, peak {k_mb:.0f} MB (load {load:.1f})"
        )
        print(line, flush=True)
        if label == "52 weekly dates" and args.skip_pandas_weekly:
            continue
        p_s, p_cpu, p_mb, _ = measure(run_pandas, home, dates)
        ok, bad, n = same_numbers(home, dates)
        print(
            f"  pandas {p_s:.2f} s wall, {p_cpu:.2f} s CPU, peak {p_mb:.0f} MB | "
            f"speed-up {p_s / k_s:.1f}x wall, {p_cpu / k_cpu:.1f}x CPU | "
            f"same numbers: {'yes' if ok else f'NO ({bad} differ)'} ({n:,} values)",
            flush=True,
        )


if __name__ == "__main__":
    main()
