"""Compute, store, read and explain behavioural metrics (the service functions)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from kizuna.engine import Engine
from kizuna.errors import NotFound
from kizuna.lake.layout import EVENT_SCHEMA, LakeLayout
from kizuna.metrics.cache import RollupCache
from kizuna.metrics.compile import MetricPlan, day_number
from kizuna.metrics.definitions import MetricSet, load_definitions
from kizuna.metrics.rollup import RollupSpec
from kizuna.metrics.store import read_values, write_grid
from kizuna.store.models import Account, ContractLine

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kizuna.platform import Platform

LINES_SCHEMA = pa.schema(
    [
        pa.field("account", pa.int32()),
        pa.field("quantity", pa.int64()),
        pa.field("start_day", pa.int32()),
        pa.field("end_day", pa.int32()),
        pa.field("status", pa.string()),
    ]
)


@dataclass
class MetricRun:
    """What one ``compute_metrics`` call did.

    ``event_files`` counts the daily roll-up files read; ``rollup_days_rebuilt``
    the business days whose roll-up was (re)computed from the lake first.
    """

    as_of: list[date]
    metrics: list[str]
    accounts: int
    values: int
    engine: str
    seconds: float
    event_files: int
    rollup_days_rebuilt: int = 0
    paths: list[Path] = field(default_factory=list)


@dataclass
class _Inputs:
    """Everything a plan reads, registered with the engine."""

    prefix: ir.Table
    prefix_rows: dict[int, int]  # rows of each prefix day read at lag 0
    first: int | None
    last: int | None
    accounts: pa.Table
    lines: ir.Table
    dates: ir.Table
    names: pa.Array  # account id of each integer key
    files: int
    rebuilt: int


def _account_keys(platform: Platform, known: pa.Array) -> tuple[pa.Table, pa.Array]:
    """The store's accounts with their integer keys, and the id of every key.

    Keys of accounts in the roll-up dictionary are their positions there; other
    accounts (no events yet) get keys after it.
    """
    with platform.store.engine.connect() as conn:
        ids = pa.array(conn.execute(sa.select(Account.id)).scalars().all(), pa.string())
    keys = pc.index_in(ids, value_set=known)
    missing = pc.filter(ids, pc.is_null(keys))
    names = pa.concat_arrays([known, missing])
    keys = pc.index_in(ids, value_set=names).cast(pa.int32())
    return pa.table({"account": keys}), names


def _contract_lines(platform: Platform, names: pa.Array) -> pa.Table:
    # dates as ISO text (the same on SQLite and PostgreSQL), parsed by Arrow
    with platform.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                ContractLine.account_id,
                ContractLine.quantity,
                sa.cast(ContractLine.start_date, sa.String),
                sa.cast(ContractLine.end_date, sa.String),
                sa.cast(ContractLine.status, sa.String),
            )
        ).all()
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [[]] * 5

    def days(texts: Sequence[str]) -> pa.Array:
        parsed = pc.strptime(pa.array(texts, pa.string()), format="%Y-%m-%d", unit="s")
        return pc.cast(pc.cast(parsed, pa.date32()), pa.int32())

    table = pa.table(
        {
            "account": pc.index_in(pa.array(columns[0], pa.string()), value_set=names).cast(
                pa.int32()
            ),
            "quantity": pa.array(columns[1], pa.int64()),
            "start_day": days(columns[2]),
            "end_day": days(columns[3]),
            "status": pa.array(columns[4], pa.string()),
        },
        schema=LINES_SCHEMA,
    )
    return table.filter(pc.is_valid(table.column("account")))


def _inputs(platform: Platform, engine: Engine, plan: MetricPlan) -> _Inputs:
    """Refresh the roll-up cache and register the plan's inputs with the engine."""
    files: list[str] = []
    prefix_rows: dict[int, int] = {}
    first = last = None
    rebuilt = 0
    known = pa.array([], pa.string())
    if not plan.spec.is_empty:
        cache = RollupCache(
            LakeLayout(platform.settings.lake_dir), plan.spec, platform.settings.tz, engine
        )
        refreshed = cache.refresh(plan.last_day)
        first, last = refreshed.first, refreshed.last
        files = [str(refreshed.prefix[d]) for d in plan.prefix_days(first, last)]
        prefix_rows = {
            d: pq.ParquetFile(refreshed.prefix[d]).metadata.num_rows
            for d in plan.current_days(first, last)
        }
        rebuilt = refreshed.days_rebuilt
        known = cache.accounts()
    if files:
        prefix = engine.read_parquet(files, "kizuna_prefix")
    else:
        prefix = engine.from_arrow("kizuna_prefix", plan.spec.prefix_schema().empty_table())
    accounts, names = _account_keys(platform, known)
    lines = _contract_lines(platform, names)
    dates = pa.table({"as_of": pa.array(plan.days, pa.int32())})
    return _Inputs(
        prefix=prefix,
        prefix_rows=prefix_rows,
        first=first,
        last=last,
        accounts=accounts,
        lines=engine.from_arrow("kizuna_contract_lines", lines),
        dates=engine.from_arrow("kizuna_as_of_dates", dates),
        names=names,
        files=len(files),
        rebuilt=rebuilt,
    )


def _plan(
    metrics: MetricSet, days: Sequence[date], platform: Platform, engine: Engine
) -> MetricPlan:
    return MetricPlan(
        metrics, [day_number(d) for d in days], platform.settings.tz, engine.from_arrow
    )


