"""Benchmark: health for N accounts as of one date, given computed metrics.

    python bench/health/run.py [--accounts 100000] [--naive-accounts 100000]

Builds a synthetic SQLite store (accounts, contract lines, NPS/CSAT answers,
tickets) and the metric values of one date in the metrics layout, then times

* ``compute_health`` end to end: store reads, metric values, scoring with the
  shipped default scorecard, roll-up and the atomic snapshot write;
* ``score_inputs`` alone (the vectorised scoring, inputs already gathered);
* a naive per-account Python loop over the same inputs (scalar scoring, weights
  renormalised per account, percentiles by bisect on sorted peers),

checks both give the same scores, and prints the figures and the machine.
"""

from __future__ import annotations

import argparse
import bisect
import math
import os
import platform as py_platform
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from kizuna.clock import FixedClock
from kizuna.health import compute_health, gather_inputs, load_scorecards, score_inputs
from kizuna.health.inputs import METRIC_SCHEMA, HealthInputs, metric_values_path, source_key
from kizuna.health.scorecard import (
    BooleanScoring,
    LinearScoring,
    PercentileScoring,
    ScorecardSet,
    ThresholdScoring,
)
from kizuna.lake.layout import atomic_write_parquet
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.db import Store
from kizuna.store.models import Account, ContractLine, SurveyResponse, Ticket

AS_OF = date(2025, 6, 30)
T = TypeVar("T")
SEGMENTS = ("enterprise", "mid-market", "smb")
INDUSTRIES = ("software", "retail", "media", "healthcare", "logistics")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        ram = f"{mem_kb / 1024 / 1024:.1f} GB RAM"
    except (OSError, StopIteration):
        ram = "unknown RAM"
    return f"{os.cpu_count()} cores, {ram}, {cpu}, Python {py_platform.python_version()}"


def build(home: Path, n: int, rng: np.random.Generator) -> Platform:
    settings = Settings(home=home)
    store = Store(settings.store_url)
    store.upgrade()
    ids = [f"A{i:06d}" for i in range(n)]
    seg = rng.integers(0, 3, n)
    parents = [ids[i - 1] if i % 50 == 1 else None for i in range(n)]  # some hierarchies
    day0 = datetime(2024, 7, 1, tzinfo=UTC)
    with store.engine.begin() as conn:
        now = datetime.now(UTC)
        conn.execute(
            sa.insert(Account),
            [
                {"id": ids[i], "name": f"Account {i}", "segment": SEGMENTS[seg[i]],
                 "industry": INDUSTRIES[i % 5], "attributes": {"employees": int(i % 3000)},
                 "created_at": now, "updated_at": now}
                for i in range(n)
            ],
        )  # fmt: skip
        conn.execute(
            sa.update(Account).where(Account.id == sa.bindparam("aid")),
            [{"aid": ids[i], "parent_id": parents[i]} for i in range(n) if parents[i]],
        )
        starts = rng.integers(0, 365, n)
        conn.execute(
            sa.insert(ContractLine),
            [
                {"id": f"L{i}", "account_id": ids[i], "product": "core",
                 "arr": int(rng.integers(1, 100)) * 1000, "currency": "USD",
                 "quantity": int(rng.integers(5, 200)),
                 "start_date": date(2024, 7, 1) + timedelta(days=int(starts[i])),
                 "end_date": date(2025, 6, 30) + timedelta(days=int(starts[i])),
                 "created_at": now, "updated_at": now}
                for i in range(n)
            ],
        )  # fmt: skip
        answers = rng.integers(0, n, int(1.5 * n))
        conn.execute(
            sa.insert(SurveyResponse),
            [
                {"id": f"S{k}", "account_id": ids[a], "kind": "nps" if k % 3 else "csat",
                 "score": int(rng.integers(0, 11)) if k % 3 else int(rng.integers(1, 6)),
                 "answered_at": day0 + timedelta(hours=int(rng.integers(0, 365 * 24))),
                 "created_at": now, "updated_at": now}
                for k, a in enumerate(answers)
            ],
        )  # fmt: skip
        tickets = rng.integers(0, n, n)
        rows = []
        for k, a in enumerate(tickets):
            opened = day0 + timedelta(hours=int(rng.integers(0, 365 * 24)))
            closed = opened + timedelta(hours=int(rng.integers(1, 400))) if k % 5 else None
            rows.append(
                {"id": f"T{k}", "account_id": ids[a], "opened_at": opened, "closed_at": closed,
                 "priority": ("low", "normal", "high", "urgent")[k % 4],
                 "status": "open" if closed is None else "closed",
                 "csat": int(rng.integers(1, 6)) if closed is not None and k % 3 == 0 else None,
                 "created_at": now, "updated_at": now}
            )  # fmt: skip
        conn.execute(sa.insert(Ticket), rows)
    metrics = {
        "seat_utilisation_28d": rng.uniform(0, 1, n),
        "feature_breadth_28d": rng.integers(0, 9, n).astype(float),
        "events_per_active_user_28d": rng.gamma(2, 8, n),
        "active_days_28d": rng.integers(0, 29, n).astype(float),
        "events_28d_change": rng.normal(0, 30, n),
        "active_users_28d_change": rng.normal(0, 20, n),
    }
    table = pa.table(
        {
            "account_id": pa.array(np.tile(np.array(ids, dtype=object), len(metrics)), pa.string()),
            "as_of": pa.array([AS_OF] * (n * len(metrics)), pa.date32()),
            "metric": pa.array(np.repeat(list(metrics), n), pa.string()),
            "value": pa.array(np.concatenate(list(metrics.values())), pa.float64()),
        },
        schema=METRIC_SCHEMA,
    )
    atomic_write_parquet(table, metric_values_path(settings, AS_OF), sort=False)
    return Platform(
        settings=settings, store=store, clock=FixedClock(datetime(2025, 6, 30, 12, tzinfo=UTC))
    )


