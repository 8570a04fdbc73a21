"""The analytics engine seam: one place that knows DuckDB from Spark.

Metric and retention computations are Ibis expressions; this module gives them
a backend (DuckDB in-process by default, PySpark with ``kizuna[spark]``) and
moves data into it: store tables through Arrow (DuckDB's sqlite/postgres
scanners download extensions on first use and fail offline), lake files by
path. Dialect differences belong here and nowhere else.
"""

from __future__ import annotations

import functools
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import ibis
import pyarrow as pa
import sqlalchemy as sa
from ibis.expr.types import Table

from kizuna.errors import MissingExtra
from kizuna.settings import Settings
from kizuna.store.db import Store

P = ParamSpec("P")
R = TypeVar("R")


def _duckdb_api_quiet(method: Callable[P, R]) -> Callable[P, R]:
    """Silence DuckDB 2's deprecation warnings about APIs Ibis 12 still calls.

    (``fetch_arrow_table()`` and friends; pytest runs with warnings as errors.)
    """

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=r".* is deprecated, use .* instead", category=DeprecationWarning
            )
            return method(*args, **kwargs)

    return wrapper


@ibis.udf.scalar.builtin(name="json_extract_string")
def _duckdb_json_text(document: str, path: str) -> str:  # type: ignore[empty-body]
    """DuckDB's json_extract_string."""


@ibis.udf.scalar.builtin(name="get_json_object")
def _spark_json_text(document: str, path: str) -> str:  # type: ignore[empty-body]
    """Spark's get_json_object."""


class Engine:
    """An Ibis backend plus helpers to bring Kizuna's data into it."""

    def __init__(self, backend: Any, name: str) -> None:
        self.backend = backend
        self.name = name

    @classmethod
    def duckdb(cls, *, threads: int | None = None, memory_limit: str | None = None) -> Engine:
        config: dict[str, Any] = {}
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        return cls(ibis.duckdb.connect(**config), "duckdb")

    @classmethod
    def spark(cls, master: str = "local[*]", *, warehouse_dir: str | None = None) -> Engine:
        """A local (or ``master``) Spark session behind Ibis.

        The warehouse folder defaults to a fresh temporary folder: a left-over
        ``spark-warehouse/`` in the working directory breaks ``create_table``.
        """
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise MissingExtra("spark", "the Spark engine") from None
        warehouse = warehouse_dir or tempfile.mkdtemp(prefix="kizuna-spark-warehouse-")
        session = (
            SparkSession.builder.master(master)
            .appName("kizuna")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.warehouse.dir", warehouse)
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        return cls(ibis.pyspark.connect(session), "pyspark")

    @classmethod
    def from_settings(cls, settings: Settings) -> Engine:
        return cls.spark() if settings.engine == "spark" else cls.duckdb()

    # -- bringing data in ---------------------------------------------------

    @_duckdb_api_quiet
    def from_arrow(self, name: str, table: pa.Table) -> Table:
        """Register an Arrow table under ``name`` (a temporary view) and return it."""
        if self.name == "duckdb":
            self.backend.con.register(name, table)
            return self.backend.table(name)
        # Straight from Arrow: Ibis's memtable goes through pandas, which turns
        # missing strings into the text 'NaN' under pandas 3.
        frame = self.backend._session.createDataFrame(table)
        frame.createOrReplaceTempView(name)
        return self.backend.table(name)

    @_duckdb_api_quiet
    def materialize(self, name: str, expr: Table) -> Table:
        """Compute ``expr`` once and keep it as ``name`` for the rest of the session.

        DuckDB: a temporary table. Spark: a cached temporary view (no warehouse files).
        """
        if self.name == "duckdb":
            return self.backend.create_table(name, expr, temp=True, overwrite=True)
        table = self.backend.create_view(name, expr, overwrite=True)
        self.backend._session.catalog.cacheTable(name)
        return table

    @staticmethod
    def duckdb_json_text(document: Any, key: str) -> Any:
        """:meth:`json_text` for DuckDB (the default when no engine is at hand)."""
        return _duckdb_json_text(document, f"$.{key}")

    def json_text(self, document: Any, key: str) -> Any:
        """The top-level ``key`` of a JSON-object text column, as text (null if absent).

        Numbers come back as their text (``1200``), strings unquoted. Native on
        each engine: Ibis's own JSON ops run as Python UDFs on Spark.
        """
        path = f"$.{key}"
        if self.name == "duckdb":
            return _duckdb_json_text(document, path)
        return _spark_json_text(document, path)

    @_duckdb_api_quiet
    def read_parquet(self, paths: str | Sequence[str], name: str, **kwargs: Any) -> Table:
        """Read Parquet files (a glob or a list of paths) as a table named ``name``."""
        if self.name != "duckdb" and not isinstance(paths, str):
            frame = self.backend._session.read.parquet(*paths)
            frame.createOrReplaceTempView(name)
            return self.backend.table(name)
        return self.backend.read_parquet(paths, table_name=name, **kwargs)

    def from_store(
        self,
        store: Store,
        query: sa.Select[Any] | sa.Table,
        name: str,
        schema: pa.Schema | None = None,
    ) -> Table:
        """Run ``query`` on the operational store and register its rows as ``name``."""
        return self.from_arrow(name, store_to_arrow(store, query, schema))

    @_duckdb_api_quiet
    def execute(self, expr: Any, **kwargs: Any) -> Any:
        return self.backend.execute(expr, **kwargs)

    @_duckdb_api_quiet
    def to_pyarrow(self, expr: Any) -> pa.Table:
        if self.name != "duckdb":
            # Spark >= 4 hands Arrow over directly; Ibis goes through pandas,
            # which fails under pandas 3.
            return self.backend._session.sql(self.compile(expr)).toArrow()
        return self.backend.to_pyarrow(expr)

    @_duckdb_api_quiet
    def compile(self, expr: Any) -> str:
        """The SQL this engine runs for ``expr`` (for ``explain``)."""
        return str(ibis.to_sql(expr, dialect=self.backend.name))

    @contextmanager
    def planned_build_sides(self) -> Iterator[None]:
        """Within the block, hash joins build on the side the plan put on the right.

        DuckDB may swap a join's sides when it estimates the left one smaller;
        over the metric plan's chains of left joins its estimates are off and
        the swap builds the wide side (about a third more CPU at 100k
        accounts x 52 dates). Spark keeps its own planner.
        """
        if self.name != "duckdb":
            yield
            return
        con = self.backend.con
        con.execute("SET disabled_optimizers = 'build_side_probe_side'")
        try:
            yield
        finally:
            con.execute("RESET disabled_optimizers")

    def close(self) -> None:
        self.backend.disconnect()


def store_to_arrow(
    store: Store, query: sa.Select[Any] | sa.Table, schema: pa.Schema | None = None
) -> pa.Table:
    """Rows of a store query as an Arrow table (column names from the query).

    Pass ``schema`` to fix types (recommended: an empty result has no types to infer).
    """
    select = query.select() if isinstance(query, sa.Table) else query
    with store.engine.connect() as conn:
        result = conn.execute(select)
        columns = list(result.keys())
        rows = result.fetchall()
    data = {col: [row[i] for row in rows] for i, col in enumerate(columns)}
    if schema is not None:
        return pa.table(data, schema=schema)
    return pa.table(data)
