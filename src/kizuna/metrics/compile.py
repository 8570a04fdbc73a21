"""Compile a :class:`MetricSet` to Ibis expressions (DuckDB or Spark run them unchanged).

The plan, for a set of as-of dates at once:

1. **daily roll-up** — one row per account and business day with the counts,
   property sums and distinct-user run starts/ends the metrics need
   (:mod:`kizuna.metrics.rollup`; cached per day by :mod:`kizuna.metrics.cache`).
2. **prefix sums** — for each distinct window length W, the *points* where
   prefix values are needed (every as-of date D and D - W); each roll-up day
   goes to the first point on or after it (an equi-join with a small day →
   bucket table), buckets are summed per account, laid on the grid accounts ×
   points and accumulated with a cumulative window per account. A windowed
   value is then ``prefix(D) - prefix(D - W)``: a count, a sum, active days,
   distinct users (run starts up to D minus run ends up to D - W), a feature
   used in the window; the last active day is a cumulative maximum.
3. **contracts** — seats live at D and the first contract start, per account.
4. **grid** — every account × every date, left-joined to the above, with the
   per-kind rules for empty windows (0 for counts, null for ratios).
5. **derived** — ratios and percent changes over the grid.

Accounts are integer keys inside the engine (``account``, from the roll-up
cache's account dictionary; :mod:`kizuna.metrics.service` maps them back to
ids): hashing, sorting and joining integers is several times cheaper than
strings. One pass serves any number of dates: the work grows with accounts × points,
not with dates × window length. Dates are integer day numbers inside the
engine so windows are integer arithmetic on every engine.
"""

from __future__ import annotations

import bisect
import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from kizuna.metrics.definitions import EVENT_KINDS, EventFilter, MetricSet
from kizuna.metrics.rollup import (
    EPOCH,
    Condition,
    RollupSpec,
    business_day,
    day_number,
    from_day_number,
    utc_offsets,
)

Register = Callable[[str, pa.Table], ir.Table]
#: Packs (day, open-run level) into one int64 as day * base + level (levels stay < 2**32).
_LEVEL_BASE = 2**32

__all__ = [
    "EPOCH",
    "MetricPlan",
    "business_day",
    "day_number",
    "from_day_number",
    "needed_days",
    "utc_offsets",
]


def needed_days(metrics: MetricSet, as_of_days: Sequence[int]) -> list[int]:
    """The as-of days to compute: the requested ones plus those percent changes look back to."""
    days = set(as_of_days)
    lags = [m.days_earlier for m in metrics.metrics if m.kind == "pct_change" and m.days_earlier]
    for _ in range(len(lags)):
        days |= {d - lag for d in days for lag in lags}
    return sorted(days)


