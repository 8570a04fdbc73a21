"""Compile a :class:`MetricSet` to Ibis expressions (DuckDB or Spark run them unchanged).

The plan, for a set of as-of dates at once:

1. **daily roll-up** — one row per account and business day with the counts,
   property sums and distinct-user run starts and open-run levels the metrics
   need (:mod:`kizuna.metrics.rollup`), cached per day, and its **prefix
   table** — per account and day the running values up to that day
   (:mod:`kizuna.metrics.cache`). Both are kept up to date incrementally.
2. **windows** — for each distinct window length W, the prefix rows at every
   as-of date D joined to those at D - W: a windowed count, sum, number of
   active days or use of a feature is ``running(D) - running(D - W)``;
   distinct users are run starts in the window plus the runs still open at
   D - W; days since the last event read the last active day at D.
3. **contracts** — seats live at D and the first contract start, per account.
4. **grid** — every account × every date, left-joined to the above, with the
   per-kind rules for empty windows (0 for counts, null for ratios).
5. **derived** — ratios and percent changes over the grid.

The work grows with accounts × dates, not with events or window lengths.
Accounts are integer keys inside the engine (``account``, from the roll-up
cache's account dictionary; :mod:`kizuna.metrics.service` maps them back to
ids): hashing, sorting and joining integers is several times cheaper than
strings. Dates are integer day numbers so windows are integer arithmetic on
every engine.
"""

