"""Compile a :class:`MetricSet` to Ibis expressions (DuckDB or Spark run them unchanged).

The plan, for a set of as-of dates at once:

1. **daily roll-up** — one row per account and business day with the counts,
   property sums and distinct-user run starts and open-run levels the metrics
   need (:mod:`kizuna.metrics.rollup`), cached per day, and its **prefix
   table** — per account and day the running values up to that day
   (:mod:`kizuna.metrics.cache`). Both are kept up to date incrementally.
2. **windows** — for each distinct lag L (every window length W, and for a
   percent change over N days of an event metric also N and N + W), the
   prefix rows at every as-of date D joined to those at D - L: a windowed
   count, sum, number of active days or use of a feature is
   ``running(D) - running(D - W)``; distinct users are run starts in the
   window plus the runs still open at D - W; days since the last event read
   the last active day at D. The same differences taken N days back give the
   base of such a percent change without computing the date D - N.
3. **contracts** — seats live at D (through per-account seat segments) and
   the first contract start, per account.
4. **grid** — every account × every date: the window rows, plus the accounts
   the prefix rows at D do not cover yet (known from the row counts, no
   join), then left-joined to the contract values, with the per-kind rules
   for empty windows (0 for counts, null for ratios).
5. **derived** — ratios and percent changes over the grid (a change of a
   seat share, tenure, ratio or change computes D - N as an extra date and
   joins it).

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from kizuna.metrics.definitions import (
    DERIVED_KINDS,
    EVENT_KINDS,
    EventFilter,
    MetricDefinition,
    MetricSet,
)
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


#: Kinds whose value as of D - N the windows read directly from the prefix table,
#: so a percent change of them needs neither extra as-of dates nor a self-join.
SHIFTABLE_KINDS = EVENT_KINDS - {"seat_share"}


def shifted_changes(metrics: MetricSet) -> list[MetricDefinition]:
    """The percent changes whose base metric is of a :data:`SHIFTABLE_KINDS` kind."""
    kinds = {m.name: m.kind for m in metrics.metrics}
    return [
        m
        for m in metrics.metrics
        if m.kind == "pct_change" and m.of is not None and kinds.get(m.of) in SHIFTABLE_KINDS
    ]


def needed_days(metrics: MetricSet, as_of_days: Sequence[int]) -> list[int]:
    """The as-of days to compute: the requested ones plus those the other percent
    changes (bases not in :data:`SHIFTABLE_KINDS`) look back to."""
    days = set(as_of_days)
    shifted = {m.name for m in shifted_changes(metrics)}
    lags = [
        m.days_earlier
        for m in metrics.metrics
        if m.kind == "pct_change" and m.days_earlier and m.name not in shifted
    ]
    for _ in range(len(lags)):
        days |= {d - lag for d in days for lag in lags}
    return sorted(days)


def _final(
    wide: ir.Table, m: MetricDefinition, col: str, as_of: ir.IntegerValue
) -> ir.FloatingValue:
    """Metric ``m``'s value (float64) from its raw column ``col`` over the grid.

    Counts of an empty window are 0; ratios over nothing are null.
    """
    if m.kind in ("count", "sum", "distinct_users", "active_days", "feature_breadth"):
        return wide[col].fill_null(0).cast("float64")
    if m.kind == "per_user":
        den = wide[f"{col}__den"].fill_null(0).nullif(0).cast("float64")
        return wide[col].fill_null(0).cast("float64") / den
    if m.kind == "seat_share":
        seats = wide.c__seats.cast("float64").nullif(0.0)
        return wide[col].fill_null(0).cast("float64") / seats
    if m.kind == "days_since_last":
        return (as_of - wide[col]).cast("float64")
    assert m.kind == "tenure", m.kind
    started = wide.c__first_start <= as_of
    tenure = (as_of - wide.c__first_start).cast("float64")
    return ibis.ifelse(started, tenure, ibis.null().cast("float64"))


@dataclass
class _Columns:
    """The prefix columns an event metric reads: running totals whose window
    difference is its value (one per feature for a breadth), the last active
    day, and the (run-start, open-run) pair of a distinct-user count."""

    running: list[str] = field(default_factory=list)
    last: str | None = None
    users: tuple[str, str] | None = None


def _user_filter(m: MetricDefinition) -> EventFilter:
    """Which events make a user active for a distinct-user count of ``m``."""
    return m.filter if m.kind != "per_user" else (m.active_filter or EventFilter())


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
        self.shifted = shifted_changes(metrics)
        self.spec = RollupSpec(metrics)
        # every event metric as of D, and the bases of shifted changes as of D - N
        self.evaluations: list[tuple[MetricDefinition, int]] = [(m, 0) for m in self.event_metrics]
        for change in self.shifted:
            assert change.of is not None and change.days_earlier is not None
            self.evaluations.append((metrics.get(change.of), change.days_earlier))

    @property
    def last_day(self) -> int:
        """The last business day whose events any value depends on."""
        return self.days[-1]

    @property
    def lags(self) -> list[int]:
        """Every distance D - day at which the plan reads prefix rows (0 included)."""
        return sorted({lag for m, shift in self.evaluations for lag in self._reads_of(m, shift)})

    def _reads(self, lag: int, first: int | None, last: int | None) -> dict[int, int]:
        """``{as_of: prefix day}`` for the rows at ``as_of - lag``.

        After the lake's last day the running values stay those of the last day;
        before its first day they are all 0 (no row is read).
        """
        if first is None or last is None:
            return {}
        return {d: min(d - lag, last) for d in self.days if d - lag >= first}

    def prefix_days(self, first: int | None, last: int | None) -> list[int]:
        """The prefix days the windows read (D - L for every lag L, 0 included)."""
        days: set[int] = set()
        for lag in self.lags or [0]:
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

    def _columns(self, m: MetricDefinition) -> _Columns:
        """The prefix columns event metric ``m`` is computed from."""
        spec = self.spec
        assert m.window_days is not None
        cols = _Columns()
        if m.kind in ("count", "per_user"):
            cols.running.append(spec.count_column(Condition(m.filter)))
        elif m.kind == "sum":
            assert m.property is not None
            cols.running.append(spec.sum_column(Condition(m.filter), m.property))
        elif m.kind == "active_days":
            cols.running.append(f"pd_{spec.count_column(Condition(m.filter))}")
        elif m.kind == "days_since_last":
            cols.last = f"l_{spec.count_column(Condition(m.filter))}"
        elif m.kind == "feature_breadth":
            cols.running.extend(spec.count_column(Condition(m.filter, f)) for f in m.features or ())
        if m.kind in ("distinct_users", "seat_share", "per_user"):
            cols.users = spec.user_columns(_user_filter(m), m.window_days)
        return cols

    def _reads_of(self, m: MetricDefinition, shift: int) -> dict[int, set[str]]:
        """``{lag: prefix columns}`` event metric ``m`` as of D - ``shift`` reads."""
        assert m.window_days is not None
        cols = self._columns(m)
        running = set(cols.running)
        if cols.users:
            running.add(cols.users[0])
        reads = {shift: running | ({cols.last} if cols.last else set())}
        before = running | ({cols.users[1]} if cols.users else set())
        if before:
            reads[shift + m.window_days] = before
        return reads

    def windows(self, prefix: ir.Table, first: int | None, last: int | None) -> ir.Table:
        """Step 2: every event metric, keyed by (as_of, account).

        ``prefix`` holds the prefix rows of (at least) :meth:`prefix_days`;
        accounts without a row at a day had no activity yet (running values 0).
        Event metrics come out as ``m__<name>``; the bases of shifted percent
        changes, as of D - N, as ``m__<name>__at<N>``.
        """
        reads: dict[int, set[str]] = {0: set()}
        for m, shift in self.evaluations:
            for lag, columns in self._reads_of(m, shift).items():
                reads.setdefault(lag, set()).update(columns)
        t = self._rows_at(prefix, 0, reads.pop(0), first, last)
        for lag in sorted(reads):
            before = self._rows_at(prefix, lag, reads[lag], first, last)
            joined = t.left_join(
                before,
                [t.account == before[f"w{lag}__account"], t.as_of == before[f"w{lag}__as_of"]],
            )
            t = joined.select(
                *(joined[c] for c in t.columns),
                *(joined[c] for c in before.columns if not c.endswith(("__account", "__as_of"))),
            )
        values: dict[str, Any] = {}
        for m, shift in self.evaluations:
            name = f"m__{m.name}" if shift == 0 else f"m__{m.name}__at{shift}"
            values[name], users = self._event_value(t, m, shift)
            if users is not None:
                values[f"{name}__den"] = users
        return t.select("as_of", "account", **values)

    def _event_value(
        self, t: ir.Table, m: MetricDefinition, shift: int
    ) -> tuple[ir.Value, ir.Value | None]:
        """(value, active users for ``per_user``) of event metric ``m`` as of D - ``shift``.

        At lag 0 a missing value means a missing row (the grid fills it in
        later); at other lags it means no activity yet: running values 0.
        """
        w = m.window_days
        assert w is not None
        cols = self._columns(m)

        def at(col: str, lag: int) -> ir.NumericValue:
            return t[col] if lag == 0 else t[f"w{lag}__{col}"].fill_null(0)

        def diff(col: str) -> ir.NumericValue:
            return at(col, shift) - at(col, shift + w)

        value: Any = None
        users: Any = None
        if m.kind == "feature_breadth":
            used = [(diff(col) > 0).cast("int64") for col in cols.running]
            value = functools.reduce(operator.add, used)
        elif cols.running:
            value = diff(cols.running[0])
        elif cols.last:
            seen = t[cols.last] if shift == 0 else t[f"w{shift}__{cols.last}"]  # null: never
            value = ibis.ifelse(seen > t.as_of - shift - w, seen, ibis.null().cast("int32"))
        if cols.users:
            start, level = cols.users
            users = diff(start) + at(level, shift + w)
            if m.kind != "per_user":
                value, users = users, None
        return value, users

    def current_days(self, first: int | None, last: int | None) -> set[int]:
        """The prefix days read at lag 0 (their row counts go to :meth:`build`)."""
        return set(self._reads(0, first, last).values())

    def _grid(
        self,
        events: ir.Table,
        accounts: pa.Table,
        prefix_rows: Mapping[int, int],
        first: int | None,
        last: int | None,
    ) -> ir.Table:
        """Step 4: every account x every date, from the event metrics' rows.

        A prefix day's file holds a row for every key below its row count, so
        the rows the windows lack are known without a join: per date, the
        accounts whose key is at or above the count read at that date. They
        are stacked under the window rows with null values; keys that are not
        among ``accounts`` (events of accounts since removed) are dropped.
        """
        keys = np.sort(np.asarray(accounts.column("account"), dtype=np.int32))
        reads = self._reads(0, first, last)
        sizes = [prefix_rows.get(reads[d], 0) if d in reads else 0 for d in self.days]
        starts = np.searchsorted(keys, sizes)
        rest = self._register(
            "kizuna_grid_rest",
            pa.table(
                {
                    "as_of": pa.array(np.repeat(self.days, len(keys) - starts), pa.int32()),
                    "account": pa.array(
                        np.concatenate([keys[s:] for s in starts] or [keys[:0]]), pa.int32()
                    ),
                }
            ),
        )
        top = max(sizes, default=0)
        if np.searchsorted(keys, top) < top:  # some keys below it are not to be computed
            events = events.semi_join(self._register("kizuna_accounts", accounts), "account")
        values = [c for c in events.columns if c not in ("as_of", "account")]
        schema = events.schema()
        return events.select("as_of", "account", *values).union(
            rest.select("as_of", "account", **{c: ibis.null().cast(schema[c]) for c in values}),
            distinct=False,
        )

    # -- step 3 and the whole plan ---------------------------------------------------

    def contracts(self, lines: ir.Table, dates: ir.Table) -> list[ir.Table]:
        """Step 3: seats live at D (sum of quantity of lines live at D, not cancelled) per
        (as_of, account), and the first contract start per account (every line counts).

        Seats go through *segments*: per account, the days its seat count changes
        (+quantity where a line starts, -quantity the day after it ends) and the
        running count from each change to the next. Each (account, D) then meets
        exactly one segment, so no (lines x dates) rows are summed.
        """
        live = lines.filter(lines.status != "cancelled")
        changes = live.select("account", day=live.start_day, delta=live.quantity).union(
            live.select("account", day=(live.end_day + 1).cast("int32"), delta=-live.quantity),
            distinct=False,
        )
        changes = changes.group_by(["account", "day"]).agg(delta=changes.delta.sum())
        running = ibis.window(group_by=changes.account, order_by=changes.day, rows=(None, 0))
        following = ibis.window(group_by=changes.account, order_by=changes.day)
        segments = changes.select(
            "account",
            "day",
            seats=changes.delta.sum().over(running),
            until=(changes.day.lead().over(following) - 1).fill_null(2**31 - 1).cast("int32"),
        )
        segments = segments.filter(segments.seats != 0)
        joined = segments.join(dates, [segments.day <= dates.as_of, segments.until >= dates.as_of])
        seats = joined.select("as_of", "account", c__seats=joined.seats)
        first = lines.group_by("account").agg(c__first_start=lines.start_day.min())
        return [seats, first]

    def build(
        self,
        *,
        prefix: ir.Table,
        prefix_rows: Mapping[int, int],
        first: int | None,
        last: int | None,
        accounts: pa.Table,
        lines: ir.Table,
        dates: ir.Table,
    ) -> ir.Table:
        """The whole plan: a wide table (as_of day number, account key, one column per metric).

        ``prefix`` is the prefix table (:mod:`kizuna.metrics.cache`) with at
        least the :meth:`prefix_days`, ``prefix_rows`` the number of rows of
        each of its days read at lag 0 (:meth:`current_days`); ``first``/``last``
        are the first and last day it covers (None for an empty lake).
        ``accounts`` holds the key (``account``) of every account to compute.
        """
        parts: list[ir.Table] = []
        if self.event_metrics:
            wide = self._grid(self.windows(prefix, first, last), accounts, prefix_rows, first, last)
        else:
            wide = self._register("kizuna_accounts", accounts).select("account").cross_join(dates)
        if any(m.kind in ("tenure", "seat_share") for m in self.metrics.metrics):
            parts.extend(self.contracts(lines, dates))
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
            if m.kind not in DERIVED_KINDS:
                values[m.name] = _final(wide, m, f"m__{m.name}", wide.as_of)
        for change in self.shifted:
            assert change.of is not None and change.days_earlier is not None
            k = change.days_earlier
            base = self.metrics.get(change.of)
            values[f"{change.name}__then"] = _final(
                wide, base, f"m__{base.name}__at{k}", wide.as_of - k
            )
        return self.derived(wide.select("as_of", "account", **values))

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
            elif m.kind == "pct_change" and m in self.shifted:
                then = wide[f"{m.name}__then"]
                wide = wide.mutate(**{m.name: (wide[m.of] - then) / then.nullif(0.0) * 100.0})
            elif m.kind == "pct_change":
                assert m.days_earlier
                batch = [m] + [
                    n
                    for n in pending
                    if n.kind == "pct_change"
                    and n not in self.shifted
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
