"""Benchmark: the default rules over every account of a store, vectorised vs a naive loop.

    python bench/actions/run.py --home bench/data/actions-M/home [--as-of 2025-06-30]

``--home`` is a data folder whose store is a *copy* of the M-size simulated store
(100k accounts; ``cp /work/coord/data/M/kizuna.sqlite3 HOME/`` then
``kizuna --home HOME db upgrade``). The simulated store has no health or metric
snapshots (those come from the daily run over the event lake), so this script
writes, once, a health snapshot for the date and 30 days earlier and the metric
values the default rules read, from a seeded random generator (``--seed``); every
other fact (ARR, renewals, tickets, NPS answers, activities with contacts, owners,
open CTAs) is read from the store by the real fact providers. Overdue onboarding
milestones come from the lifecycle evaluation over the lake, which this folder
does not have: the rule reading them is timed with that fact given as zero.

It times
* ``gather_facts`` (every fact the default rules and coverage tiers read);
* the rules step as the daily run runs it: ``run_rules(dry_run=True)`` with ARR,
  renewals and overdue milestones handed over (the daily run's portfolio snapshot
  already holds them), reading the other facts, evaluating every rule and planning
  against the stored CTAs (dedupe, cooldown, tiers, budget and queue);
* a naive per-account loop evaluating the same condition trees on one account's
  facts at a time (a dict per account, scalar comparisons),

checks both fire for exactly the same accounts, and prints the figures and the machine.
"""

from __future__ import annotations

import argparse
import math
import os
import platform as py_platform
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from kizuna.actions import gather_facts, rules_for, run_rules
from kizuna.actions.conditions import AllOf, AnyOf, Comparison, Condition, Leaf, Not
from kizuna.actions.engine import needed_facts, ordered_rules
from kizuna.actions.facts import FactKey
from kizuna.clock import FixedClock
from kizuna.health.snapshots import SNAPSHOT_SCHEMA, write_snapshot
from kizuna.metrics.store import stored_dates, write_values
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.db import Store


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {py_platform.python_version()}, "
        f"load average {load:.1f}"
    )


def write_snapshots(platform: Platform, as_of: date, seed: int) -> None:
    """Health for ``as_of`` and 30 days earlier, and the metric values the rules read."""
    from kizuna.health.snapshots import snapshot_dates

    book = gather_facts(platform, as_of, [FactKey("segment")])
    ids = [str(a) for a in book.ids]
    rng = np.random.default_rng(seed)
    before = np.clip(rng.normal(62, 18, len(ids)), 0, 100)
    now = np.clip(before + rng.normal(-2, 9, len(ids)), 0, 100)
    for day, scores in ((as_of - timedelta(days=30), before), (as_of, now)):
        if day in snapshot_dates(platform.settings):
            continue
        bands = np.where(scores < 40, "red", np.where(scores < 70, "yellow", "green"))
        table = pa.table(
            {
                "account_id": ids, "as_of": pa.array([day] * len(ids), pa.date32()),
                "name": ids, "score": scores, "band": bands,
                "missing": pa.array([[]] * len(ids), pa.list_(pa.string())),
            }
        )  # fmt: skip
        for f in SNAPSHOT_SCHEMA:
            if f.name not in table.column_names:
                table = table.append_column(f, pa.nulls(len(ids), f.type))
        write_snapshot(platform.settings, day, table.select(SNAPSHOT_SCHEMA.names))
    if as_of not in stored_dates(platform.settings.home):
        util = np.clip(rng.beta(4, 3, len(ids)) * 1.15, 0, 1.2)
        write_values(
            platform.settings.home,
            pa.table(
                {
                    "as_of": pa.array([as_of] * len(ids), pa.date32()),
                    "account_id": ids,
                    "seat_utilisation_28d": util,
                }
            ),
            ["seat_utilisation_28d"],
        )


# -- the naive way: one account at a time ------------------------------------------


