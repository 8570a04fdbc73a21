"""MUST SHOW (issue 19): the daily run gives the same results with its metric step on DuckDB
and on local Spark — every store table and read-model file the run leaves compared."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from ops_fingerprint import fingerprint

from kizuna.clock import FixedClock
from kizuna.daily import StepOutcome, run_daily, step_functions
from kizuna.engine import Engine
from kizuna.metrics import compute_metrics
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.sim import SimConfig
from kizuna.sim.demo import run_demo

pytestmark = [
    pytest.mark.spark,
    # py4j leaves its sockets to the garbage collector
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

DAY = date(2025, 6, 30)
BOOK = SimConfig(accounts=30, seed=7, start_date=date(2025, 1, 1), end_date=DAY)


def _platform(home: Path, db: Path) -> Platform:
    settings = Settings(home=home, database_url=f"sqlite:///{db}")
    return Platform.from_settings(settings, clock=FixedClock(datetime(2025, 7, 1, tzinfo=UTC)))


def test_the_daily_run_gives_the_same_results_with_metrics_on_duckdb_and_on_spark(
    tmp_path: Path,
) -> None:
    pytest.importorskip("pyspark", reason="pyspark not installed: pip install 'kizuna[spark]'")
    if shutil.which("java") is None:
        pytest.skip("Java is not installed (Spark needs Java 17)")
    since = datetime.now(UTC)
    duck = _platform(tmp_path / "duckdb", tmp_path / "duckdb.sqlite3")
    run_demo(duck, BOOK, force=True)
    duck.close()
    shutil.copytree(tmp_path / "duckdb", tmp_path / "spark")
    shutil.copy(tmp_path / "duckdb.sqlite3", tmp_path / "spark.sqlite3")
    duck = _platform(tmp_path / "duckdb", tmp_path / "duckdb.sqlite3")
    on_spark = _platform(tmp_path / "spark", tmp_path / "spark.sqlite3")

    engine = Engine.spark("local[1]")
    engines: list[str] = []

    def metrics_on_spark(platform: Platform, days: list[date]) -> StepOutcome:
        run = compute_metrics(platform, days, engine=engine)
        engines.append(run.engine)
        return StepOutcome(f"{len(run.metrics)} metrics on {run.engine}")

    steps = step_functions()
    try:
        run_daily(on_spark, [DAY], steps={**steps, "metrics": metrics_on_spark})
    finally:
        engine.close()
    assert engines == ["pyspark"]
    run_daily(duck, [DAY])
    a, b = fingerprint(duck, since), fingerprint(on_spark, since)
    assert a.keys() == b.keys()
    assert any(k.startswith("metrics") or "metric" in k for k in a)  # the metric values compared
    assert [k for k in a if a[k] != b[k]] == []
    duck.close()
    on_spark.close()
