"""ARR movements: how each entity's ARR changed between the ends of a period.

For a period ``[start, end]`` let ``a`` be an entity's ARR on ``start - 1`` (the
opening ARR) and ``b`` its ARR on ``end`` (the closing ARR), in reporting-currency
cents. Exactly one movement applies:

============  ==========================================  =========
movement      condition                                   amount
============  ==========================================  =========
new           a = 0 < b, no ARR on any day before start   b
reactivation  a = 0 < b, ARR > 0 on some day before start b
expansion     0 < a < b                                   b − a
contraction   0 < b < a                                   a − b
churn         a > 0 = b                                   a
============  ==========================================  =========

so ``closing = opening + new + reactivation + expansion − contraction − churn``
holds exactly, per entity and in total. Only the ends count: an entity that
downgrades and upgrades again inside one period shows the net change. Splitting
a range into months (:func:`arr_movements`) measures every month's ends, so the
same downgrade then shows as a contraction and an expansion in their months;
both views add up to the change of total ARR over the range.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import ibis
import numpy as np
from ibis.expr.types import Table

from kizuna.retention.ledger import Ledger, cents_to_amount
from kizuna.retention.periods import Period, PeriodUnit, check_range, split_periods

GroupBy = Literal["segment", "region", "owner"]
MovementKind = Literal["new", "reactivation", "expansion", "contraction", "churn"]
_GROUP_COLUMN = {"segment": "segment", "region": "region", "owner": "owner_id"}
_AMOUNTS: tuple[MovementKind, ...] = ("new", "reactivation", "expansion", "contraction", "churn")


@dataclass(frozen=True, slots=True)
class PeriodMovements:
    """Opening ARR, the five movements and closing ARR of one period (reporting currency).

    ``contraction`` and ``churn`` are positive amounts that reduce ARR.
    """

    period_start: date
    period_end: date
    start_arr: Decimal
    new: Decimal
    expansion: Decimal
    contraction: Decimal
    churn: Decimal
    reactivation: Decimal
    end_arr: Decimal
    accounts_start: int
    accounts_end: int
    accounts_new: int
    accounts_reactivated: int
    accounts_churned: int


@dataclass(frozen=True, slots=True)
class MovementsReport:
    """ARR movements per period over ``[start, end]``; ``totals`` sums the periods."""

    start: date
    end: date
    period: str
    currency: str
    rollup: bool
    filters: dict[str, str]
    periods: list[PeriodMovements]
    totals: PeriodMovements
    accounts: list[AccountMovement] | None = None


@dataclass(frozen=True, slots=True)
class AccountMovement:
    """One entity's movement in one period."""

    account_id: str
    name: str | None
    period_start: date
    period_end: date
    movement: MovementKind
    start_arr: Decimal
    end_arr: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class AccountArr:
    account_id: str
    name: str | None
    segment: str | None
    arr: Decimal


@dataclass(frozen=True, slots=True)
class ArrSnapshot:
    """ARR per entity (top-level parent under rollup) on one day."""

    on: date
    currency: str
    total_arr: Decimal
    accounts: list[AccountArr] = field(default_factory=list)


# -- the shared computation ---------------------------------------------------


def points_for(periods: Sequence[Period]) -> list[date]:
    """The measuring points of consecutive periods: the first opening day, then every end."""
    return [periods[0].opening_date, *(p.end for p in periods)]


def classified(ledger: Ledger, points: Sequence[date]) -> Table:
    """Per entity and point idx ≥ 1: ``arr_before``, ``arr`` and the movement amounts (cents).

    An entity gaining ARR had ARR before iff its first day with ARR is on or
    before the opening point ``points[idx - 1]``, i.e. ``first_idx <= idx - 1``.
    """
    ep = ledger.arr_by_point(points)
    return _with_movements(ep.filter(ep.idx >= 1))


def _with_movements(rows: Table) -> Table:
    a, b = rows.arr_before, rows.arr
    gained = (a == 0) & (b > 0)
    had_before = rows.first_idx.notnull() & (rows.first_idx < rows.idx)
    return rows.mutate(
        new=ibis.ifelse(gained & ~had_before, b, 0),
        reactivation=ibis.ifelse(gained & had_before, b, 0),
        expansion=ibis.ifelse((a > 0) & (b > a), b - a, 0),
        contraction=ibis.ifelse((b > 0) & (b < a), a - b, 0),
        churn=ibis.ifelse((a > 0) & (b == 0), a, 0),
    )