def _scalar(c: Comparison, value: Any) -> bool:
    v = c.value
    if c.op == "in":
        return value in v
    if c.op == "not_in":
        return value not in v
    return bool(
        {
            "eq": value == v, "ne": value != v, "lt": value < v, "lte": value <= v,
            "gt": value > v, "gte": value >= v,
        }[c.op]
    )  # fmt: skip


def holds(condition: Condition, facts: dict[FactKey, Any]) -> bool:
    """A condition on one account's facts, written the obvious way."""
    if isinstance(condition, AllOf):
        return all(holds(i, facts) for i in condition.items)
    if isinstance(condition, AnyOf):
        return any(holds(i, facts) for i in condition.items)
    if isinstance(condition, Not):
        return not holds(condition.item, facts)
    assert isinstance(condition, Leaf)
    value = facts[condition.key]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return condition.missing
    return all(_scalar(c, value) for c in condition.comparisons)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2025, 6, 30))
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    home: Path = args.home
    store = Store(f"sqlite:///{home / 'kizuna.sqlite3'}")
    settings = Settings(home=home, database_url=store.url)
    clock = FixedClock(datetime.combine(args.as_of, datetime.min.time(), tzinfo=UTC))
    platform = Platform(settings=settings, store=store, clock=clock)
    write_snapshots(platform, args.as_of, args.seed)
    ruleset = rules_for(home)
    rules = ordered_rules(ruleset)
    keys = [k for k in needed_facts(ruleset) if k.name != "overdue_milestones"]
    print(machine())

    t0 = time.perf_counter()
    book = gather_facts(platform, args.as_of, keys)
    overdue = FactKey("overdue_milestones")
    given = {overdue: np.zeros(book.size)}
    book.columns.update(given)
    gather_s = time.perf_counter() - t0
    print(f"gather_facts: {book.size:,} accounts, {len(keys)} facts in {gather_s:.2f} s")
    for name, seconds in book.timings.items():
        print(f"  {name:<14} {seconds:6.2f} s")

    t0 = time.perf_counter()
    fired = {r.id: set(book.ids[r.condition.mask(book)]) for r in rules}
    vector_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    columns = list(book.columns.items())
    naive: dict[str, set[str]] = {r.id: set() for r in rules}
    for row, account in enumerate(book.ids):
        facts = {k: col[row] for k, col in columns}
        for rule in rules:
            if holds(rule.condition, facts):
                naive[rule.id].add(account)
    naive_s = time.perf_counter() - t0
    same = fired == naive
    print(
        f"evaluate {len(rules)} rules: vectorised {vector_s:.3f} s, naive per-account loop "
        f"{naive_s:.2f} s ({naive_s / vector_s:.0f}x); same accounts fire: {same}"
    )
    for rule in rules:
        print(f"  {rule.id:<22} {len(fired[rule.id]):>7,} accounts")

    # the daily run hands the rules the ARR, renewals and overdue milestones its portfolio
    # snapshot holds (kizuna.daily.rule_facts); the rules step reads everything else itself
    handed = {k: book.columns[k] for k in (FactKey("arr"), FactKey("days_to_renewal"), overdue)}
    t0 = time.perf_counter()
    run = run_rules(
        platform,
        args.as_of,
        dry_run=True,
        ruleset=ruleset,
        given=handed,
        ids=[str(a) for a in book.ids],
    )
    end_to_end = time.perf_counter() - t0
    d = run.to_dict()
    per_owner = dict(d["opened_per_owner"])
    digital = per_owner.pop("digital", 0)
    print(
        f"rules step (run_rules --dry-run: the other facts, evaluation, plan; ARR and "
        f"renewals handed over as in the daily run): {end_to_end:.2f} s "
        f"(evaluation {run.evaluate_seconds:.2f} s); "
        f"would open {d['opened']:,} (to {len(per_owner):,} owners, {digital:,} digital), "
        f"queue {d['queued']:,}"
    )
    if not same:
        raise SystemExit("the vectorised and the naive evaluation disagree")


if __name__ == "__main__":
    main()
