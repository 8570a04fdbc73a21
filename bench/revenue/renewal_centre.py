"""Benchmark: the renewal centre at the M size (100k accounts), read model against the naive way.

Uses the store ``bench/revenue/run.py`` prepares (a copy of the M store with the
demo's deal history and the renewals ahead opened as of 2025-06-30), and writes
churn-risk scores for every account the way the daily run's risk step stores
them, so the centre shows risk and weights by the model's renewal probability.

Then times, in the same run:

* the naive way (what the Renewals page did before): the forecast of the page's
  window computed in the request, with health, risk and plan status, for a
  manager (the whole book) and for one CSM (their accounts);
* the read model: the daily run's cost once (:func:`save_renewal_centre`), then
  the page's read (:func:`read_renewal_centre`) for the same two readers.

Checks both give the same totals.

    python bench/revenue/renewal_centre.py [--source /work/data/M] [--repeat 3] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as revenue_bench

from kizuna.platform import Platform
from kizuna.revenue import (
    load_definition,
    read_renewal_centre,
    renewal_contexts,
    renewal_forecast,
    save_renewal_centre,
)
from kizuna.revenue.readmodel import centre_window
from kizuna.risk.scores import scores_path
from kizuna.store.models import Account

END = revenue_bench.END


def write_scores(p: Platform) -> None:
    """Churn-risk scores of every account on END, in the risk step's stored columns."""
    path = scores_path(p.settings, END)
    if path.exists():
        return
    with p.store.session() as s:
        ids = list(s.execute(sa.select(Account.id).order_by(Account.id)).scalars())
    rng = np.random.default_rng(7)
    prob = rng.beta(2, 8, len(ids))
    band = np.where(prob >= 0.4, "high", np.where(prob >= 0.2, "medium", "low"))
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.table(
            {
                "account_id": ids,
                "as_of": pa.array([END] * len(ids), pa.date32()),
                "probability": prob,
                "band": band.tolist(),
                "contraction_probability": np.zeros(len(ids)),
                "arr_up": np.zeros(len(ids)),
                "expected_renewal_arr": np.zeros(len(ids)),
                "renewal_date": pa.array([END] * len(ids), pa.date32()),
                "days_to_renewal": pa.array([0] * len(ids), pa.int32()),
            }
        ),
        path,
    )


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall time and the CPU time of this process for that run, after a warm-up."""
    fn()
    best = (float("inf"), 0.0)
    result = None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        best = min(best, (wall, cpu))
    return best[0], best[1], result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, default=Path("/work/data/M"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--work", type=Path, default=revenue_bench.ROOT, help="where the prepared copy is kept"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="read the centre a previous run saved (no re-save)"
    )
    args = parser.parse_args()
    revenue_bench.ROOT = args.work
    home = revenue_bench.prepare(args.source)
    p = revenue_bench.platform_at(home, END)
    write_scores(p)
    definition = load_definition()
    with p.store.session() as s:
        csm = s.execute(
            sa.select(Account.owner_id)
            .where(Account.owner_id.is_not(None))
            .group_by(Account.owner_id)
            .order_by(sa.func.count().desc())
        ).scalar()
    start, end = centre_window(END, "quarter")

    def naive(owner: str | None) -> Any:
        return renewal_forecast(
            p, definition, start, end, as_of=END, period="quarter",
            context=renewal_contexts(p), account_owner=owner,
        )  # fmt: skip

    print(f"machine: {revenue_bench.machine()} (loaded: other jobs running)")
    if not (args.reuse and read_renewal_centre(p.settings, END) is not None):
        w0, c0 = time.perf_counter(), time.process_time()
        saved = save_renewal_centre(p, definition, END)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        print(f"daily run: save_renewal_centre, {saved:,} renewals: {wall:.2f} s (CPU {cpu:.2f} s)")
    print(f"load average at the start: {os.getloadavg()[0]:.1f}")
    rows = []
    for who, owner in (("manager (whole book)", None), (f"CSM {csm} (own book)", csm)):
        n_wall, n_cpu, before = timed(lambda o=owner: naive(o), args.repeat)
        r_wall, r_cpu, after = timed(
            lambda o=owner: read_renewal_centre(p.settings, END, "quarter", account_owner=o),
            args.repeat,
        )
        assert after is not None
        assert (before.totals.renewals, before.totals.arr, before.totals.weighted_arr) == (
            after.totals.renewals, after.totals.arr, after.totals.weighted_arr,
        ), (before.totals, after.totals)  # fmt: skip
        rows.append((who, after.totals.renewals, n_wall, n_cpu, r_wall, r_cpu))
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print("| reader | renewals | naive: per request, wall (CPU) | read model, wall (CPU) |")
    print("|---|---:|---:|---:|")
    for who, n, nw, nc, rw, rc in rows:
        print(f"| {who} | {n:,} | {nw:.2f} s ({nc:.2f} s) | **{rw:.3f} s** ({rc:.3f} s) |")
    p.close()


if __name__ == "__main__":
    main()