def compute_metrics(
    platform: Platform,
    as_of: date | Sequence[date],
    definitions: MetricSet | None = None,
    engine: Engine | None = None,
    values_home: Path | None = None,
) -> MetricRun:
    """Compute every metric for every account as of each date and store the values.

    ``values_home`` puts the values under another folder's ``metrics/`` than the
    data folder's (churn risk keeps its derived metrics apart this way).

    All dates are computed in one pass over the daily roll-up of the lake, which
    is cached under ``<lake>/_rollup/`` and rebuilt only for the days whose
    lake partitions changed (see :mod:`kizuna.metrics.cache`). Each date's
    values replace whatever was stored for that date before.
    """
    started = time.perf_counter()
    days = [as_of] if isinstance(as_of, date) else sorted(set(as_of))
    metrics = definitions or load_definitions(None)
    own = engine is None
    engine = engine or Engine.from_settings(platform.settings)
    try:
        plan = _plan(metrics, days, platform, engine)
        inputs = _inputs(platform, engine, plan)
        wide = plan.build(
            prefix=inputs.prefix,
            prefix_rows=inputs.prefix_rows,
            first=inputs.first,
            last=inputs.last,
            accounts=inputs.accounts,
            lines=inputs.lines,
            dates=inputs.dates,
        )
        with engine.planned_build_sides():
            table = engine.to_pyarrow(plan.result(wide))
    finally:
        if own:
            engine.close()
    # account keys to positions among the ids in sorted order: the files come out sorted
    by_id = pc.sort_indices(inputs.names).to_numpy()
    position = np.empty(len(inputs.names), dtype=np.int64)
    position[by_id] = np.arange(len(inputs.names))
    paths = write_grid(
        values_home or platform.settings.home,
        pc.cast(table.column("as_of"), pa.int32()).to_numpy(),
        position[table.column("account").to_numpy()],
        inputs.names.take(pa.array(by_id)),
        {name: table.column(name) for name in metrics.names},
    )
    return MetricRun(
        as_of=days,
        metrics=metrics.names,
        accounts=table.num_rows // max(len(days), 1),
        values=table.num_rows * len(metrics.names),
        engine=engine.name,
        seconds=round(time.perf_counter() - started, 3),
        event_files=inputs.files,
        rollup_days_rebuilt=inputs.rebuilt,
        paths=paths,
    )


def refresh_rollup(
    platform: Platform,
    last_day: date | None = None,
    definitions: MetricSet | None = None,
    engine: Engine | None = None,
) -> int:
    """Bring the cached daily roll-up up to date with the lake; return the days rebuilt.

    ``compute_metrics`` does this itself; call it after an ingest to keep the
    next compute fast.
    """
    metrics = definitions or load_definitions(None)
    own = engine is None
    engine = engine or Engine.from_settings(platform.settings)
    try:
        spec = RollupSpec(metrics)
        if spec.is_empty:
            return 0
        cache = RollupCache(
            LakeLayout(platform.settings.lake_dir), spec, platform.settings.tz, engine
        )
        limit = day_number(last_day) if last_day else day_number(date.max)
        return cache.refresh(limit).days_rebuilt
    finally:
        if own:
            engine.close()


def read_metric_values(
    platform: Platform,
    as_of: date | Sequence[date] | None = None,
    account_id: str | Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
) -> pa.Table:
    """Stored metric values (``account_id, as_of, metric, value``), optionally filtered."""
    return read_values(platform.settings.home, as_of, account_id, metrics)


def explain_metric(
    platform: Platform,
    name: str,
    as_of: date | None = None,
    definitions: MetricSet | None = None,
    engine: Engine | None = None,
) -> str:
    """The SQL the active engine runs to compute metric ``name`` (and its inputs)."""
    metrics = definitions or load_definitions(None)
    if name not in metrics.names:
        raise NotFound(f"no metric named {name!r}; known: {', '.join(metrics.names)}")
    subset = metrics.subset([name])
    own = engine is None
    engine = engine or Engine.from_settings(platform.settings)
    try:
        day = as_of or platform.today()
        plan = _plan(subset, [day], platform, engine)
        empty = pa.table({"account": pa.array([], pa.int32())})
        wide = plan.build(
            prefix=engine.from_arrow("kizuna_prefix", plan.spec.prefix_schema().empty_table()),
            prefix_rows={},
            first=plan.days[0] - max(plan.lags, default=0),
            last=plan.last_day,
            accounts=empty,
            lines=engine.from_arrow("kizuna_contract_lines", LINES_SCHEMA.empty_table()),
            dates=engine.from_arrow(
                "kizuna_as_of_dates", pa.table({"as_of": pa.array(plan.days, pa.int32())})
            ),
        )
        metric_sql = engine.compile(plan.result(wide, [name]))
        if plan.spec.is_empty:
            return metric_sql
        events = engine.from_arrow("kizuna_events", EVENT_SCHEMA.empty_table())
        rollup_sql = engine.compile(
            plan.spec.expression(
                events,
                platform.settings.tz,
                plan.days[0] - max(plan.lags, default=0) + 1,
                plan.last_day,
                engine.json_text,
            )
        )
        return (
            "-- 1. the daily roll-up, cached per business day under <lake>/_rollup/ "
            "(account ids become integer keys; running values per day are then kept "
            "in its prefix table)\n"
            f"{rollup_sql}\n\n-- 2. the metric over the prefix table (kizuna_prefix)\n"
            f"{metric_sql}"
        )
    finally:
        if own:
            engine.close()