def period_movements(
    ledger: Ledger, periods: Sequence[Period], by: GroupBy | None = None
) -> dict[str | None, list[PeriodMovements]]:
    """Movements of consecutive ``periods``, per value of ``by`` (one ``None`` key without).

    One query over the ARR at the periods' ends: point 0 gives the opening
    totals, every later point the movements of the entities whose ARR changed there.
    """
    points = points_for(periods)
    ep = ledger.arr_by_point(points)
    group_col = _GROUP_COLUMN[by] if by else None
    if group_col:
        ent = ledger.entities()
        ent = ent.select("entity_key", group=ent[group_col])
        ep = ep.join(ent, "entity_key")
    else:
        ep = ep.mutate(group=ibis.null("string"))
    moves = _with_movements(ep)
    was, now = moves.arr_before > 0, moves.arr > 0
    # At idx 0 every row is an entity's whole opening ARR: arr and logos sum to
    # the opening totals; the movement columns are only read for idx >= 1.
    per_point = moves.group_by(["group", "idx"]).agg(
        arr=moves.arr.sum(),
        logos=now.cast("int64").sum(),
        new=moves.new.sum(),
        reactivation=moves.reactivation.sum(),
        expansion=moves.expansion.sum(),
        contraction=moves.contraction.sum(),
        churn=moves.churn.sum(),
        accounts_new=(moves.new > 0).cast("int64").sum(),
        accounts_reactivated=(moves.reactivation > 0).cast("int64").sum(),
        accounts_churned=(was & ~now).cast("int64").sum(),
        logo_delta=(now.cast("int64") - was.cast("int64")).sum(),
    )
    point_rows = ledger.engine.to_pyarrow(per_point).to_pylist()
    opening_rows = [r for r in point_rows if r["idx"] == 0]
    period_rows = [r for r in point_rows if r["idx"] >= 1]

    groups: set[str | None] = {r["group"] for r in opening_rows} | {r["group"] for r in period_rows}
    if not groups:
        groups = {None} if by is None else set()
    opening = {r["group"]: r for r in opening_rows}
    changes: dict[str | None, dict[int, dict[str, Any]]] = defaultdict(dict)
    for r in period_rows:
        changes[r["group"]][r["idx"]] = r
    result: dict[str | None, list[PeriodMovements]] = {}
    for g in sorted(groups, key=lambda v: (v is None, v or "")):
        arr = int(opening.get(g, {}).get("arr") or 0)
        logos = int(opening.get(g, {}).get("logos") or 0)
        out: list[PeriodMovements] = []
        for i, period in enumerate(periods, start=1):
            c = changes[g].get(i, {})
            amt = {k: int(c.get(k) or 0) for k in _AMOUNTS}
            end_arr = arr + amt["new"] + amt["reactivation"] + amt["expansion"]
            end_arr -= amt["contraction"] + amt["churn"]
            end_logos = logos + int(c.get("logo_delta") or 0)
            out.append(
                PeriodMovements(
                    period_start=period.start,
                    period_end=period.end,
                    start_arr=cents_to_amount(arr),
                    new=cents_to_amount(amt["new"]),
                    expansion=cents_to_amount(amt["expansion"]),
                    contraction=cents_to_amount(amt["contraction"]),
                    churn=cents_to_amount(amt["churn"]),
                    reactivation=cents_to_amount(amt["reactivation"]),
                    end_arr=cents_to_amount(end_arr),
                    accounts_start=logos,
                    accounts_end=end_logos,
                    accounts_new=int(c.get("accounts_new") or 0),
                    accounts_reactivated=int(c.get("accounts_reactivated") or 0),
                    accounts_churned=int(c.get("accounts_churned") or 0),
                )
            )
            arr, logos = end_arr, end_logos
        result[g] = out
    return result


def sum_periods(periods: Sequence[PeriodMovements]) -> PeriodMovements:
    """The periods' movements added up, from the first opening to the last closing."""
    first, last = periods[0], periods[-1]

    def total(name: str) -> Any:
        return sum((getattr(p, name) for p in periods), start=type(getattr(first, name))(0))

    return PeriodMovements(
        period_start=first.period_start,
        period_end=last.period_end,
        start_arr=first.start_arr,
        new=total("new"),
        expansion=total("expansion"),
        contraction=total("contraction"),
        churn=total("churn"),
        reactivation=total("reactivation"),
        end_arr=last.end_arr,
        accounts_start=first.accounts_start,
        accounts_end=last.accounts_end,
        accounts_new=total("accounts_new"),
        accounts_reactivated=total("accounts_reactivated"),
        accounts_churned=total("accounts_churned"),
    )


