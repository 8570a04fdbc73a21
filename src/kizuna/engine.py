"""The analytics engine seam: one place that knows DuckDB from Spark.

Metric and retention computations are Ibis expressions; this module gives them
a backend (DuckDB in-process by default, PySpark with ``kizuna[spark]``) and
moves data into it: store tables through Arrow (DuckDB's sqlite/postgres
scanners download extensions on first use and fail offline), lake files by
path. Dialect differences belong here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import pyarrow as pa
import sqlalchemy as sa
from ibis.expr.types import Table

from kizuna.errors import MissingExtra
from kizuna.settings import Settings
from kizuna.store.db import Store


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
    def spark(cls, master: str = "local[*]") -> Engine:
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise MissingExtra("spark", "the Spark engine") from None
        session = (
            SparkSession.builder.master(master)
            .appName("kizuna")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .getOrCreate()
        )
        return cls(ibis.pyspark.connect(session), "pyspark")

    @classmethod
    def from_settings(cls, settings: Settings) -> Engine:
        return cls.spark() if settings.engine == "spark" else cls.duckdb()

    # -- bringing data in ---------------------------------------------------

    def from_arrow(self, name: str, table: pa.Table) -> Table:
        """Register an Arrow table under ``name`` (a temporary view) and return it."""
        if self.name == "duckdb":
            self.backend.con.register(name, table)
            return self.backend.table(name)
        return self.backend.create_view(name, ibis.memtable(table), overwrite=True)

    def read_parquet(self, paths: str | Sequence[str], name: str, **kwargs: Any) -> Table:
        """Read Parquet files (a glob or a list of paths) as a table named ``name``."""
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

    def execute(self, expr: Any, **kwargs: Any) -> Any:
        return self.backend.execute(expr, **kwargs)

    def to_pyarrow(self, expr: Any) -> pa.Table:
        return self.backend.to_pyarrow(expr)

    def compile(self, expr: Any) -> str:
        """The SQL this engine runs for ``expr`` (for ``explain``)."""
        return str(
            ibis.to_sql(expr, dialect=self.backend.dialect if self.name != "duckdb" else "duckdb")
        )

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
