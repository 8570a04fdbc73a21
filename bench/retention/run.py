"""Benchmark: all monthly ARR movements and cohorts for 100k accounts and 1M contract lines.

Builds a synthetic SQLite store in a temporary folder (numpy → values encoded by
the model column types → driver ``executemany``), loads it into the engine once
(timed separately), then times monthly movements over the whole history plus
monthly cohorts through the Ibis/DuckDB code path (wall and process CPU time,
caches cleared before every repeat), and the same with a naive pandas
implementation; checks they agree to the cent. Prints the load average: the
machine is shared.

    python bench/retention/run.py [--accounts 100000] [--lines 1000000] [--repeat 3]
                                  [--store-dir DIR]  # keep and reuse the filled store
"""

from __future__ import annotations

import argparse
import os
import platform as pyplatform
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from kizuna.engine import Engine
from kizuna.retention import Ledger, arr_movements, cohort_retention
from kizuna.retention.cohorts import cohort_points
from kizuna.settings import Settings
from kizuna.store.db import Store
from kizuna.store.models import Account, ContractLine, FxRate

FIRST = date(2018, 1, 1)
NOW = datetime.now(UTC)
AS_OF = date(2025, 6, 30)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
        mem = next(
            int(ln.split()[1])
            for ln in Path("/proc/meminfo").read_text().splitlines()
            if ln.startswith("MemTotal")
        )
        ram = f"{mem / 1024**2:.0f} GB RAM"
    except OSError:
        ram = "? RAM"
    return f"{cpu}, {os.cpu_count()} cores, {ram}, Python {pyplatform.python_version()}"


def synthesise(n_accounts: int, n_lines: int, seed: int) -> tuple[dict, dict, dict]:
    rng = np.random.default_rng(seed)
    ids = np.array([f"A{i:06d}" for i in range(n_accounts)])
    parent = np.where(
        (rng.random(n_accounts) < 0.1) & (np.arange(n_accounts) >= 1000),
        ids[rng.integers(0, 1000, n_accounts)],
        None,
    )
    accounts = {
        "id": ids.tolist(),
        "name": ids.tolist(),
        "parent_id": parent.tolist(),
        "segment": rng.choice(
            ["smb", "mid-market", "enterprise"], n_accounts, p=[0.6, 0.3, 0.1]
        ).tolist(),
    }
    span = (AS_OF - FIRST).days
    start = rng.integers(0, span, n_lines)
    length = np.where(rng.random(n_lines) < 0.7, 364, rng.integers(30, 3 * 365, n_lines))
    base = np.datetime64(FIRST)
    lines = {
        "id": [f"L{i:07d}" for i in range(n_lines)],
        "account_id": (ids[rng.integers(0, n_accounts, n_lines)]).tolist(),
        "product": (rng.choice(["core", "analytics", "seats"], n_lines)).tolist(),
        "arr_cents": rng.integers(50_000, 5_000_000, n_lines),
        "currency": (rng.choice(["USD", "EUR", "JPY"], n_lines, p=[0.85, 0.1, 0.05])).tolist(),
        "start_date": (base + start.astype("timedelta64[D]")).astype(object),
        "end_date": (base + (start + length).astype("timedelta64[D]")).astype(object),
        "status": (
            rng.choice(["active", "ended", "cancelled"], n_lines, p=[0.5, 0.48, 0.02])
        ).tolist(),
    }
    months = pd.date_range("2017-12-01", AS_OF, freq="MS").date
    fx = {
        "currency": np.repeat(["EUR", "JPY"], len(months)),
        "valid_from": np.concatenate([months, months]),
        "rate": np.concatenate(
            [
                1.1 + 0.05 * np.sin(np.arange(len(months)) / 5),
                0.0075 + 0.0005 * np.cos(np.arange(len(months)) / 7),
            ]
        ),
    }
    return accounts, lines, fx


def _stored(column: sa.Column, values: Iterable[Any], dialect: sa.Dialect) -> list[Any]:
    """``values`` as the store keeps them: through the column type's own bind processor.

    Repeated values are processed once (dates, statuses, timestamps repeat a lot).
    """
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return list(values)
    seen: dict[Any, Any] = {}
    out = []
    for v in values:
        try:
            out.append(seen[v])
        except KeyError:
            out.append(seen.setdefault(v, process(v)))
        except TypeError:  # unhashable (a JSON document)
            out.append(process(v))
    return out


