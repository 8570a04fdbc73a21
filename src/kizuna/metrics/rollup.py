"""The daily usage roll-up: one row per account and business day, the input of every window.

A metric set needs, per account and business day, only a few numbers:

* ``n<i>`` — events matching condition *i* (a metric's filter, or filter and one
  feature for ``feature_breadth``); counts, ``active_days`` (days with ``n > 0``),
  ``days_since_last`` (last day with ``n > 0``) and feature breadth read these;
* ``s<j>`` — the sum of a numeric property over the events matching a condition;
* ``ua<k>w<W>`` / ``uo<k>w<W>`` — for distinct users under filter *k* and window
  *W*: users whose activity *starts a run* that day (no matching event in the
  W - 1 days before), and the *open runs* at the end of the day plus one (users
  whose last activity so far is less than W days before their next; 0 marks
  "no user activity recorded that day").

A *run* is a user's stretch of activity with gaps shorter than W days. A user
is active in ``(D - W, D]`` exactly when a run of theirs starts in the window
or was open at the end of ``D - W``, so::

    distinct_users(D, W) = sum(ua, D - W < day <= D) + open_runs(D - W)

With these columns every event metric is a difference of running values (or a
level read at one day), which :mod:`kizuna.metrics.cache` keeps per day in a
prefix table and :mod:`kizuna.metrics.compile` reads for any number of as-of
dates. The run columns of day *d* depend on events up to W days either side,
which is why the cache keys each day on the lake partitions within that
*horizon*.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from kizuna.engine import Engine
from kizuna.metrics.definitions import EVENT_KINDS, EventFilter, MetricSet, PropertyPredicate

#: Bump when the roll-up's meaning or layout changes: old caches are then ignored.
ROLLUP_VERSION = 3
#: The same for the prefix table derived from the roll-up.
PREFIX_VERSION = 1
EPOCH = date(1970, 1, 1)
JsonText = Callable[[ir.StringColumn, str], ir.StringValue]


def day_number(day: date) -> int:
    """Days since 1970-01-01 (the engine-side representation of a business date)."""
    return (day - EPOCH).days


def from_day_number(number: int) -> date:
    return EPOCH + timedelta(days=number)


def utc_offsets(tz: ZoneInfo, first_day: int, last_day: int) -> list[tuple[int, int]]:
    """``[(from_epoch_second, offset_seconds), ...]``: the timezone's UTC offset over a range.

    The first entry starts at -inf (``from_epoch_second`` ignored); each later one
    starts at an exact transition instant found by bisection.
    """

    def offset(second: int) -> int:
        delta = datetime.fromtimestamp(second, UTC).astimezone(tz).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    start = (first_day - 2) * 86400
    end = (last_day + 3) * 86400
    segments = [(start, offset(start))]
    for second in range(start, end, 86400):
        if offset(second + 86400) != segments[-1][1]:
            lo, hi = second, second + 86400
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == segments[-1][1]:
                    lo = mid
                else:
                    hi = mid
            segments.append((hi, offset(hi)))
    return segments


def business_day(ts: ir.TimestampColumn, segments: list[tuple[int, int]]) -> ir.IntegerColumn:
    """The business-timezone day number of a UTC timestamp column."""
    seconds = ts.epoch_seconds()
    if len(segments) == 1:
        shift: Any = segments[0][1]
    else:
        cases = [(seconds < start, segments[i][1]) for i, (start, _) in enumerate(segments[1:])]
        shift = ibis.cases(*cases, else_=segments[-1][1])
    return ((seconds + shift) / 86400).floor().cast("int32")


def _predicate(
    json_text: JsonText, properties: ir.StringColumn, name: str, test: PropertyPredicate
) -> ir.BooleanValue:
    text = json_text(properties, name)
    number = text.try_cast("float64")
    parts: list[ir.BooleanValue] = []

    def same(expected: Any) -> ir.BooleanValue:
        if isinstance(expected, bool):
            return text == ("true" if expected else "false")
        if isinstance(expected, str):
            return text == expected
        return number == float(expected)

    if test.eq is not None:
        parts.append(same(test.eq))
    if test.ne is not None:
        parts.append(~same(test.ne))
    for op, bound in (("gt", test.gt), ("gte", test.gte), ("lt", test.lt), ("lte", test.lte)):
        if bound is not None:
            parts.append(
                {
                    "gt": number > bound,
                    "gte": number >= bound,
                    "lt": number < bound,
                    "lte": number <= bound,
                }[op]
            )
    if test.in_ is not None:
        strings = [v for v in test.in_ if isinstance(v, str)]
        numbers = [float(v) for v in test.in_ if not isinstance(v, str)]
        options: list[ir.BooleanValue] = []
        if strings:
            options.append(text.isin(strings))
        if numbers:
            options.append(number.isin(numbers))
        parts.append(ibis.or_(*options))
    return ibis.and_(*parts).fill_null(False)


@dataclass(frozen=True)
class Condition:
    """Which events a roll-up column counts: a metric filter, optionally one event name."""

    filter: EventFilter
    event: str | None = None

    def key(self) -> str:
        return f"{self.filter.key()}|{self.event or ''}"

    def expr(self, events: ir.Table, json_text: JsonText) -> ir.BooleanValue:
        parts: list[ir.BooleanValue] = []
        if self.filter.events:
            parts.append(events.event.isin(list(self.filter.events)))
        if self.event is not None:
            parts.append(events.event == self.event)
        for name, test in self.filter.where.items():
            parts.append(_predicate(json_text, events.properties, name, test))
        return ibis.and_(*parts) if parts else ibis.literal(True)


class RollupSpec:
    """The roll-up columns a metric set needs (see the module docstring)."""

    def __init__(self, metrics: MetricSet) -> None:
        self.counts: dict[str, str] = {}  # condition key -> column
        self.sums: dict[tuple[str, str], str] = {}  # (condition key, property) -> column
        self.user_filters: dict[str, str] = {}  # filter key -> k
        self.user_windows: dict[str, set[int]] = {}  # filter key -> windows
        self._conditions: dict[str, Condition] = {}
        self._filters: dict[str, EventFilter] = {}
        self.properties: list[str] = []
        self.presence: set[str] = set()  # count columns whose active days are counted
        self.last: set[str] = set()  # count columns whose last active day is kept
        for m in metrics.metrics:
            if m.kind not in EVENT_KINDS:
                continue
            assert m.window_days is not None
            if m.kind == "feature_breadth":
                for feature in m.features or ():
                    self.count_column(Condition(m.filter, feature))
            elif m.kind == "sum":
                assert m.property is not None
                self.sum_column(Condition(m.filter), m.property)
            elif m.kind in ("distinct_users", "seat_share"):
                self._users(m.filter, m.window_days)
            elif m.kind == "per_user":
                self.count_column(Condition(m.filter))
                self._users(m.active_filter or EventFilter(), m.window_days)
            else:
                column = self.count_column(Condition(m.filter))
                if m.kind == "active_days":
                    self.presence.add(column)
                elif m.kind == "days_since_last":
                    self.last.add(column)
        self.properties = sorted({prop for _, prop in self.sums})

    # -- columns -----------------------------------------------------------------

    def count_column(self, condition: Condition) -> str:
        key = condition.key()
        if key not in self.counts:
            self.counts[key] = f"n{len(self.counts)}"
            self._conditions[key] = condition
        return self.counts[key]

    def sum_column(self, condition: Condition, prop: str) -> str:
        key = (condition.key(), prop)
        if key not in self.sums:
            self.sums[key] = f"s{len(self.sums)}"
            self._conditions[condition.key()] = condition
        return self.sums[key]

    def _users(self, flt: EventFilter, window: int) -> None:
        key = flt.key()
        if key not in self.user_filters:
            self.user_filters[key] = str(len(self.user_filters))
            self._filters[key] = flt
            self.user_windows[key] = set()
        self.user_windows[key].add(window)

    def user_columns(self, flt: EventFilter, window: int) -> tuple[str, str]:
        """(run-start column, open-runs column) of distinct users under ``flt`` over ``window``."""
        k = self.user_filters[flt.key()]
        return f"ua{k}w{window}", f"uo{k}w{window}"

    @property
    def horizon(self) -> int:
        """Days either side a day's run columns depend on (0 without distinct-user metrics)."""
        return max((max(ws) for ws in self.user_windows.values()), default=0)

    @property
    def is_empty(self) -> bool:
        return not (self.counts or self.sums or self.user_filters)

    def value_columns(self) -> list[tuple[str, pa.DataType]]:
        cols: list[tuple[str, pa.DataType]] = [(c, pa.int64()) for c in self.counts.values()]
        cols += [(c, pa.float64()) for c in self.sums.values()]
        for key, k in self.user_filters.items():
            for w in sorted(self.user_windows[key]):
                cols += [(f"ua{k}w{w}", pa.int64()), (f"uo{k}w{w}", pa.int64())]
        return cols

    def prefix_columns(self) -> list[tuple[str, str, pa.DataType]]:
        """``(name, how, type)`` of the prefix table; ``how`` is ``sum`` (running total),
        ``days`` (running count of days with the count > 0), ``level`` (the open-run
        level, carried forward) or ``last`` (last day with the count > 0)."""
        cols: list[tuple[str, str, pa.DataType]] = []
        for name, typ in self.value_columns():
            how = "level" if name.startswith("uo") else "sum"
            cols.append((name, how, typ if how == "sum" else pa.int32()))
        cols += [(f"pd_{c}", "days", pa.int32()) for c in sorted(self.presence)]
        cols += [(f"l_{c}", "last", pa.int32()) for c in sorted(self.last)]
        return cols

    def prefix_schema(self) -> pa.Schema:
        """Arrow schema of the prefix table: one row per account and day, running values."""
        return pa.schema(
            [pa.field("account", pa.int32()), pa.field("day", pa.int32())]
            + [pa.field(name, typ) for name, _, typ in self.prefix_columns()]
        )

    def expression_schema(self) -> pa.Schema:
        """Arrow schema of :meth:`expression`'s result (accounts by id)."""
        return pa.schema(
            [pa.field("account_id", pa.string()), pa.field("day", pa.int32())]
            + [pa.field(name, typ) for name, typ in self.value_columns()]
        )

    def schema(self) -> pa.Schema:
        """Arrow schema of the cached roll-up (accounts by integer key)."""
        return pa.schema(
            [pa.field("account", pa.int32()), pa.field("day", pa.int32())]
            + [pa.field(name, typ) for name, typ in self.value_columns()]
        )

    def fingerprint(self, tz: ZoneInfo, engine: str) -> str:
        """Identifies this roll-up's definition (columns, timezone, engine) for the cache."""
        parts = [
            f"v{ROLLUP_VERSION}",
            str(tz),
            engine,
            *(f"{c}={k}" for k, c in self.counts.items()),
            *(f"{c}={k}:{p}" for (k, p), c in self.sums.items()),
            *(f"u{k}={f}:{sorted(self.user_windows[f])}" for f, k in self.user_filters.items()),
        ]
        return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:16]

    def prefix_fingerprint(self) -> str:
        """Identifies the prefix table's columns (within one roll-up cache)."""
        text = "\n".join(f"{n}:{h}:{t}" for n, h, t in self.prefix_columns())
        return hashlib.sha1(f"p{PREFIX_VERSION}\n{text}".encode()).hexdigest()[:12]

    # -- the expression ------------------------------------------------------------

    def expression(
        self,
        events: ir.Table,
        tz: ZoneInfo,
        first: int,
        last: int,
        json_text: JsonText | None = None,
    ) -> ir.Table:
        """The roll-up of business days ``[first, last]`` from ``events`` (an Ibis table).

        ``events`` must hold every event of the UTC dates ``[first - horizon - 1,
        last + horizon + 1]`` (the run columns look ``horizon`` days either side).
        """
        json_text = json_text or Engine.duckdb_json_text
        h = self.horizon
        segments = utc_offsets(tz, first - h, last + h)
        lower = datetime.combine(from_day_number(first - h - 1), datetime.min.time(), UTC)
        upper = datetime.combine(from_day_number(last + h + 2), datetime.min.time(), UTC)
        scoped = events.filter(events.timestamp >= lower, events.timestamp < upper)
        scoped = scoped.mutate(day=business_day(scoped.timestamp, segments))
        columns = self.value_columns()
        zero: dict[str, Any] = {
            name: ibis.literal(0, type="int64" if typ == pa.int64() else "float64")
            for name, typ in columns
        }
        pieces: list[ir.Table] = []
        if self.counts or self.sums:
            inside = scoped.filter(scoped.day >= first, scoped.day <= last)
            props = {
                f"p_{p}": json_text(inside.properties, p).try_cast("float64")
                for p in self.properties
            }
            inside = inside.mutate(**props) if props else inside
            aggs: dict[str, Any] = {}
            for key, col in self.counts.items():
                aggs[col] = inside.count(where=self._conditions[key].expr(inside, json_text))
            for (key, prop), col in self.sums.items():
                cond = self._conditions[key].expr(inside, json_text)
                aggs[col] = inside[f"p_{prop}"].sum(where=cond).fill_null(0.0)
            main = inside.group_by(["account_id", "day"]).agg(**aggs)
            pieces.append(
                main.select(
                    "account_id",
                    "day",
                    **{n: (main[n] if n in aggs else zero[n]) for n, _ in columns},
                )
            )
        if self.user_filters:
            near = scoped.filter(
                scoped.day >= first - h, scoped.day <= last + h, scoped.user_id.notnull()
            )
            flags = {
                f"f{k}": near.count(where=Condition(self._filters[fk]).expr(near, json_text))
                for fk, k in self.user_filters.items()
            }
            user_days = near.group_by(["account_id", "user_id", "day"]).agg(**flags)
            for fk, k in self.user_filters.items():
                pieces.append(self._user_piece(user_days, k, fk, first, last, columns, zero))
        if len(pieces) == 1:
            return pieces[0]
        union = ibis.union(*pieces)
        return union.group_by(["account_id", "day"]).agg(**{n: union[n].sum() for n, _ in columns})

    def _user_piece(
        self,
        user_days: ir.Table,
        k: str,
        filter_key: str,
        first: int,
        last: int,
        columns: list[tuple[str, pa.DataType]],
        zero: dict[str, Any],
    ) -> ir.Table:
        """Run starts and open runs of filter ``k`` per account and day in ``[first, last]``.

        ``uo`` is a level, not a flow: the runs still open at the end of the day
        (started, not yet ended) = the runs open before ``first`` (counted
        directly: a user active before ``first`` whose next activity is on or
        after ``first`` and less than W days later) plus run starts minus run
        ends since. It is stored plus one, so that 0 means "no user activity
        recorded that day" once pieces are merged.
        """
        windows = sorted(self.user_windows[filter_key])
        runs = user_days.filter(user_days[f"f{k}"] > 0)
        by_user = ibis.window(group_by=[runs.account_id, runs.user_id], order_by=runs.day)
        runs = runs.select(
            "account_id",
            "day",
            prev=runs.day.lag().over(by_user),
            next=runs.day.lead().over(by_user),
        )
        inside = runs.filter(runs.day >= first, runs.day <= last)
        flow_aggs: dict[str, Any] = {}
        for w in windows:
            flow_aggs[f"ua{k}w{w}"] = inside.count(
                where=inside.prev.isnull() | (inside.day - inside.prev >= w)
            )
            flow_aggs[f"_uz{w}"] = inside.count(
                where=inside.next.isnull() | (inside.next - inside.day >= w)
            )
        flows = inside.group_by(["account_id", "day"]).agg(**flow_aggs)
        flows = flows.mutate(**{f"_uc{w}": ibis.literal(0, type="int64") for w in windows})
        value_names = sorted(c for c in flows.columns if c not in ("account_id", "day"))
        flows = flows.select("account_id", "day", *value_names)
        before = runs.filter(runs.day < first, runs.day >= first - max(windows))
        carry = before.group_by("account_id").agg(
            **{
                f"_uc{w}": before.count(
                    where=(before.next >= first) & (before.next - before.day < w)
                )
                for w in windows
            }
        )
        carry = carry.mutate(
            day=ibis.literal(first, type="int32"),
            **{f"ua{k}w{w}": ibis.literal(0, type="int64") for w in windows},
            **{f"_uz{w}": ibis.literal(0, type="int64") for w in windows},
        )
        carry = carry.select("account_id", "day", *value_names)
        both = ibis.union(flows, carry)
        both = both.group_by(["account_id", "day"]).agg(
            **{c: both[c].sum() for c in both.columns if c not in ("account_id", "day")}
        )
        by_account = ibis.cumulative_window(group_by="account_id", order_by="day")
        levels = {
            f"uo{k}w{w}": (both[f"_uc{w}"] + both[f"ua{k}w{w}"] - both[f"_uz{w}"])
            .sum()
            .over(by_account)
            + 1
            for w in windows
        }
        piece = both.select("account_id", "day", *(f"ua{k}w{w}" for w in windows), **levels)
        return piece.select(
            "account_id",
            "day",
            **{n: (piece[n] if n in piece.columns else zero[n]) for n, _ in columns},
        )
