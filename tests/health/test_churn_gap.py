"""End to end on the simulator: accounts that go on to churn had lower health before renewal.

sim -> load into the store and lake -> metrics at nine dates -> health at the same
dates with the shipped default scorecard -> for every account whose renewal falls
in the 90 days after a date, compare its health on that date by renewal outcome.
"""

from __future__ import annotations

import statistics
from datetime import date, timedelta

import pyarrow.parquet as pq
import pytest

from kizuna.health import compute_health, read_snapshot
from kizuna.platform import Platform

sim = pytest.importorskip("kizuna.sim")
sim_demo = pytest.importorskip("kizuna.sim.demo")
metrics = pytest.importorskip("kizuna.metrics")

DATES = [date(2024, 10, 1) + timedelta(days=30 * i) for i in range(9)]  # to 2025-05-28


@pytest.mark.slow
def test_churners_have_clearly_lower_health_in_the_90_days_before_renewal(
    platform: Platform,
) -> None:
    config = sim.SimConfig.preset("test", accounts=200, seed=42)
    loaded = sim_demo.run_demo(platform, config, force=True)
    metrics.compute_metrics(platform, DATES)
    for day in DATES:
        assert compute_health(platform, day).notes == []

    truth = pq.read_table(loaded.truth_file, columns=["account_id", "renewal_date", "outcome"])
    decided = [r for r in truth.to_pylist() if r["outcome"] != "pending" and r["renewal_date"]]
    scores: dict[bool, list[float]] = {True: [], False: []}
    for day in DATES:
        snapshot = read_snapshot(platform.settings, day, columns=["account_id", "score"])
        assert snapshot is not None
        health = dict(
            zip(snapshot["account_id"].to_pylist(), snapshot["score"].to_pylist(), strict=True)
        )
        for row in decided:
            renewal = date.fromisoformat(row["renewal_date"])
            score = health.get(row["account_id"])
            if day < renewal <= day + timedelta(days=90) and score is not None:
                scores[row["outcome"] == "churned"].append(score)

    churned, renewed = scores[True], scores[False]
    gap = statistics.mean(renewed) - statistics.mean(churned)
    print(
        f"health in the 90 days before renewal: renewed mean {statistics.mean(renewed):.1f} "
        f"(n={len(renewed)}), churned mean {statistics.mean(churned):.1f} (n={len(churned)}), "
        f"gap {gap:.1f} points; medians {statistics.median(renewed):.1f} / "
        f"{statistics.median(churned):.1f}"
    )
    assert len(churned) >= 20 and len(renewed) >= 100
    assert gap >= 10  # clearly lower: more than a tenth of the scale
    assert statistics.median(renewed) - statistics.median(churned) >= 10