def _insert_columns(conn: Any, table: sa.Table, columns: dict[str, list[Any]]) -> None:
    """Bulk insert column lists through the raw DBAPI cursor (one ``executemany``).

    SQLAlchemy's ``insert`` of a list of dicts costs ~70 µs a row in Python; the
    values here already went through the column types, so the driver can take tuples.
    """
    dialect = conn.dialect
    names = list(columns)
    stored = [_stored(table.c[n], columns[n], dialect) for n in names]
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))})"
    cursor = conn.connection.dbapi_connection.cursor()
    cursor.executemany(sql, list(zip(*stored, strict=True)))
    cursor.close()


def fill_store(store: Store, accounts: dict, lines: dict, fx: dict) -> None:
    """Write the synthetic book through the raw driver, values encoded by the model types."""
    n = len(lines["id"])
    roots = [i for i, p in enumerate(accounts["parent_id"]) if p is None]
    kids = [i for i, p in enumerate(accounts["parent_id"]) if p is not None]
    with store.engine.begin() as conn:
        for group in (roots, kids):  # parents before children (foreign keys)
            _insert_columns(
                conn,
                Account.__table__,
                {
                    "id": [accounts["id"][i] for i in group],
                    "name": [accounts["name"][i] for i in group],
                    "parent_id": [accounts["parent_id"][i] for i in group],
                    "segment": [accounts["segment"][i] for i in group],
                    "attributes": [{}] * len(group),
                    "created_at": [NOW] * len(group),
                    "updated_at": [NOW] * len(group),
                },
            )
        _insert_columns(
            conn,
            ContractLine.__table__,
            {
                "id": lines["id"],
                "account_id": lines["account_id"],
                "product": lines["product"],
                "arr": [Decimal(int(c)).scaleb(-2) for c in lines["arr_cents"]],
                "currency": lines["currency"],
                "start_date": lines["start_date"],
                "end_date": lines["end_date"],
                "status": lines["status"],
                "created_at": [NOW] * n,
                "updated_at": [NOW] * n,
            },
        )
        _insert_columns(
            conn,
            FxRate.__table__,
            {
                "currency": [str(c) for c in fx["currency"]],
                "valid_from": list(fx["valid_from"]),
                "rate": [float(r) for r in fx["rate"]],
                "created_at": [NOW] * len(fx["rate"]),
                "updated_at": [NOW] * len(fx["rate"]),
            },
        )