class MetricPlan:
    """Builds the Ibis expressions for one metric set over one set of dates.

    ``register(name, arrow_table)`` makes a small Arrow table (points, bucket
    maps) available to the engine.
    """

    def __init__(
        self, metrics: MetricSet, as_of_days: Sequence[int], tz: ZoneInfo, register: Register
    ) -> None:
        self.metrics = metrics
        self.as_of_days = sorted(set(as_of_days))
        self.days = needed_days(metrics, self.as_of_days)
        self.tz = tz
        self._register = register
        self.event_metrics = [m for m in metrics.metrics if m.kind in EVENT_KINDS]
        self.spec = RollupSpec(metrics)

    @property
    def first_window_day(self) -> int:
        """The first roll-up day any window reads (distinct users look back 2 W days)."""
        reach = [
            2 * (m.window_days or 0)
            if m.kind in ("distinct_users", "seat_share", "per_user")
            else (m.window_days or 0)
            for m in self.event_metrics
        ]
        return self.days[0] - max(reach, default=0) + 1

    @property
    def last_day(self) -> int:
        """The last business day whose events any value depends on."""
        return self.days[-1]

    # -- step 2: windows over the roll-up -------------------------------------------

    def _points(self, window: int, first_day: int | None) -> tuple[ir.Table, ir.Table, list[int]]:
        points = sorted(set(self.days) | {d - window for d in self.days})
        if first_day is None or first_day > points[-1]:
            days: list[int] = []
        else:
            days = list(range(first_day, points[-1] + 1))
        buckets = [points[bisect.bisect_left(points, d)] for d in days]
        bucket_map = self._register(
            f"kizuna_buckets_w{window}",
            pa.table({"day": pa.array(days, pa.int32()), "bucket": pa.array(buckets, pa.int32())}),
        )
        point_table = self._register(
            f"kizuna_points_w{window}", pa.table({"point": pa.array(points, pa.int32())})
        )
        return bucket_map, point_table, points

    def windows(
        self, recent: ir.Table, accounts: ir.Table, first_day: int | None
    ) -> list[ir.Table]:
        """Step 2: one table per window length, keyed by (as_of, account).

        ``recent`` holds at least the roll-up days from :attr:`first_window_day`
        on, ``first_day`` is the first day the lake can hold. Distinct users are
        run starts in the window plus the runs still open at ``D - W`` (the level
        on the last roll-up row at or before ``D - W``; a row more than W days
        earlier cannot have open runs, so 2 W days of roll-up suffice).
        """
        spec = self.spec
        out = []
        for window in sorted({m.window_days for m in self.event_metrics if m.window_days}):
            group = [m for m in self.event_metrics if m.window_days == window]
            sums: set[str] = set()
            presence: set[str] = set()
            last: set[str] = set()
            for m in group:
                if m.kind in ("count", "active_days", "days_since_last", "per_user"):
                    col = spec.count_column(Condition(m.filter))
                    {"active_days": presence, "days_since_last": last}.get(m.kind, sums).add(col)
                if m.kind == "sum":
                    assert m.property is not None
                    sums.add(spec.sum_column(Condition(m.filter), m.property))
                if m.kind == "feature_breadth":
                    sums.update(spec.count_column(Condition(m.filter, f)) for f in m.features or ())
                if m.kind in ("distinct_users", "seat_share", "per_user"):
                    flt = m.filter if m.kind != "per_user" else (m.active_filter or EventFilter())
                    sums.update(spec.user_columns(flt, window))
            bucket_map, point_table, _ = self._points(window, first_day)
            levels = {c for c in sums if c.startswith("uo")}
            # open runs at D - W are read from the last row of the W days before it
            reach = 2 * window if levels else window
            near = recent.filter(recent.day >= self.days[0] - reach + 1).join(bucket_map, "day")
            aggs: dict[str, Any] = {c: near[c].sum() for c in sorted(sums - levels)}
            aggs.update({f"pd_{c}": near.count(where=near[c] > 0) for c in sorted(presence)})
            aggs.update({f"l_{c}": near.day.max(where=near[c] > 0) for c in sorted(last)})
            # the latest day's level wins: day and level packed in one integer
            aggs.update(
                {
                    f"l_{c}": (near.day.cast("int64") * _LEVEL_BASE + near[c]).max(
                        where=near[c] > 0
                    )
                    for c in sorted(levels)
                }
            )
            per_bucket = near.group_by(["account", "bucket"]).agg(**aggs)
            g = accounts.select("account").cross_join(point_table)
            joined = g.left_join(
                per_bucket, [g.account == per_bucket.account, g.point == per_bucket.bucket]
            )
            filled = joined.select(
                joined.account,
                joined.point,
                **{c: joined[c].fill_null(0) for c in aggs if not c.startswith("l_")},
                **{c: joined[c] for c in aggs if c.startswith("l_")},
            )
            cumulative = ibis.cumulative_window(group_by="account", order_by="point")
            cum = filled.select(
                "account",
                "point",
                **{
                    c: (filled[c].max() if c.startswith("l_") else filled[c].sum()).over(cumulative)
                    for c in aggs
                },
            )
            cur = cum.filter(cum.point.isin(self.days))
            before = cum.select(
                b__account=cum.account,
                b__point=(cum.point + window).cast("int32"),
                **{f"b__{c}": cum[c] for c in aggs if not c.startswith("l_") or c[2:] in levels},
            )
            both = cur.join(
                before, [cur.account == before.b__account, cur.point == before.b__point]
            )

            def diff(col: str, both: ir.Table = both) -> ir.IntegerValue:
                return both[col] - both[f"b__{col}"]

            values: dict[str, Any] = {}
            for m in group:
                name = f"m__{m.name}"
                if m.kind in ("count", "per_user"):
                    values[name] = diff(spec.count_column(Condition(m.filter)))
                elif m.kind == "sum":
                    assert m.property is not None
                    values[name] = diff(spec.sum_column(Condition(m.filter), m.property))
                elif m.kind == "active_days":
                    values[name] = diff(f"pd_{spec.count_column(Condition(m.filter))}")
                elif m.kind == "feature_breadth":
                    used = [
                        (diff(spec.count_column(Condition(m.filter, f))) > 0).cast("int64")
                        for f in m.features or ()
                    ]
                    values[name] = functools.reduce(operator.add, used)
                elif m.kind == "days_since_last":
                    seen = both[f"l_{spec.count_column(Condition(m.filter))}"]
                    values[name] = ibis.ifelse(
                        seen > both.point - window, seen, ibis.null().cast("int32")
                    )
                if m.kind in ("distinct_users", "seat_share", "per_user"):
                    flt = m.filter if m.kind != "per_user" else (m.active_filter or EventFilter())
                    start, level = spec.user_columns(flt, window)
                    open_before = (both[f"b__l_{level}"] % _LEVEL_BASE - 1).fill_null(0)
                    users = diff(start) + open_before
                    values[name if m.kind != "per_user" else f"{name}__den"] = users
            out.append(both.select(as_of=both.point.cast("int32"), account=both.account, **values))
        return out

    # -- step 3 and the whole plan ---------------------------------------------------

    def contracts(self, lines: ir.Table, dates: ir.Table) -> ir.Table:
        """Step 3: seats live at D (sum of quantity) and the first contract start, per account."""
        joined = lines.join(dates, lines.start_day <= dates.as_of)
        live = (joined.end_day >= joined.as_of) & (joined.status != "cancelled")
        return joined.group_by(["as_of", "account"]).agg(
            c__seats=joined.quantity.sum(where=live), c__first_start=joined.start_day.min()
        )

    def build(
        self,
        *,
        recent: ir.Table,
        first_day: int | None,
        accounts: ir.Table,
        lines: ir.Table,
        dates: ir.Table,
    ) -> ir.Table:
        """The whole plan: a wide table (as_of day number, account key, one column per metric).

        ``recent`` is the daily roll-up of the business days from
        :attr:`first_window_day` (or more) to :attr:`last_day`; ``first_day`` the
        first day the lake can hold (None for an empty lake).
        """
        grid = accounts.select("account").cross_join(dates)
        parts: list[ir.Table] = []
        if self.event_metrics:
            parts.extend(self.windows(recent, accounts, first_day))
        if any(m.kind in ("tenure", "seat_share") for m in self.metrics.metrics):
            parts.append(self.contracts(lines, dates))
        wide = grid
        for part in parts:
            value_columns = [c for c in part.columns if c not in ("as_of", "account")]
            joined = wide.left_join(
                part,
                [wide.account == part.account, wide.as_of == part.as_of],
            )
            wide = joined.select(
                *(joined[c] for c in wide.columns), *(joined[c] for c in value_columns)
            )
        values: dict[str, Any] = {}
        for m in self.metrics.metrics:
            col = f"m__{m.name}"
            if m.kind in ("count", "sum", "distinct_users", "active_days", "feature_breadth"):
                values[m.name] = wide[col].fill_null(0).cast("float64")
            elif m.kind == "per_user":
                den = wide[f"{col}__den"].fill_null(0).nullif(0).cast("float64")
                values[m.name] = wide[col].fill_null(0).cast("float64") / den
            elif m.kind == "seat_share":
                seats = wide.c__seats.cast("float64").nullif(0.0)
                values[m.name] = wide[col].fill_null(0).cast("float64") / seats
            elif m.kind == "days_since_last":
                values[m.name] = (wide.as_of - wide[col]).cast("float64")
            elif m.kind == "tenure":
                values[m.name] = (wide.as_of - wide.c__first_start).cast("float64")
        base = wide.select("as_of", "account", **values)
        return self.derived(base)

    def derived(self, wide: ir.Table) -> ir.Table:
        """Step 5: ratios and percent changes, in dependency order."""
        for m in self.metrics.metrics:
            if m.kind == "ratio":
                assert m.numerator and m.denominator
                wide = wide.mutate(**{m.name: wide[m.numerator] / wide[m.denominator].nullif(0.0)})
            elif m.kind == "pct_change":
                assert m.of and m.days_earlier
                prev = wide.select(
                    "account",
                    as_of=(wide.as_of + m.days_earlier).cast("int32"),
                    prev__value=wide[m.of],
                )
                joined = wide.left_join(
                    prev, [wide.account == prev.account, wide.as_of == prev.as_of]
                )
                wide = joined.select(
                    *(joined[c] for c in wide.columns),
                    **{
                        m.name: (joined[m.of] - joined.prev__value)
                        / joined.prev__value.nullif(0.0)
                        * 100.0
                    },
                )
        return wide

    def result(self, wide: ir.Table, names: Sequence[str] | None = None) -> ir.Table:
        """Only the requested dates (and metrics), ordered for writing (``account`` keys)."""
        names = list(names) if names is not None else self.metrics.names
        out = wide.filter(wide.as_of.isin(self.as_of_days))
        return out.select("as_of", "account", *names).order_by(["as_of", "account"])
