"""The ARR ledger: contract lines as ARR per account over time, in the reporting currency.

An account's ARR on day ``d`` is the sum of the ARR of its counted contract lines
with ``start_date <= d <= end_date`` (end inclusive), each converted to the
reporting currency at the rate in force on ``d``. Counted lines are all lines
except ``cancelled`` ones (``pending`` lines count from their start date like any
other: a signed contract that starts later is future ARR, not a guess).

With ``rollup`` (the default) every line counts at its account's top-level
parent, so ARR moving between sibling units is not churn plus new business. The
*entity* of a line is that top-level parent (or the account itself without
rollup); filters on segment, region and owner apply to the entity, the product
filter to lines.

ARR is measured at a sorted list of *points* (dates). Instead of joining every
line to every point, each line becomes two ARR *deltas* — ``+arr`` at the first
point it covers and ``-arr`` at the first point after its end — plus, for lines
in other currencies, one delta per point where the exchange rate changes. A
running sum of deltas per entity gives its ARR at every point where it changes,
in integer cents, so movements add up exactly. Everything below is an Ibis
expression; nothing depends on DuckDB.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Self, TypeVar

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from ibis.expr.types import Table

from kizuna.engine import Engine
from kizuna.errors import InvalidInput, Problem
from kizuna.retention.loading import fetch_arrow
from kizuna.retention.periods import ONE_DAY
from kizuna.settings import Settings
from kizuna.store.db import Store
from kizuna.store.models import Account, ContractLine, ContractStatus, FxRate

T = TypeVar("T")

LINE_SCHEMA = pa.schema(
    [
        ("line_id", pa.string()),
        ("account_id", pa.string()),
        ("product", pa.string()),
        ("arr", pa.decimal128(18, 2)),
        ("currency", pa.string()),
        ("start_date", pa.date32()),
        ("end_date", pa.date32()),
        ("status", pa.string()),
        ("renews_line_id", pa.string()),
    ]
)
ACCOUNT_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("entity_id", pa.string()),
        ("name", pa.string()),
        ("segment", pa.string()),
        ("region", pa.string()),
        ("owner_id", pa.string()),
    ]
)
FX_SCHEMA = pa.schema(
    [("currency", pa.string()), ("valid_from", pa.date32()), ("rate", pa.float64())]
)
GROUP_COLUMNS = ("segment", "region", "owner_id")


@dataclass(frozen=True, slots=True)
class LedgerFilters:
    """Which part of the book to analyse; ``None`` means no restriction.

    ``segment``, ``region`` and ``owner`` (a team member id) select entities (the
    top-level parent under rollup); ``product`` selects contract lines.
    """

    segment: str | None = None
    region: str | None = None
    owner: str | None = None
    product: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def cents_to_amount(cents: int) -> Decimal:
    """Integer cents as an exact two-decimal amount."""
    return Decimal(int(cents)).scaleb(-2)


def resolve_top_parents(parents: dict[str, str | None]) -> dict[str, str]:
    """Top-level parent of every account (an account without parent is its own).

    Raises :class:`InvalidInput` listing every account caught in a parent cycle.
    """
    roots: dict[str, str] = {}
    problems: list[Problem] = []
    for account_id in parents:
        chain: list[str] = []
        seen: set[str] = set()
        current = account_id
        while True:
            if current in roots:
                root = roots[current]
                break
            parent = parents.get(current)
            if parent is None or parent not in parents:
                root = current
                break
            if current in seen:
                problems.append(
                    Problem(
                        f"account {account_id} is in a parent cycle ({' → '.join(chain)})",
                        where=f"accounts id {account_id}",
                        field="parent_id",
                    )
                )
                root = account_id
                break
            seen.add(current)
            chain.append(current)
            current = parent
        for member in chain:
            roots.setdefault(member, root)
        roots.setdefault(account_id, root)
    if problems:
        raise InvalidInput("account hierarchy has cycles; fix parent_id", problems)
    return roots


def accounts_table(rows: Sequence[dict[str, Any]] | pa.Table, *, rollup: bool) -> pa.Table:
    """Accounts with the entity their ARR counts at (see module docstring).

    ``rows``: dicts or an Arrow table with ``account_id, parent_id`` and the
    other columns of :data:`ACCOUNT_SCHEMA` (missing ones are null).
    """
    if not isinstance(rows, pa.Table):
        names = ["parent_id", *ACCOUNT_SCHEMA.names]
        rows = pa.table({n: [r.get(n) for r in rows] for n in names})
    ids = rows.column("account_id").to_pylist()
    parents = dict(zip(ids, rows.column("parent_id").to_pylist(), strict=True))
    roots = resolve_top_parents(parents) if rollup else {a: a for a in parents}
    data = {
        name: rows.column(name) if name in rows.column_names else pa.nulls(len(ids), pa.string())
        for name in ACCOUNT_SCHEMA.names
    }
    data["entity_id"] = pa.array([roots[a] for a in ids], pa.string())
    return pa.table(data).cast(ACCOUNT_SCHEMA)


class Ledger:
    """The contract lines, accounts and rates of one store, loaded into an engine.

    Build it with :meth:`load` (from the store) or :meth:`from_arrow`; use it as a
    context manager or call :meth:`close`.
    """

    def __init__(
        self,
        engine: Engine,
        lines: pa.Table,
        accounts: pa.Table,
        fx_rates: pa.Table,
        *,
        reporting_currency: str,
        filters: LedgerFilters | None = None,
        rollup: bool = True,
        owns_engine: bool = False,
    ) -> None:
        self.engine = engine
        self.reporting_currency = reporting_currency
        self.filters = filters or LedgerFilters()
        self.rollup = rollup
        self._owns_engine = owns_engine
        suffix = self._suffix = uuid.uuid4().hex[:8]
        self._counter = 0
        lines, accounts = lines.cast(LINE_SCHEMA), accounts.cast(ACCOUNT_SCHEMA)
        # Every account's and line's entity, also as an integer key: grouping and
        # sorting millions of rows by an integer is much cheaper than by text.
        # (A line whose account is unknown has no entity and never counts.)
        account_ids = accounts.column("account_id")
        entity_row = pc.index_in(accounts.column("entity_id"), value_set=account_ids)
        line_row = pc.index_in(lines.column("account_id"), value_set=account_ids)
        accounts = accounts.append_column("entity_key", entity_row.cast(pa.int64()))
        lines = lines.append_column("entity_id", pc.take(accounts.column("entity_id"), line_row))
        lines = lines.append_column("entity_key", pc.take(entity_row, line_row).cast(pa.int64()))
        self.lines = engine.from_arrow(f"kz_ret_lines_{suffix}", lines)
        self.accounts = engine.from_arrow(f"kz_ret_accounts_{suffix}", accounts)
        fx_rates = fx_rates.cast(FX_SCHEMA)
        self.fx = engine.from_arrow(f"kz_ret_fx_{suffix}", fx_rates)
        # Rates are a small table: the rate in force at each point is looked up
        # here, once per list of points, rather than joined in the engine.
        self._rate_history: dict[str, list[tuple[date, float]]] = {}
        for r in fx_rates.sort_by(
            [("currency", "ascending"), ("valid_from", "ascending")]
        ).to_pylist():
            self._rate_history.setdefault(r["currency"], []).append((r["valid_from"], r["rate"]))
        currency = lines.column("currency")
        self._has_foreign = bool(
            pc.any(pc.fill_null(pc.not_equal(currency, reporting_currency), True)).as_py()
        )
        self._points_cache: dict[tuple[date, ...], Table] = {}
        self._small_cache: dict[Any, Any] = {}
        # Points whose ARR table the ARR at any subset of them is derived from.
        self._grid: tuple[date, ...] | None = None

    # -- construction -------------------------------------------------------

    @classmethod
    def load(
        cls,
        store: Store,
        settings: Settings,
        *,
        engine: Engine | None = None,
        filters: LedgerFilters | None = None,
        rollup: bool = True,
    ) -> Self:
        """Read contract lines, accounts and fx rates from ``store`` into ``engine``.

        Without ``engine`` one is made from ``settings`` and closed with the ledger.
        """
        owns = engine is None
        engine = engine or Engine.from_settings(settings)
        cl, ac, fx = ContractLine.__table__.c, Account.__table__.c, FxRate.__table__.c
        lines = fetch_arrow(
            store,
            sa.select(
                cl.id.label("line_id"),
                cl.account_id,
                cl.product,
                cl.arr,
                cl.currency,
                cl.start_date,
                cl.end_date,
                cl.status,
                cl.renews_line_id,
            ),
            LINE_SCHEMA,
        )
        account_rows = fetch_arrow(
            store,
            sa.select(
                ac.id.label("account_id"),
                ac.parent_id,
                ac.name,
                ac.segment,
                ac.region,
                ac.owner_id,
            ),
            pa.schema([("account_id", pa.string()), ("parent_id", pa.string())])
            .append(ACCOUNT_SCHEMA.field("name"))
            .append(ACCOUNT_SCHEMA.field("segment"))
            .append(ACCOUNT_SCHEMA.field("region"))
            .append(ACCOUNT_SCHEMA.field("owner_id")),
        )
        rates = fetch_arrow(store, sa.select(fx.currency, fx.valid_from, fx.rate), FX_SCHEMA)
        return cls(
            engine,
            lines,
            accounts_table(account_rows, rollup=rollup),
            rates,
            reporting_currency=settings.reporting_currency,
            filters=filters,
            rollup=rollup,
            owns_engine=owns,
        )

    @classmethod
    def from_arrow(
        cls,
        engine: Engine,
        lines: pa.Table,
        accounts: Sequence[dict[str, Any]],
        fx_rates: pa.Table | None = None,
        *,
        reporting_currency: str = "USD",
        filters: LedgerFilters | None = None,
        rollup: bool = True,
    ) -> Self:
        """A ledger over in-memory data (``accounts`` as dicts with ``parent_id``)."""
        return cls(
            engine,
            lines,
            accounts_table(accounts, rollup=rollup),
            fx_rates if fx_rates is not None else FX_SCHEMA.empty_table(),
            reporting_currency=reporting_currency,
            filters=filters,
            rollup=rollup,
        )

    def _name(self, what: str) -> str:
        self._counter += 1
        return f"kz_ret_{what}_{self._suffix}_{self._counter}"

    def small_table(self, table: pa.Table) -> Table:
        """Register a small helper table (points, periods) in the engine."""
        return self.engine.from_arrow(self._name("tmp"), table)

    def remembered(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """``compute()``'s result, computed once per ``key`` while the ledger is open (until
        :meth:`clear_cache`): two reports over one ledger (by segment and by owner) share
        the rows they both read. The result must not be changed by its callers."""
        key = ("remembered", *key)
        if key not in self._small_cache:
            self._small_cache[key] = compute()
        found: T = self._small_cache[key]
        return found

    def clear_cache(self) -> None:
        """Forget computed tables (ARR at points and their helpers); the next call recomputes."""
        self._points_cache.clear()
        self._small_cache.clear()
        self._grid = None

    def close(self) -> None:
        self.clear_cache()
        if self._owns_engine:
            self.engine.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- the counted book ---------------------------------------------------

    def entities(self) -> Table:
        """Entities passing the filters.

        Columns ``entity_id, name, segment, region, owner_id`` and ``entity_key``
        (the integer key the ARR tables use).
        """
        a = self.accounts
        ent = a.filter(a.account_id == a.entity_id).select(
            entity_id=a.account_id,
            name=a.name,
            segment=a.segment,
            region=a.region,
            owner_id=a.owner_id,
            entity_key=a.entity_key,
        )
        f = self.filters
        if f.segment is not None:
            ent = ent.filter(ent.segment == f.segment)
        if f.region is not None:
            ent = ent.filter(ent.region == f.region)
        if f.owner is not None:
            ent = ent.filter(ent.owner_id == f.owner)
        return ent

    def counted_lines(self, *, include_cancelled: bool = False) -> Table:
        """Lines that count toward ARR, with their entity and ARR in integer cents."""
        ln = self.lines
        ln = ln.filter(ln.entity_key.notnull())
        if not include_cancelled:
            ln = ln.filter(ln.status != ContractStatus.CANCELLED.value)
        if self.filters.product is not None:
            ln = ln.filter(ln.product == self.filters.product)
        f = self.filters
        if f.segment is not None or f.region is not None or f.owner is not None:
            ln = ln.semi_join(self.entities().select("entity_key"), "entity_key")
        return ln.select(
            "line_id",
            "account_id",
            "entity_id",
            "entity_key",
            "product",
            "currency",
            "start_date",
            "end_date",
            "status",
            "renews_line_id",
            arr_cents=(ln.arr * 100).cast("int64"),
        )

    def first_arr_dates(self) -> Table:
        """``entity_id, first_date``: the first day each entity had ARR > 0."""
        ln = self.counted_lines()
        ln = ln.filter(ln.arr_cents > 0)
        return ln.group_by("entity_id").agg(first_date=ln.start_date.min())

    def first_arr_date(self) -> date | None:
        """The first day any counted entity had ARR > 0 (``None`` if none ever did)."""
        ln = self.counted_lines()
        value = self.scalar(ln.filter(ln.arr_cents > 0).start_date.min())
        return value if isinstance(value, date) or value is None else None

    def rates_at(self, keys: Table) -> Table:
        """Exchange rates in force: ``keys`` (``currency, on_date``) plus ``rate`` (null if none).

        The rate in force on a day is the one with the latest ``valid_from`` on or
        before it; a rate is valid until the next ``valid_from`` of its currency.
        """
        fx = self.fx
        keys = keys.select("currency", "on_date").distinct()
        cand = keys.join(fx, [keys.currency == fx.currency, fx.valid_from <= keys.on_date])
        latest = cand.group_by(["currency", "on_date"]).agg(valid_from=cand.valid_from.max())
        fx2 = fx.view()
        with_rate = latest.join(
            fx2, [latest.currency == fx2.currency, latest.valid_from == fx2.valid_from]
        ).select(latest.currency, latest.on_date, fx2.rate)
        out = keys.left_join(
            with_rate,
            [keys.currency == with_rate.currency, keys.on_date == with_rate.on_date],
        )
        return out.select(keys.currency, keys.on_date, with_rate.rate)

    def convert(self, arr_cents: Any, currency: Any, rate: Any) -> Any:
        """ARR in reporting-currency cents (rounded half away from zero per line)."""
        converted = (arr_cents * rate).round().cast("int64")
        return ibis.ifelse(currency == self.reporting_currency, arr_cents, converted)

    def check_rates(self, lines: Table, on: str) -> None:
        """Raise :class:`InvalidInput` naming every currency lacking a rate on column ``on``.

        ``lines`` needs ``line_id, currency`` and the date column ``on``.
        """
        foreign = lines.filter(lines.currency != self.reporting_currency)
        keys = foreign.select(currency=foreign.currency, on_date=foreign[on])
        rates = self.rates_at(keys)
        missing = rates.filter(rates.rate.isnull())
        summary = missing.group_by("currency").agg(first=missing.on_date.min()).order_by("currency")
        rows = self.engine.to_pyarrow(summary).to_pylist()
        self.raise_missing_rates({r["currency"]: r["first"] for r in rows})

    def raise_missing_rates(self, first_missing: dict[str, date]) -> None:
        """Raise :class:`InvalidInput` naming every currency of ``first_missing`` (currency →
        the first day a line needs its rate to the reporting currency and none is in force)."""
        if first_missing:
            raise InvalidInput(
                f"contract lines need exchange rates to {self.reporting_currency} that are missing",
                [
                    Problem(
                        f"no {currency}→{self.reporting_currency} rate on or before "
                        f"{first.isoformat()}; import an fx rate for {currency} "
                        f"valid from {first.isoformat()} or earlier",
                        where="fx_rates",
                        field="currency",
                    )
                    for currency, first in sorted(first_missing.items())
                ],
            )

    # -- ARR at points ------------------------------------------------------

    def point_index(self, column: Any, points: Sequence[date], *, strict: bool) -> Any:
        """Index of the first point ≥ ``column`` (``strict``: > ``column``), ``len(points)``
        if none, as an expression.

        Looked up in a literal text holding one fixed-width number per day from
        the day before the first point to the day after the last (dates outside
        are clamped to those): a substring and a cast per row, and a literal
        that costs nothing to compile, on any engine. A nested-comparison search
        (:func:`_search`) when the points span too many days for that.
        """
        points = _sorted_points(points)
        lo, hi = points[0] - ONE_DAY, points[-1] + ONE_DAY
        n_days = (hi - lo).days + 1
        if n_days > _MAX_LOOKUP_DAYS:
            return _search(column, points, 0, len(points), strict=strict)
        width = len(str(len(points)))
        key = ("lookup", tuple(points), strict)
        if key not in self._small_cache:
            find = bisect.bisect_right if strict else bisect.bisect_left
            self._small_cache[key] = ibis.literal(
                "".join(f"{find(points, lo + ONE_DAY * i):0{width}d}" for i in range(n_days))
            )
        day = ibis.greatest(ibis.least(column, ibis.literal(hi)), ibis.literal(lo))
        offset = day.delta(ibis.literal(lo), unit="day") * width
        return self._small_cache[key].substr(offset, width).cast("int64")

    def _point_rates(self, points: tuple[date, ...]) -> tuple[Table, Table | None]:
        """``currency, idx, rate`` in force at each point (foreign currencies with a
        rate), and ``currency, idx, rate, prev_rate`` where the rate changes from
        point ``idx - 1`` to ``idx`` (``None`` if it never does)."""
        at: dict[str, list[Any]] = {"currency": [], "idx": [], "rate": []}
        changes: dict[str, list[Any]] = {"currency": [], "idx": [], "rate": [], "prev_rate": []}
        for currency, history in self._rate_history.items():
            if currency == self.reporting_currency:
                continue
            starts = [valid_from for valid_from, _ in history]
            prev = None
            for idx, point in enumerate(points):
                i = bisect.bisect_right(starts, point)
                rate = history[i - 1][1] if i else None
                if rate is not None:
                    at["currency"].append(currency)
                    at["idx"].append(idx)
                    at["rate"].append(rate)
                    if prev is not None and rate != prev:
                        for k, v in (
                            ("currency", currency),
                            ("idx", idx),
                            ("rate", rate),
                            ("prev_rate", prev),
                        ):
                            changes[k].append(v)
                prev = rate
        rate_schema = [("currency", pa.string()), ("idx", pa.int64()), ("rate", pa.float64())]
        at_table = self.small_table(pa.table(at, schema=pa.schema(rate_schema)))
        if not changes["idx"]:
            return at_table, None
        change_table = pa.table(
            changes, schema=pa.schema([*rate_schema, ("prev_rate", pa.float64())])
        )
        return at_table, self.small_table(change_table)

    def spans(self, points: Sequence[date]) -> tuple[Table, Table | None]:
        """Counted lines as spans of point indexes (materialised), and the rate changes.

        ``entity_key, currency, arr_cents, i_start, i_stop, v_start, v_last``: the
        line counts at points ``i_start <= idx < i_stop`` (none if ``i_start >=
        i_stop``); ``v_start``/``v_last`` are its ARR in reporting-currency cents
        at its first and last point. Raises :class:`InvalidInput` if a line
        needs a rate that does not exist.
        """
        key = tuple(_sorted_points(points))
        ln = self.counted_lines()
        s = ln.select(
            "entity_key",
            "currency",
            "arr_cents",
            i_start=self.point_index(ln.start_date, key, strict=False),
            i_stop=self.point_index(ln.end_date, key, strict=True),
        )
        changes = None
        if self._has_foreign:
            rp, changes = self._point_rates(key)
            first, last = rp.view(), rp.view()
            j = s.left_join(first, [s.currency == first.currency, s.i_start == first.idx])
            j = j.left_join(last, [s.currency == last.currency, s.i_stop - 1 == last.idx])
            foreign = s.currency != self.reporting_currency
            s = j.select(
                s.entity_key,
                s.currency,
                s.arr_cents,
                s.i_start,
                s.i_stop,
                v_start=ibis.ifelse(
                    foreign, (s.arr_cents * first.rate).round().cast("int64"), s.arr_cents
                ),
                v_last=ibis.ifelse(
                    foreign, (s.arr_cents * last.rate).round().cast("int64"), s.arr_cents
                ),
                rate_missing=foreign & (s.i_start < s.i_stop) & first.rate.isnull(),
            )
        else:
            s = s.mutate(v_start=s.arr_cents, v_last=s.arr_cents)
        # Computed once: every later step reads this table.
        s = self.engine.materialize(self._name("spans"), s)
        if self._has_foreign:
            self._raise_missing_point_rates(s, key)
        return s, changes

    def arr_deltas(self, points: Sequence[date]) -> Table:
        """``entity_key, idx, delta, first_idx``: change of ARR (cents) at point ``idx``
        vs. ``idx - 1``, and the entity's first point with ARR (see :meth:`arr_by_point`).

        Point 0 carries the whole ARR on ``points[0]``. A line adds its converted
        ARR at its first point and removes it after its last; a line in another
        currency also moves at every point where its rate changes. Raises
        :class:`InvalidInput` if a line needs a rate that does not exist.
        """
        points = _sorted_points(points)
        n = len(points)
        spans, changes = self.spans(points)
        null = ibis.null("int64")
        covers = spans.filter(spans.i_start < spans.i_stop)
        # The first point on or after a day is monotone in the day, so an
        # entity's first point with ARR is the least i_start of its lines with
        # ARR; lines falling between two points only mark it (delta 0).
        parts = [
            covers.select(
                "entity_key",
                idx=covers.i_start,
                delta=covers.v_start,
                mark=ibis.ifelse(covers.arr_cents > 0, covers.i_start, null),
            ),
            covers.filter(covers.i_stop < n).select(
                "entity_key", idx=covers.i_stop, delta=-covers.v_last, mark=null
            ),
        ]
        between = spans.filter(
            (spans.i_start >= spans.i_stop) & (spans.arr_cents > 0) & (spans.i_start < n)
        )
        parts.append(
            between.select(
                "entity_key",
                idx=between.i_start,
                delta=ibis.literal(0, "int64"),
                mark=between.i_start,
            )
        )
        if changes is not None:
            f = covers.filter(
                (covers.currency != self.reporting_currency) & (covers.i_stop - covers.i_start > 1)
            )
            f = f.select(
                "entity_key",
                "currency",
                "arr_cents",
                idx=ibis.range(f.i_start + 1, f.i_stop).unnest(),
            )
            moved = f.join(changes, [f.currency == changes.currency, f.idx == changes.idx])
            parts.append(
                moved.select(
                    f.entity_key,
                    idx=f.idx,
                    delta=(f.arr_cents * changes.rate).round().cast("int64")
                    - (f.arr_cents * changes.prev_rate).round().cast("int64"),
                    mark=null,
                )
            )
        deltas = parts[0].union(*parts[1:], distinct=False)
        return deltas.group_by(["entity_key", "idx"]).agg(
            delta=deltas.delta.sum(), first_idx=deltas.mark.min()
        )

    def scalar(self, expr: Any) -> Any:
        """Run a scalar expression and return it as a Python value (Arrow, not pandas)."""
        value = self.engine.to_pyarrow(expr)
        return value.as_py() if hasattr(value, "as_py") else value

    def _raise_missing_point_rates(self, spans: Table, points: Sequence[date]) -> None:
        # Rates only ever start (never stop), so a line has every rate it needs
        # iff it has one at the first point it covers.
        missing = spans.filter(spans.rate_missing)
        summary = missing.group_by("currency").agg(first=missing.i_start.min()).order_by("currency")
        rows = self.engine.to_pyarrow(summary).to_pylist()
        if rows:
            raise InvalidInput(
                f"contract lines need exchange rates to {self.reporting_currency} that are missing",
                [
                    Problem(
                        f"no {r['currency']}→{self.reporting_currency} rate on or before "
                        f"{points[r['first']].isoformat()}; import an fx rate for "
                        f"{r['currency']} valid from {points[r['first']].isoformat()} or earlier",
                        where="fx_rates",
                        field="currency",
                    )
                    for r in rows
                ],
            )

    def arr_by_point(self, points: Sequence[date]) -> Table:
        """``entity_key, idx, delta, arr_before, arr, first_idx``: entity ARR (cents) at changes.

        ``arr`` is the entity's ARR on ``points[idx]`` and ``arr_before`` on
        ``points[idx - 1]`` (0 for idx 0); an entity has a row at the points where
        its ARR changed and at its first point with ARR. ``first_idx`` is the
        index of the first point on or after the entity's first day with ARR > 0
        (null if none is). Materialised and cached per list of points.
        """
        key = tuple(_sorted_points(points))
        cached = self._points_cache.get(key)
        if cached is None and self._grid is not None and set(key) <= set(self._grid):
            cached = self._points_cache[key] = self._from_grid(self._grid, key)
        if cached is None:
            d = self.arr_deltas(key)
            running = ibis.window(group_by=d.entity_key, order_by=d.idx, rows=(None, 0))
            whole = ibis.window(group_by=d.entity_key, order_by=d.idx, rows=(None, None))
            arr = d.delta.sum().over(running)
            cached = self.engine.materialize(
                self._name("arr_points"),
                d.select(
                    "entity_key",
                    "idx",
                    "delta",
                    arr_before=arr - d.delta,
                    arr=arr,
                    first_idx=d.first_idx.min().over(whole),
                ),
            )
            self._points_cache[key] = cached
        return cached

    def prepare_points(self, points: Sequence[date]) -> None:
        """Compute the ARR at ``points`` once, so that :meth:`arr_by_point` of any subset of
        them is derived from that table (a query over its rows) instead of from the lines.

        A report that measures several lists of points (a portfolio's windows, months and
        cohorts) scans and converts the contract lines once this way. The results are the
        same: an entity's ARR at a point does not depend on the other points measured. If
        a line lacks an exchange rate at these points nothing is kept, and each later list
        raises (or not) on its own, as without this call.
        """
        try:
            self.arr_by_point(points)
        except InvalidInput:
            return
        self._grid = tuple(_sorted_points(points))

    def _from_grid(self, grid: tuple[date, ...], key: tuple[date, ...]) -> Table:
        """:meth:`arr_by_point` of ``key`` (a subset of ``grid``) from the grid's table.

        Each grid row falls in the first point of ``key`` on or after it; an entity's ARR
        at that point is its ARR at the bucket's last row, its ARR before it the previous
        bucket's (0 for the first), its first point the bucket of its first grid point.
        Buckets where the ARR did not change keep a row with delta 0 (as lines meeting at
        a point do in :meth:`arr_deltas`); they add nothing to any movement or sum.
        """
        at = {p: i for i, p in enumerate(grid)}
        positions = [at[p] for p in key]
        n = len(key)
        buckets = pa.table(
            {
                "g_idx": pa.array(range(len(grid)), pa.int64()),
                "p_idx": pa.array(
                    [bisect.bisect_left(positions, u) for u in range(len(grid))], pa.int64()
                ),
            }
        )
        lookup = self.small_table(buckets)
        g = self._points_cache[grid]
        j = g.join(lookup, g.idx == lookup.g_idx)
        j = j.filter(j.p_idx < n)
        per = j.group_by(["entity_key", "p_idx"]).agg(
            arr=j.arr.argmax(j.idx), first_g=j.first_idx.min()
        )
        previous = per.arr.lag().over(ibis.window(group_by=per.entity_key, order_by=per.p_idx))
        per = per.mutate(arr_before=previous.fill_null(0))
        first = lookup.view()
        out = per.left_join(first, per.first_g == first.g_idx).select(
            entity_key=per.entity_key,
            idx=per.p_idx,
            delta=per.arr - per.arr_before,
            arr_before=per.arr_before,
            arr=per.arr,
            first_idx=ibis.ifelse(first.p_idx < n, first.p_idx, ibis.null("int64")),
        )
        return self.engine.materialize(self._name("arr_points"), out)


_MAX_LOOKUP_DAYS = 40_000  # ~110 years of days; longer spans use the nested search


def _search(col: Any, points: Sequence[date], lo: int, hi: int, *, strict: bool) -> Any:
    # Nested ifelse over sorted points: log2(n) comparisons per row, and an
    # expression far smaller to compile than a CASE with one branch per point.
    if lo == hi:
        return ibis.literal(lo, "int64")
    mid = (lo + hi) // 2
    below = col < points[mid] if strict else col <= points[mid]
    return ibis.ifelse(
        below,
        _search(col, points, lo, mid, strict=strict),
        _search(col, points, mid + 1, hi, strict=strict),
    )


def _sorted_points(points: Sequence[date]) -> list[date]:
    ordered = sorted(set(points))
    if not ordered:
        raise ValueError("at least one point is needed")
    return ordered
