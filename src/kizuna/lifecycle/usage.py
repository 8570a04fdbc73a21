"""The usage lifecycle rules read, from the lake through the metrics roll-up (the engine seam).

Lifecycle event conditions are a metric set of their own (:func:`usage_metrics`): an event
count per condition and, for distinct users in a trailing window, the roll-up's run columns.
Its daily roll-up is built and cached by :class:`kizuna.metrics.cache.RollupCache` on the
configured engine (DuckDB, or Spark) exactly as the metrics' own is, so a new day of
events rebuilds only the days whose lake partitions changed; the lifecycle then reads the
cached day files, never the raw events.

What each condition reads (days are proleptic ordinals, accounts the book's indexes):

* ``count`` events: the events per account and business day (``n`` column);
* ``distinct_users`` over ``W`` days: users active in ``(D - W, D]`` = the run starts in that
  window plus the runs still open at the end of ``D - W`` (see :mod:`kizuna.metrics.rollup`);
* ``distinct_users`` since the contract start (no window), which the roll-up cannot express:
  one Ibis query through the same engine, per account × user × business day.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kizuna.engine import Engine
from kizuna.lake.layout import LakeLayout
from kizuna.lake.reader import event_files
from kizuna.lifecycle.definitions import EventsSpec, LifecycleDefinition
from kizuna.metrics.cache import Refreshed, RollupCache
from kizuna.metrics.definitions import EventFilter, MetricDefinition, MetricSet
from kizuna.metrics.rollup import (
    Condition,
    RollupSpec,
    business_day,
    day_number,
    utc_offsets,
)
from kizuna.platform import Platform

__all__ = ["Series", "Usage", "load_usage", "usage_metrics"]

_EPOCH = date(1970, 1, 1).toordinal()


@dataclass
class Series:
    """One value per account × business day (or × user), sorted by account.

    ``offsets[i]:offsets[i + 1]`` are the rows of account index ``i``.
    """

    account: np.ndarray  # int64 account index
    day: np.ndarray  # int64 ordinal
    value: np.ndarray  # float64 (user code for the per-user series)
    offsets: np.ndarray

    @classmethod
    def of(cls, account: np.ndarray, day: np.ndarray, value: np.ndarray, size: int) -> Series:
        order = np.lexsort((day, account))
        return cls.ordered(account[order], day[order], value[order], size)

    @classmethod
    def ordered(cls, account: np.ndarray, day: np.ndarray, value: np.ndarray, size: int) -> Series:
        """Rows already sorted by account, then day."""
        return cls(account, day, value, np.searchsorted(account, np.arange(size + 1), side="left"))

    def rows(self, accounts: np.ndarray) -> np.ndarray:
        """Positions of the rows of ``accounts`` (book indexes), account by account."""
        lo, hi = self.offsets[accounts], self.offsets[accounts + 1]
        lens = hi - lo
        total = int(lens.sum())
        if not total:
            return np.zeros(0, dtype=np.int64)
        shift = np.repeat(lo - (np.cumsum(lens) - lens), lens)
        return np.arange(total, dtype=np.int64) + shift


@dataclass
class Usage:
    """The series each events condition reads, by :func:`series_key`."""

    series: dict[tuple[object, ...], Series] = field(default_factory=dict)
    rollup_days_rebuilt: int = 0
    #: the first day (ordinal) the series hold (None: from the roll-up's first day)
    since: int | None = None
    #: per count since the contract start (by key): each account's events from its
    #: contract start to the day before ``since`` (read from the roll-up's prefix table),
    #: for the accounts evaluated on a grid after their contract start
    before: dict[tuple[object, ...], np.ndarray] = field(default_factory=dict)

    def get(self, key: tuple[object, ...], size: int) -> Series:
        found = self.series.get(key)
        if found is None:
            none = np.zeros(0, dtype=np.int64)
            return Series.of(none, none, np.zeros(0), size)
        return found


def series_key(spec: EventsSpec, part: str) -> tuple[object, ...]:
    """``part``: ``n`` (counts), ``ua``/``uo`` (run starts, open runs), ``users``."""
    return (part, tuple(sorted(spec.names)), spec.window_days if part in ("ua", "uo") else None)


def _specs(definition: LifecycleDefinition) -> list[EventsSpec]:
    return [c.events for c in definition.all_conditions() if c.events is not None]


def usage_metrics(definition: LifecycleDefinition) -> MetricSet:
    """The lifecycle's event conditions as a metric set (its roll-up columns are what they
    read; the metrics themselves are never computed)."""
    metrics: dict[str, MetricDefinition] = {}
    for spec in _specs(definition):
        names = tuple(sorted(spec.names))
        flt = EventFilter(events=names)
        if spec.measure == "count":
            key = f"count:{names}"
            kind = "count"
            window = spec.window_days or 1
        elif spec.window_days:
            key = f"users:{names}:{spec.window_days}"
            kind = "distinct_users"
            window = spec.window_days
        else:
            continue  # since the contract start: read per user (see load_usage)
        if key not in metrics:
            metrics[key] = MetricDefinition(
                name=f"lifecycle_{len(metrics)}", kind=kind, filter=flt, window_days=window
            )
    return MetricSet(metrics=list(metrics.values()))


def load_usage(
    platform: Platform,
    definition: LifecycleDefinition,
    as_of: date,
    index: dict[str, int],
    engine: Engine | None = None,
    *,
    since: int | None = None,
    carried: dict[int, int] | None = None,
) -> Usage:
    """Refresh the lifecycle's roll-up through ``as_of`` and read it for the book's accounts.

    ``since`` (an ordinal day): only the roll-up's days from it on are read (the open-run
    levels of the day before come from its prefix table). ``carried`` (book index ->
    contract start ordinal) names the accounts whose counts since the contract start are
    wanted for the days before ``since`` (:attr:`Usage.before`).
    """
    usage = Usage(since=since)
    specs = _specs(definition)
    if not specs or not index:
        return usage
    own = engine is None
    engine = engine or Engine.from_settings(platform.settings)
    try:
        metrics = usage_metrics(definition)
        if metrics.metrics:
            _read_rollup(platform, engine, metrics, specs, as_of, index, usage, carried or {})
        since_start = {
            tuple(sorted(s.names))
            for s in specs
            if s.measure == "distinct_users" and not s.window_days
        }
        for names in sorted(since_start):
            usage.series[("users", names, None)] = _user_days(
                platform, engine, list(names), as_of, index
            )
    finally:
        if own:
            engine.close()
    return usage


def _read_rollup(
    platform: Platform,
    engine: Engine,
    metrics: MetricSet,
    specs: list[EventsSpec],
    as_of: date,
    index: dict[str, int],
    usage: Usage,
    carried: dict[int, int],
) -> None:
    spec = RollupSpec(metrics)
    cache = RollupCache(LakeLayout(platform.settings.lake_dir), spec, platform.settings.tz, engine)
    refreshed = cache.refresh(day_number(as_of))
    usage.rollup_days_rebuilt = refreshed.days_rebuilt
    if refreshed.first is None or refreshed.last is None:
        return
    names = cache.accounts()
    since = None if usage.since is None else usage.since - _EPOCH
    lo = refreshed.first if since is None else max(refreshed.first, since)
    position = pc.index_in(names, value_set=pa.array(list(index), pa.string()))
    size = len(index)
    earlier = _prefix_reader(refreshed, position, size) if lo > refreshed.first else None
    if earlier is not None:
        _carry_in(spec, specs, earlier, lo, carried, usage)
    # what each series reads: (series key, roll-up column, value less one: uo's levels)
    wanted: dict[tuple[object, ...], tuple[str, int]] = {}
    for events in specs:
        flt = EventFilter(events=tuple(sorted(events.names)))
        if events.measure == "count":
            wanted[series_key(events, "n")] = (spec.counts[Condition(flt).key()], 0)
        elif events.window_days:
            ua_name, uo_name = spec.user_columns(flt, events.window_days)
            wanted[series_key(events, "ua")] = (ua_name, 0)
            # uo is the open-run level plus one; 0: no record that day
            wanted[series_key(events, "uo")] = (uo_name, 1)
    # book index of each roll-up account key (-1: not in the book)
    book_index = position.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    pieces: dict[tuple[object, ...], list[tuple[int, np.ndarray, np.ndarray]]] = {
        key: [] for key in wanted
    }
    columns = sorted({c for c, _ in wanted.values()})
    for d in range(lo, refreshed.last + 1):
        path = cache.day_path(d)
        if not path.exists():
            continue
        # only the columns read, only the rows of the book's accounts with a value: the
        # whole book's history is never held as one table
        part = pq.read_table(path, columns=["account", *columns])
        where = book_index[part.column("account").to_numpy()]
        ours = where >= 0
        for key, (name, less) in wanted.items():
            values = part.column(name).to_numpy()
            sel = np.flatnonzero(ours & (values > 0))
            if len(sel):
                pieces[key].append(
                    (d + _EPOCH, where[sel].astype(np.int32), values[sel].astype(np.float64) - less)
                )
    for key, (name, _) in wanted.items():
        found = pieces.pop(key)
        if earlier is not None and key[0] == "uo":
            # the open-run level carried into ``lo`` (the latest record before it)
            held = earlier(lo - 1, [name])[name]
            opened = np.flatnonzero(held > 0)
            found.insert(0, (lo - 1 + _EPOCH, opened.astype(np.int32), held[opened]))
        usage.series[key] = _by_account(found, size)


def _by_account(pieces: list[tuple[int, np.ndarray, np.ndarray]], size: int) -> Series:
    """A series from day pieces (day, book indexes, values), oldest day first, each with an
    account at most once: placed in account, then day order by counting (no sort)."""
    if not pieces:
        none = np.zeros(0, dtype=np.int64)
        return Series.of(none, none, np.zeros(0), size)
    counts = np.zeros(size, dtype=np.int64)
    for _, accounts, _ in pieces:
        counts[accounts] += 1
    offsets = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    account = np.repeat(np.arange(size, dtype=np.int32), counts)
    day = np.empty(total, dtype=np.int32)
    value = np.empty(total, dtype=np.float64)
    cursor = offsets[:-1].copy()
    for on, accounts, values in pieces:
        at = cursor[accounts]
        day[at] = on
        value[at] = values
        cursor[accounts] += 1
    return Series(account, day, value, offsets)


PrefixReader = Callable[[int, list[str]], dict[str, np.ndarray]]


def _prefix_reader(refreshed: Refreshed, position: pa.Array, size: int) -> PrefixReader:
    """Reads running values of the prefix table on a day, by book index (0: before its
    first day or not in the book)."""

    def read(day: int, columns: list[str]) -> dict[str, np.ndarray]:
        out = {c: np.zeros(size, dtype=np.float64) for c in columns}
        path = refreshed.prefix.get(day)
        if path is None or not path.exists():
            return out
        table = pq.read_table(path, columns=["account", *columns])
        where = position.take(table.column("account")).to_numpy(zero_copy_only=False)
        where = where.astype(np.float64)
        keep = np.flatnonzero(~np.isnan(where))
        for c in columns:
            values = table.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
            out[c][where[keep].astype(np.int64)] = values[keep]
        return out

    return read


def _carry_in(
    spec: RollupSpec,
    specs: list[EventsSpec],
    earlier: PrefixReader,
    lo: int,
    carried: dict[int, int],
    usage: Usage,
) -> None:
    """:attr:`Usage.before` of the counts since the contract start: the prefix table's
    running total the day before ``lo`` less the one the day before the contract start."""
    columns = {
        series_key(s, "n"): spec.counts[Condition(EventFilter(events=tuple(sorted(s.names)))).key()]
        for s in specs
        if s.measure == "count" and not s.window_days
    }
    if not columns or not carried:
        return
    names = sorted(set(columns.values()))
    at_lo = earlier(lo - 1, names)
    by_start: dict[int, list[int]] = {}
    for i, start in carried.items():
        if start - _EPOCH < lo:
            by_start.setdefault(start - _EPOCH, []).append(i)
    before = {c: np.zeros_like(v) for c, v in at_lo.items()}
    for start, members in sorted(by_start.items()):
        rows = np.array(members, dtype=np.int64)
        at_start = earlier(start - 1, names)
        for c in names:
            before[c][rows] = at_lo[c][rows] - at_start[c][rows]
    for key, c in columns.items():
        usage.before[key] = before[c]


def _user_days(
    platform: Platform, engine: Engine, names: list[str], as_of: date, index: dict[str, int]
) -> Series:
    """Account × user × business day of the named events through ``as_of`` (value: user code)."""
    layout = LakeLayout(platform.settings.lake_dir)
    files = [str(f) for f in event_files(layout, date(1900, 1, 1), as_of)]
    size = len(index)
    none = np.zeros(0, dtype=np.int64)
    if not files:
        return Series.of(none, none, np.zeros(0), size)
    events = engine.read_parquet(files, "kizuna_lifecycle_user_events")
    last = day_number(as_of)
    segments = utc_offsets(platform.settings.tz, day_number(date(2000, 1, 1)), last)
    upper = datetime.combine(as_of + timedelta(days=2), time.min, UTC)
    scoped = events.filter(
        events.event.isin(names),
        events.user_id.notnull(),
        events.user_id != "",
        events.timestamp < ibis.literal(upper),
    )
    scoped = scoped.mutate(day=business_day(scoped.timestamp, segments))
    scoped = scoped.filter(scoped.day <= last)
    table = engine.to_pyarrow(scoped.select("account_id", "user_id", "day").distinct())
    position = pc.index_in(table.column("account_id"), value_set=pa.array(list(index)))
    where = position.to_numpy(zero_copy_only=False).astype(np.float64)
    keep = ~np.isnan(where)
    users = pc.dictionary_encode(table.column("user_id").combine_chunks()).indices
    return Series.of(
        where[keep].astype(np.int64),
        table.column("day").to_numpy()[keep].astype(np.int64) + _EPOCH,
        users.to_numpy(zero_copy_only=False)[keep].astype(np.float64),
        size,
    )