from __future__ import annotations

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
    def last_day(self) -> int:
        """The last business day whose events any value depends on."""
        return self.days[-1]

    @property
    def windows_used(self) -> list[int]:
        return sorted({m.window_days for m in self.event_metrics if m.window_days})

    def _reads(self, lag: int, first: int | None, last: int | None) -> dict[int, int]:
        """``{as_of: prefix day}`` for the rows at ``as_of - lag``.

        After the lake's last day the running values stay those of the last day;
        before its first day they are all 0 (no row is read).
        """
        if first is None or last is None:
            return {}
        return {d: min(d - lag, last) for d in self.days if d - lag >= first}

    def prefix_days(self, first: int | None, last: int | None) -> list[int]:
        """The prefix days the windows read (for D and every D - W)."""
        days: set[int] = set()
        for lag in [0, *self.windows_used]:
            days.update(self._reads(lag, first, last).values())
        return sorted(days)

    def _rows_at(
        self, prefix: ir.Table, lag: int, columns: set[str], first: int | None, last: int | None
    ) -> ir.Table:
        """Prefix rows at ``as_of - lag`` for every as-of date: (account, as_of, columns)."""
        reads = self._reads(lag, first, last)
        mapping = self._register(
            f"kizuna_prefix_reads_{lag}",
            pa.table(
                {
                    "as_of": pa.array(list(reads), pa.int32()),
                    "day": pa.array(list(reads.values()), pa.int32()),
                }
            ),
        )
        # a projection per use, so engines never materialise all columns at once
        rows = prefix.select("account", "day", *sorted(columns)).join(mapping, "day")
        prefix_name = "" if lag == 0 else f"w{lag}__"
        return rows.select(
            **{f"{prefix_name}account": rows.account, f"{prefix_name}as_of": rows.as_of},
            **{f"{prefix_name}{c}": rows[c] for c in sorted(columns)},
        )

    # -- step 2: windows over the prefix table ----------------------------------------

    def windows(self, prefix: ir.Table, first: int | None, last: int | None) -> ir.Table:
        """Step 2: every event metric, keyed by (as_of, account).

        ``prefix`` holds the prefix rows of (at least) :meth:`prefix_days`;
        accounts without a row at a day had no activity yet (running values 0).
        """
        spec = self.spec
        running: dict[int, set[str]] = {w: set() for w in self.windows_used}
        levels: dict[int, set[str]] = {w: set() for w in self.windows_used}
        current: set[str] = set()
        for m in self.event_metrics:
            w = m.window_days
            assert w is not None
            if m.kind in ("count", "per_user"):
                running[w].add(spec.count_column(Condition(m.filter)))
            elif m.kind == "sum":
                assert m.property is not None
                running[w].add(spec.sum_column(Condition(m.filter), m.property))
            elif m.kind == "active_days":
                running[w].add(f"pd_{spec.count_column(Condition(m.filter))}")
            elif m.kind == "days_since_last":
                current.add(f"l_{spec.count_column(Condition(m.filter))}")
            elif m.kind == "feature_breadth":
                running[w].update(
                    spec.count_column(Condition(m.filter, f)) for f in m.features or ()
                )
            if m.kind in ("distinct_users", "seat_share", "per_user"):
                flt = m.filter if m.kind != "per_user" else (m.active_filter or EventFilter())
                start, level = spec.user_columns(flt, w)
                running[w].add(start)
                levels[w].add(level)
        t = self._rows_at(prefix, 0, current.union(*running.values()), first, last)
        for w in self.windows_used:
            before = self._rows_at(prefix, w, running[w] | levels[w], first, last)
            joined = t.left_join(
                before, [t.account == before[f"w{w}__account"], t.as_of == before[f"w{w}__as_of"]]
            )
            t = joined.select(
                *(joined[c] for c in t.columns),
                *(joined[c] for c in before.columns if not c.endswith(("__account", "__as_of"))),
            )

        def diff(col: str, w: int) -> ir.NumericValue:
            return t[col] - t[f"w{w}__{col}"].fill_null(0)

        values: dict[str, Any] = {}
        for m in self.event_metrics:
            name, w = f"m__{m.name}", m.window_days
            assert w is not None
            if m.kind in ("count", "per_user"):
                values[name] = diff(spec.count_column(Condition(m.filter)), w)
            elif m.kind == "sum":
                assert m.property is not None
                values[name] = diff(spec.sum_column(Condition(m.filter), m.property), w)
            elif m.kind == "active_days":
                values[name] = diff(f"pd_{spec.count_column(Condition(m.filter))}", w)
            elif m.kind == "feature_breadth":
                used = [
                    (diff(spec.count_column(Condition(m.filter, f)), w) > 0).cast("int64")
                    for f in m.features or ()
                ]
                values[name] = functools.reduce(operator.add, used)
            elif m.kind == "days_since_last":
                seen = t[f"l_{spec.count_column(Condition(m.filter))}"]
                values[name] = ibis.ifelse(seen > t.as_of - w, seen, ibis.null().cast("int32"))
            if m.kind in ("distinct_users", "seat_share", "per_user"):
                flt = m.filter if m.kind != "per_user" else (m.active_filter or EventFilter())
                start, level = spec.user_columns(flt, w)
                users = diff(start, w) + t[f"w{w}__{level}"].fill_null(0)
                values[name if m.kind != "per_user" else f"{name}__den"] = users
        return t.select("as_of", "account", **values)

    # -- step 3 and the whole plan ---------------------------------------------------

    def contracts(self, lines: ir.Table, dates: ir.Table) -> list[ir.Table]:
        """Step 3: seats live at D (sum of quantity of lines live at D, not cancelled) per
        (as_of, account), and the first contract start per account (every line counts)."""
        live = lines.filter(lines.status != "cancelled")
        joined = live.join(dates, [live.start_day <= dates.as_of, live.end_day >= dates.as_of])
        seats = joined.group_by(["as_of", "account"]).agg(c__seats=joined.quantity.sum())
        first = lines.group_by("account").agg(c__first_start=lines.start_day.min())
        return [seats, first]

    def build(
        self,
        *,
        prefix: ir.Table,
        first: int | None,
        last: int | None,
        accounts: ir.Table,
        lines: ir.Table,
        dates: ir.Table,
    ) -> ir.Table:
        """The whole plan: a wide table (as_of day number, account key, one column per metric).

        ``prefix`` is the prefix table (:mod:`kizuna.metrics.cache`) with at
        least the :meth:`prefix_days`; ``first``/``last`` are the first and last
        day it covers (None for an empty lake).
        """
        grid = accounts.select("account").cross_join(dates)
        parts: list[ir.Table] = []
        if self.event_metrics:
            parts.append(self.windows(prefix, first, last))
        if any(m.kind in ("tenure", "seat_share") for m in self.metrics.metrics):
            parts.extend(self.contracts(lines, dates))
        wide = grid
        for part in parts:
            value_columns = [c for c in part.columns if c not in ("as_of", "account")]
            keys = [wide.account == part.account]
            if "as_of" in part.columns:
                keys.append(wide.as_of == part.as_of)
            joined = wide.left_join(part, keys)
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
                started = wide.c__first_start <= wide.as_of
                tenure = (wide.as_of - wide.c__first_start).cast("float64")
                values[m.name] = ibis.ifelse(started, tenure, ibis.null().cast("float64"))
        base = wide.select("as_of", "account", **values)
        return self.derived(base)

    def derived(self, wide: ir.Table) -> ir.Table:
        """Step 5: ratios and percent changes, in dependency order.

        Percent changes with the same lag share one self-join when their inputs
        are already on the table.
        """
        pending = list(self.metrics.metrics)
        while pending:
            m = pending.pop(0)
            if m.kind == "ratio":
                assert m.numerator and m.denominator
                wide = wide.mutate(**{m.name: wide[m.numerator] / wide[m.denominator].nullif(0.0)})
            elif m.kind == "pct_change":
                assert m.days_earlier
                batch = [m] + [
                    n
                    for n in pending
                    if n.kind == "pct_change"
                    and n.days_earlier == m.days_earlier
                    and n.of in wide.columns
                ]
                pending = [n for n in pending if n not in batch]
                wide = self._pct_changes(wide, batch, m.days_earlier)
        return wide

    @staticmethod
    def _pct_changes(wide: ir.Table, batch: list[Any], lag: int) -> ir.Table:
        bases = sorted({m.of for m in batch})
        prev = wide.select(
            p__account=wide.account,
            p__as_of=(wide.as_of + lag).cast("int32"),
            **{f"p__{b}": wide[b] for b in bases},
        )
        joined = wide.left_join(
            prev, [wide.account == prev.p__account, wide.as_of == prev.p__as_of]
        )
        return joined.select(
            *(joined[c] for c in wide.columns),
            **{
                m.name: (joined[m.of] - joined[f"p__{m.of}"])
                / joined[f"p__{m.of}"].nullif(0.0)
                * 100.0
                for m in batch
            },
        )

    def result(self, wide: ir.Table, names: Sequence[str] | None = None) -> ir.Table:
        """Only the requested dates (and metrics), by ``account`` key, in no order."""
        names = list(names) if names is not None else self.metrics.names
        out = wide.filter(wide.as_of.isin(self.as_of_days))
        return out.select("as_of", "account", *names)
