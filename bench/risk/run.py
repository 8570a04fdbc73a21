"""Benchmark: churn-risk training and scoring at the M size (100k accounts, ~100M events).

    python bench/risk/run.py --home bench/data/M-risk [--as-of 2025-06-30] [--naive 500]

``--home`` is a data folder holding a migrated store and the lake (e.g. the
simulator's M preset, ``bench/README.md``). The script times, separately:

1. **history**: what training needs before it can start, computed where
   missing — metric values at every month end (the shipped set; a cold run
   builds the lake's daily roll-up), the derived metrics for event types no
   definition covers (their own roll-up) and the health snapshots;
2. **training** once the history exists: observations, features, model
   choice by time-based CV, the rolling backtest and the final model;
3. **scoring** every account with its top five drivers (the model's own
   contributions) as of ``--as-of``, and the naive way: the same model called
   account by account (prediction and contributions one row at a time) for
   ``--naive`` accounts, extrapolated to the whole book;

and prints the figures with the machine they ran on.
"""

from __future__ import annotations

import argparse
import os
import platform as py_platform
import time
from datetime import date
from pathlib import Path

from kizuna.platform import Platform
from kizuna.risk import RiskConfig, ensure_history, load_model, train
from kizuna.risk.book import ContractBook
from kizuna.risk.features import FeatureSource
from kizuna.risk.scores import score_table
from kizuna.risk.service import first_event_date
from kizuna.risk.training import observation_dates
from kizuna.settings import Settings


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    load = os.getloadavg()
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {py_platform.python_version()}, "
        f"load average {load[0]:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2025, 6, 30))
    parser.add_argument("--naive", type=int, default=500)
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--derived-cap", type=int, default=30)
    args = parser.parse_args()
    platform = Platform.from_settings(Settings(home=args.home))
    print(machine())
    dates = observation_dates(first_event_date(platform), args.as_of)
    t0 = time.perf_counter()
    history = ensure_history(platform, dates, args.derived_cap)
    print(
        f"history: {time.perf_counter() - t0:.1f} s for {len(dates)} month ends "
        f"(metric dates computed {history.metric_dates}, derived {history.derived_dates}, "
        f"health {history.health_dates}; {len(history.derived)} derived metrics)"
    )
    if not args.skip_train:
        t0 = time.perf_counter()
        config = RiskConfig(derived_cap=args.derived_cap)
        result = train(platform, args.as_of, config, history=history)
        bt = result.evaluation["backtest"] or {}
        print(
            f"training: {time.perf_counter() - t0:.1f} s ({result.rows} observations, "
            f"{result.labelled_rows} labelled, model {result.model}); backtest AUC "
            f"{bt.get('auc')} vs health {bt.get('health', {}).get('auc')}"
        )
    model = load_model(platform.settings)
    t0 = time.perf_counter()
    table = score_table(platform, args.as_of, model)
    fast = time.perf_counter() - t0
    print(f"scoring: {table.num_rows} accounts with drivers in {fast:.2f} s")
    # the naive way: the same features, then the model called account by account
    book = ContractBook.load(platform)
    observed = book.as_of(args.as_of, 30)
    frame = FeatureSource(platform).on(args.as_of, observed)
    sample = frame.iloc[: args.naive]
    t0 = time.perf_counter()
    for i in range(len(sample)):
        row = sample.iloc[i : i + 1]
        model.churn.predict(row)
        model.churn.contributions(row)
    per_row = (time.perf_counter() - t0) / max(len(sample), 1)
    print(
        f"naive (account by account): {per_row * 1000:.2f} ms per account -> "
        f"{per_row * len(frame):.0f} s for {len(frame)} accounts "
        f"({per_row * len(frame) / fast:.0f}x the vectorised scoring)"
    )


if __name__ == "__main__":
    main()