# -- service functions --------------------------------------------------------


def arr_movements(
    ledger: Ledger,
    start: date,
    end: date,
    *,
    period: PeriodUnit = "month",
    with_accounts: bool = False,
) -> MovementsReport:
    """ARR movements for each calendar month (or quarter) of ``[start, end]``.

    The first and last period are clipped to the range. ``totals`` adds up the
    periods' movements; its closing ARR minus its opening ARR equals their net sum
    exactly. ``with_accounts`` also lists every entity's movement in every period.
    """
    check_range(start, end, start_field="from", end_field="to")
    periods = split_periods(start, end, period)
    rows = period_movements(ledger, periods)[None]
    accounts = account_movements(ledger, periods) if with_accounts else None
    return MovementsReport(
        start=start,
        end=end,
        period=period,
        currency=ledger.reporting_currency,
        rollup=ledger.rollup,
        filters=ledger.filters.as_dict(),
        periods=rows,
        totals=sum_periods(rows),
        accounts=accounts,
    )


def account_movements(ledger: Ledger, periods: Sequence[Period]) -> list[AccountMovement]:
    """Every entity's movement in each of the consecutive ``periods`` (no-change omitted)."""
    points = points_for(periods)
    moves = classified(ledger, points)
    moves = moves.filter(moves.arr != moves.arr_before)
    names = ledger.entities().select("entity_key", "entity_id", "name")
    moves = moves.join(names, "entity_key").order_by(["idx", "entity_id"])
    table = ledger.engine.to_pyarrow(
        moves.select("entity_id", "name", "idx", "arr_before", "arr", *_AMOUNTS)
    )
    # Column-wise: the movement is the first kind with an amount (exactly one has one);
    # an amount of cents is made a Decimal once per distinct value.
    amounts = np.stack([table.column(k).to_numpy(zero_copy_only=False) for k in _AMOUNTS])
    kinds = np.argmax(amounts != 0, axis=0)
    chosen = amounts[kinds, np.arange(len(kinds))]
    if len(kinds) and not (amounts != 0).any(axis=0).all():
        raise ValueError("an ARR change without a movement (negative ARR?)")
    decimals: dict[int, Decimal] = {}

    def amount(cents: int) -> Decimal:
        found = decimals.get(cents)
        if found is None:
            found = decimals[cents] = cents_to_amount(cents)
        return found

    out = []
    for entity_id, name, idx, before, after, kind, cents in zip(
        table.column("entity_id").to_pylist(),
        table.column("name").to_pylist(),
        table.column("idx").to_pylist(),
        table.column("arr_before").to_pylist(),
        table.column("arr").to_pylist(),
        kinds.tolist(),
        chosen.tolist(),
        strict=True,
    ):
        period = periods[idx - 1]
        out.append(
            AccountMovement(
                account_id=entity_id,
                name=name,
                period_start=period.start,
                period_end=period.end,
                movement=_AMOUNTS[kind],
                start_arr=amount(before),
                end_arr=amount(after),
                amount=amount(cents),
            )
        )
    return out


def arr_at(ledger: Ledger, on: date) -> ArrSnapshot:
    """ARR of every entity with ARR > 0 on day ``on``, largest first."""
    ep = ledger.arr_by_point([on])
    ent = ledger.entities()
    rows = ep.filter((ep.idx == 0) & (ep.arr > 0)).join(ent, "entity_key")
    rows = rows.select("entity_id", "name", "segment", "arr").order_by(
        [ibis.desc("arr"), "entity_id"]
    )
    accounts = [
        AccountArr(r["entity_id"], r["name"], r["segment"], cents_to_amount(r["arr"]))
        for r in ledger.engine.to_pyarrow(rows).to_pylist()
    ]
    return ArrSnapshot(
        on=on,
        currency=ledger.reporting_currency,
        total_arr=sum((a.arr for a in accounts), start=Decimal("0.00")),
        accounts=accounts,
    )
