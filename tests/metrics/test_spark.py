"""The same metric definitions give identical values on DuckDB and on local Spark."""

from __future__ import annotations

import shutil
from datetime import date

import pytest
from metrics_handbuilt import AS_OF, DEFINITIONS, seed

from kizuna.engine import Engine
from kizuna.metrics import compute_metrics, read_metric_values
from kizuna.metrics.definitions import load_definitions, parse_definitions
from kizuna.platform import Platform

pytestmark = [
    pytest.mark.spark,
    # py4j leaves its sockets to the garbage collector
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def _values(platform: Platform) -> list[dict[str, object]]:
    return read_metric_values(platform).to_pylist()


def test_duckdb_and_spark_agree(sqlite_platform: Platform) -> None:
    pytest.importorskip("pyspark", reason="pyspark not installed: pip install 'kizuna[spark]'")
    if shutil.which("java") is None:
        pytest.skip("Java is not installed (Spark needs Java 17)")
    platform = sqlite_platform
    seed(platform)
    days = [date(2025, 6, 2), date(2025, 6, 16), AS_OF]
    for metrics in (parse_definitions(DEFINITIONS, "test"), load_definitions(None)):
        compute_metrics(platform, days, metrics, Engine.duckdb())
        on_duckdb = _values(platform)
        spark = Engine.spark("local[1]")
        run = compute_metrics(platform, days, metrics, spark)
        assert run.engine == "pyspark"
        on_spark = _values(platform)
        spark.close()
        assert on_spark == on_duckdb
        assert len(on_spark) == 3 * len(days) * len(metrics.names)