# -- the naive way: one account at a time, plain Python ------------------------


def naive_scores(cards: ScorecardSet, inputs: HealthInputs, limit: int) -> list[dict[str, object]]:
    """Each account's score and explained measures, one account at a time."""
    accounts = inputs.accounts
    columns = {k: v.tolist() for k, v in inputs.values.items()}
    card = cards.scorecards[0]  # the default set has one scorecard
    pairs = card.measures
    keys = [source_key(m.source) for _, m in pairs]
    segments = accounts.segments.tolist()
    peers: dict[tuple[str, object], list[float]] = {}
    for (_, measure), key in zip(pairs, keys, strict=True):
        if isinstance(measure.scoring, PercentileScoring):
            for seg, value in zip(segments, columns[key], strict=True):
                if not math.isnan(value):
                    peers.setdefault((key, seg), []).append(value)
    for values in peers.values():
        values.sort()
    out: list[dict[str, object]] = []
    for i in range(min(limit, len(accounts))):
        scored: list[tuple[str, str, float, float, float]] = []  # group, measure, raw, score, w
        group_w: dict[str, float] = {}
        for (group, measure), key in zip(pairs, keys, strict=True):
            value = columns[key][i]
            if math.isnan(value):
                continue
            s = measure.scoring
            if isinstance(s, ThresholdScoring):
                score = s.scores[bisect.bisect_right(list(s.cuts), value)]
            elif isinstance(s, LinearScoring):
                score = min(max((value - s.worst) / (s.best - s.worst), 0.0), 1.0) * 100
            elif isinstance(s, BooleanScoring):
                score = s.true_score if value != 0 else s.false_score
            else:
                pool = peers[(key, segments[i])]
                if len(pool) < s.min_peers:
                    continue
                less = bisect.bisect_left(pool, value)
                equal = bisect.bisect_right(pool, value) - less
                rank = less + (equal + 1) / 2
                score = 50.0 if len(pool) == 1 else (rank - 1) / (len(pool) - 1) * 100
                if not s.higher_is_better:
                    score = 100 - score
            scored.append((group.name, measure.name, value, score, measure.weight))
            group_w[group.name] = group_w.get(group.name, 0.0) + measure.weight
        total = sum(g.weight for g in card.groups if g.name in group_w)
        weight_of = {g.name: g.weight for g in card.groups}
        measures = []
        for group_name, name, value, score, weight in scored:
            effective = weight_of[group_name] / total * weight / group_w[group_name]
            measures.append(
                {"group": group_name, "name": name, "raw_value": value, "score": score,
                 "effective_weight": effective, "contribution": effective * score}
            )  # fmt: skip
        out.append(
            {
                "account_id": accounts.ids[i],
                "score": sum(m["contribution"] for m in measures) if measures else None,
                "measures": measures,
            }
        )
    return out


def timed(work: Callable[[], T]) -> tuple[T, tuple[float, float]]:
    """Run ``work``; its result and (wall, CPU) seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, (time.perf_counter() - wall, time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--naive-accounts", type=int, default=100_000)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="kizuna-bench-health-") as tmp:
        started = time.perf_counter()
        platform = build(Path(tmp) / "home", args.accounts, rng)
        print(f"setup: {args.accounts:,} accounts in the store and metric values "
              f"({time.perf_counter() - started:.1f} s, not timed below)")  # fmt: skip
        cards = load_scorecards()

        run, e2e = timed(lambda: compute_health(platform, AS_OF, cards))
        inputs, gather = timed(lambda: gather_inputs(platform, AS_OF, cards))
        table, scoring = timed(lambda: score_inputs(cards, inputs))
        naive, naive_t = timed(lambda: naive_scores(cards, inputs, args.naive_accounts))

        # parents are rolled up in the snapshot; compare the scorecard scores of the rest
        ids = table["account_id"].to_pylist()
        method = dict(zip(ids, table["method"].to_pylist(), strict=True))
        vector = dict(zip(ids, table["score"].to_pylist(), strict=True))
        diffs = [
            abs(vector[row["account_id"]] - row["score"])  # type: ignore[index,operator]
            for row in naive
            if row["score"] is not None and method[row["account_id"]] == "scorecard"
        ]
        n = len(inputs.accounts)
        scale = n / max(len(naive), 1)
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"compute_health end to end (store + metrics + score + snapshot), {run.accounts:,} "
              f"accounts: {e2e[0]:.2f} s wall, {e2e[1]:.2f} s CPU; bands {run.bands}")  # fmt: skip
        print(f"  gathering inputs: {gather[0]:.2f} s wall, {gather[1]:.2f} s CPU")
        print(f"  vectorised scoring into the snapshot table: {scoring[0]:.2f} s wall, "
              f"{scoring[1]:.2f} s CPU")  # fmt: skip
        print(f"naive per-account loop (scores + explained measures as Python rows), "
              f"{len(naive):,} accounts: {naive_t[0]:.2f} s wall, "
              f"{naive_t[1]:.2f} s CPU")  # fmt: skip
        print(f"vectorised / naive (CPU, for {n:,} accounts): "
              f"{naive_t[1] * scale / scoring[1]:.1f}x; max |score difference| "
              f"{max(diffs):.2e} over {len(diffs):,} accounts")  # fmt: skip
        platform.close()


if __name__ == "__main__":
    main()