def naive(accounts: dict, lines: dict, fx: dict, points: list[date]) -> tuple[list, dict]:
    """The same numbers the obvious way: one pandas pass per month end."""
    parent = dict(zip(accounts["id"], accounts["parent_id"], strict=True))
    root = {a: (p if p is not None else a) for a, p in parent.items()}  # depth 1 here
    df = pd.DataFrame(lines)
    df = df[df["status"] != "cancelled"].copy()
    df["entity"] = df["account_id"].map(root)
    df["start_date"] = pd.to_datetime(df["start_date"])
    df["end_date"] = pd.to_datetime(df["end_date"])
    rates = pd.DataFrame(fx)
    rates["valid_from"] = pd.to_datetime(rates["valid_from"])
    entities = pd.Index(sorted(df["entity"].unique()))
    grid = np.zeros((len(entities), len(points)), dtype=np.int64)
    for i, p in enumerate(points):
        ts = pd.Timestamp(p)
        live = df[(df["start_date"] <= ts) & (df["end_date"] >= ts)]
        cents = live["arr_cents"].to_numpy(dtype=np.float64)
        out = live["arr_cents"].to_numpy().copy()
        for cur in ("EUR", "JPY"):
            r = rates[(rates["currency"] == cur) & (rates["valid_from"] <= ts)]
            rate = r.sort_values("valid_from")["rate"].iloc[-1]
            m = (live["currency"] == cur).to_numpy()
            out[m] = np.floor(cents[m] * rate + 0.5).astype(np.int64)
        sums = pd.Series(out, index=live["entity"].to_numpy()).groupby(level=0).sum()
        grid[entities.get_indexer(sums.index), i] = sums.to_numpy()
    pos = df[df["arr_cents"] > 0].groupby("entity")["start_date"].min().reindex(entities)
    first = pos.dt.date.to_numpy()
    movements = []
    for i in range(1, len(points)):
        a, b = grid[:, i - 1], grid[:, i]
        had = np.array([f <= points[i - 1] for f in first])
        gained = (a == 0) & (b > 0)
        movements.append(
            {
                "start_arr": int(a.sum()),
                "new": int(b[gained & ~had].sum()),
                "reactivation": int(b[gained & had].sum()),
                "expansion": int((b - a)[(a > 0) & (b > a)].sum()),
                "contraction": int((a - b)[(b > 0) & (b < a)].sum()),
                "churn": int(a[(a > 0) & (b == 0)].sum()),
                "end_arr": int(b.sum()),
            }
        )
    start_idx = np.searchsorted(np.array(points), first)  # first month end ≥ first date
    cohorts: dict = {}
    month = np.array([f.year * 12 + f.month for f in first])
    for key in np.unique(month):
        members = np.where(month == key)[0]
        n_k = len(points) - int(start_idx[members].max())
        for k in range(n_k):
            vals = grid[members, start_idx[members] + k]
            cohorts[
                (f"{key // 12 if key % 12 else key // 12 - 1:04d}-{(key - 1) % 12 + 1:02d}", k)
            ] = (int((vals > 0).sum()), int(vals.sum()))
    return movements, cohorts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--store-dir", help="keep the SQLite store here and reuse it on later runs")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"data: {args.accounts:,} accounts, {args.lines:,} contract lines, monthly 2018-01..2025-06"
    )
    t = time.perf_counter()
    accounts, lines, fx = synthesise(args.accounts, args.lines, args.seed)
    print(f"synthesise (numpy): {time.perf_counter() - t:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        # --store-dir keeps the SQLite store between runs (filled once per size and seed).
        home = (
            Path(args.store_dir) / f"a{args.accounts}-l{args.lines}-s{args.seed}"
            if args.store_dir
            else Path(tmp)
        )
        settings = Settings(home=home)
        store = Store(settings.store_url)
        filled = home / ".filled"
        if filled.exists():
            print(f"reusing the SQLite store in {home}")
        else:
            store.upgrade()
            t = time.perf_counter()
            fill_store(store, accounts, lines, fx)
            fill_s = time.perf_counter() - t
            print(f"bulk insert into SQLite store (driver executemany): {fill_s:.1f} s")
            if args.store_dir:
                filled.touch()
        engine = Engine.duckdb()
        t = time.perf_counter()
        ledger = Ledger.load(store, settings, engine=engine)
        load_s = time.perf_counter() - t
        print(f"one-time load store → engine: {load_s:.2f} s")
        first = ledger.first_arr_date()
        assert first is not None
        points = cohort_points(first, AS_OF)
        times, cpu_times = [], []
        for _ in range(args.repeat):
            ledger.clear_cache()  # measure the whole computation every time
            t, cpu = time.perf_counter(), time.process_time()
            moves = arr_movements(ledger, points[0] + timedelta(days=1), points[-1])
            cohorts = cohort_retention(ledger, as_of=AS_OF, by="month")
            times.append(time.perf_counter() - t)
            cpu_times.append(time.process_time() - cpu)
        engine_s = min(times)
        print(
            f"Ibis/DuckDB: {len(moves.periods)} monthly movements + {len(cohorts.rows)} cohort "
            f"rows: best {engine_s:.2f} s of {args.repeat} "
            f"({', '.join(f'{x:.2f}' for x in times)}); "
            f"CPU (all threads) {', '.join(f'{x:.2f}' for x in cpu_times)} s"
        )
        print(f"load average now: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        t = time.perf_counter()
        n_moves, n_cohorts = naive(accounts, lines, fx, points)
        naive_s = time.perf_counter() - t
        print(f"naive pandas (one pass per month end): {naive_s:.2f} s")
        got = [{k: int(getattr(p, k) * 100) for k in n_moves[0]} for p in moves.periods]
        assert got == n_moves, "monthly movements differ from the naive implementation"
        got_c = {
            (r.cohort, r.months_since_start): (r.accounts_retained, int(r.arr * 100))
            for r in cohorts.rows
        }
        assert got_c == n_cohorts, "cohorts differ from the naive implementation"
        print(f"agree: {len(got)} months and {len(got_c)} cohort cells identical (to the cent)")
        print(
            f"speed-up vs naive: {naive_s / engine_s:.1f}×; target < 2 s: "
            f"{'met' if engine_s < 2 else 'NOT met'}"
        )
        ledger.close()
        engine.close()
        store.dispose()


if __name__ == "__main__":
    main()
