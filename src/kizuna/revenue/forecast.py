"""The renewal forecast: upcoming renewals per month or quarter, weighted, beside what closed.

Each period of the forecast holds the renewal opportunities expected to close in
it, with the ARR up for renewal, the forecast category of each (``commit``,
``best_case``, ``pipeline`` from its stage; ``won`` and ``lost`` once decided)
and the *weighted* ARR: the ARR times the probability of winning — the stage's
default probability, the opportunity's own, or a renewal probability supplied
by a :class:`RenewalProbabilitySource` (the churn-risk model, when one exists).

Past periods also show what actually closed, and :func:`forecast_accuracy`
compares, for each past quarter, what the pipeline forecast at the quarter's
start (reconstructed from the stage history) with the ARR that renewed.

Health, plan status and churn risk beside each renewal come from
:class:`~kizuna.revenue.context.RenewalContextSource` implementations (health
snapshots, churn risk scores, success plan statuses: :mod:`kizuna.revenue.context`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, Literal

import sqlalchemy as sa

from kizuna.errors import InvalidInput, Problem
from kizuna.platform import Platform
from kizuna.retention.periods import PeriodUnit, period_end, period_label
from kizuna.revenue.context import RenewalContext, RenewalContextSource, merge_contexts
from kizuna.revenue.definition import RevenueDefinition
from kizuna.revenue.opportunities import OpportunityView, forecast_amount, view_of
from kizuna.store.models import Account
from kizuna.store.revenue_models import (
    Opportunity,
    OpportunityStageChange,
    OpportunityStatus,
    OpportunityType,
)

CATEGORIES = ("commit", "best_case", "pipeline", "won", "lost")
_COLUMNS = tuple(c.name for c in Opportunity.__table__.c)
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class ForecastRenewal:
    """One renewal opportunity in the forecast."""

    opportunity: OpportunityView
    account_name: str | None
    arr: Decimal
    weighted_arr: Decimal
    probability: float
    probability_source: Literal["stage", "opportunity", "risk_model", "decided"]
    category: str
    context: RenewalContext


@dataclass(frozen=True, slots=True)
class ForecastPeriod:
    """One month or quarter: ARR by category, weighted ARR, and what closed."""

    period: str
    start: date
    end: date
    renewals: int
    arr: Decimal
    weighted_arr: Decimal
    by_category: dict[str, Decimal]
    won_arr: Decimal
    lost_arr: Decimal
    open_arr: Decimal


@dataclass(frozen=True, slots=True)
class Forecast:
    """``kizuna forecast``: renewals expected to close in ``[start, end]`` per period."""

    start: date
    end: date
    as_of: date
    period: str
    currency_note: str
    totals: ForecastPeriod
    periods: list[ForecastPeriod]
    renewals: list[ForecastRenewal] = field(default_factory=list)


def _probability(
    view: OpportunityView, stored: float | None, ctx: RenewalContext
) -> tuple[float, Literal["stage", "opportunity", "risk_model", "decided"]]:
    if view.status != "open":
        return view.probability, "decided"
    if stored is not None:
        return stored, "opportunity"
    if ctx.renewal_probability is not None:
        return ctx.renewal_probability, "risk_model"
    return view.probability, "stage"


def _summarise(
    label: str, start: date, end: date, rows: Sequence[ForecastRenewal]
) -> ForecastPeriod:
    zero = Decimal("0.00")
    by_category = {c: zero for c in CATEGORIES}
    for r in rows:
        by_category[r.category] = by_category.get(r.category, zero) + r.arr
    return ForecastPeriod(
        period=label,
        start=start,
        end=end,
        renewals=len(rows),
        arr=sum((r.arr for r in rows), start=zero),
        weighted_arr=sum((r.weighted_arr for r in rows), start=zero),
        by_category=by_category,
        won_arr=by_category["won"],
        lost_arr=by_category["lost"],
        open_arr=sum((r.arr for r in rows if r.opportunity.status == "open"), start=zero),
    )


def renewal_forecast(
    platform: Platform,
    definition: RevenueDefinition,
    start: date,
    end: date,
    *,
    as_of: date,
    period: PeriodUnit = "quarter",
    context: Sequence[RenewalContextSource] = (),
    account_owner: str | None = None,
) -> Forecast:
    """Renewal opportunities expected to close in ``[start, end]``, per period, weighted.

    Parameters
    ----------
    as_of
        The forecast's date: only stage changes and outcomes known by then count.
    context
        Sources of health, risk, renewal probability and plan status per account.
    account_owner
        Only accounts owned by this CSM (a scoped reader's book).
    """
    if end < start:
        raise InvalidInput(
            "invalid period", [Problem(f"--to {end} is before --from {start}", field="to")]
        )
    # plain rows, not ORM objects: a year of renewals is tens of thousands of them
    q = (
        sa.select(
            *Opportunity.__table__.c,
            Account.name.label("account_name"),
            _stage_on(as_of).label("stage_then"),
        )
        .join(Account, Account.id == Opportunity.account_id)
        .where(
            Opportunity.type == OpportunityType.RENEWAL,
            Opportunity.expected_close_date >= start,
            Opportunity.expected_close_date <= end,
        )
        .order_by(Opportunity.expected_close_date, Opportunity.id)
    )
    if account_owner is not None:
        q = q.where(Account.owner_id == account_owner)
    with platform.store.session() as s:
        rows = s.execute(q).all()
    views = [
        (_as_of_view(o, o.stage_then, as_of, definition), o.account_name, o.probability)
        for o in rows
        if o.stage_then is not None  # opened by then
    ]
    ids = sorted({v.account_id for v, _, _ in views})
    ctx = merge_contexts(context, ids, as_of)
    renewals = []
    for view, name, stored in views:
        c = ctx.get(view.account_id, RenewalContext())
        prob, source = _probability(view, stored, c)
        amount = view.arr_total if view.arr_total is not None else view.arr_change
        renewals.append(
            ForecastRenewal(
                opportunity=view,
                account_name=name,
                arr=amount,
                weighted_arr=(amount * Decimal(str(prob))).quantize(_CENT),
                probability=prob,
                probability_source=source,
                category=view.forecast_category,
                context=c,
            )
        )
    by_label: dict[str, list[ForecastRenewal]] = defaultdict(list)
    for r in renewals:
        by_label[period_label(r.opportunity.expected_close_date, period)].append(r)
    periods = []
    cursor = start
    while cursor <= end:
        stop = min(period_end(cursor, period), end)
        label = period_label(cursor, period)
        periods.append(_summarise(label, cursor, stop, by_label.get(label, [])))
        cursor = stop + timedelta(days=1)
    return Forecast(
        start=start,
        end=end,
        as_of=as_of,
        period=period,
        currency_note="amounts in each opportunity's currency",
        totals=_summarise("total", start, end, renewals),
        periods=periods,
        renewals=renewals,
    )


def _stage_on(as_of: date) -> Any:
    """The stage an opportunity had on ``as_of`` (its last stage change by then), as a
    correlated subquery: one query for every opportunity of a forecast."""
    sc = OpportunityStageChange
    return (
        sa.select(sc.to_stage)
        .where(sc.opportunity_id == Opportunity.id, sc.changed_on <= as_of)
        .order_by(sc.changed_on.desc(), sc.id.desc())
        .limit(1)
        .correlate(Opportunity)
        .scalar_subquery()
    )


def _as_of_view(
    opp: Any, stage_then: str | None, as_of: date, definition: RevenueDefinition
) -> OpportunityView:
    """The opportunity as it stood on ``as_of``: undecided if closed later, at the open
    stage it had then."""
    if opp.status != OpportunityStatus.OPEN and opp.closed_on is not None:
        if opp.closed_on <= as_of:
            return view_of(opp, definition)
    elif opp.status == OpportunityStatus.OPEN and stage_then == opp.stage:
        return view_of(opp, definition)
    st = definition.stage(stage_then) if stage_then is not None else None
    then = SimpleNamespace(
        **{c: getattr(opp, c) for c in _COLUMNS},
    )
    then.stage = st.id if st is not None and st.outcome == "open" else definition.first_stage
    then.status = OpportunityStatus.OPEN
    then.line_id = None
    return view_of(then, definition)


@dataclass(frozen=True, slots=True)
class AccuracyRow:
    """A past quarter: what was forecast at its start and what renewed."""

    period: str
    start: date
    end: date
    forecast_weighted: Decimal
    forecast_commit: Decimal
    actual_won: Decimal
    actual_lost: Decimal
    accuracy: float | None  # 1 − |forecast − actual| ÷ actual; None without a decided renewal


def forecast_accuracy(
    platform: Platform,
    definition: RevenueDefinition,
    *,
    as_of: date,
    quarters: int = 4,
    account_owner: str | None = None,
) -> list[AccuracyRow]:
    """For each of the last ``quarters`` quarters ended by ``as_of``: the weighted
    forecast made on its first day (stage history as it stood) against the ARR won."""
    rows = []
    # the quarter after the last one that ended by as_of
    q_start = date(as_of.year, 3 * ((as_of.month - 1) // 3) + 1, 1)
    if period_end(q_start, "quarter") == as_of:
        q_start = as_of + timedelta(days=1)
    starts = []
    for _ in range(quarters):
        prev_end = q_start - timedelta(days=1)
        q_start = date(prev_end.year, 3 * ((prev_end.month - 1) // 3) + 1, 1)
        starts.append(q_start)
    for qs in reversed(starts):
        qe = period_end(qs, "quarter")
        then = renewal_forecast(
            platform,
            definition,
            qs,
            qe,
            as_of=qs - timedelta(days=1),
            period="quarter",
            account_owner=account_owner,
        )
        now = renewal_forecast(
            platform, definition, qs, qe, as_of=as_of, period="quarter", account_owner=account_owner
        )
        actual = now.totals.won_arr
        predicted = then.totals.weighted_arr
        decided = now.totals.won_arr + now.totals.lost_arr
        accuracy = (
            round(max(0.0, 1 - float(abs(predicted - actual)) / float(actual)), 4)
            if actual
            else (1.0 if decided and not predicted else None)
        )
        rows.append(
            AccuracyRow(
                period=period_label(qs, "quarter"),
                start=qs,
                end=qe,
                forecast_weighted=predicted,
                forecast_commit=then.totals.by_category["commit"],
                actual_won=actual,
                actual_lost=now.totals.lost_arr,
                accuracy=accuracy,
            )
        )
    return rows


__all__ = [
    "AccuracyRow",
    "Forecast",
    "ForecastPeriod",
    "ForecastRenewal",
    "forecast_accuracy",
    "forecast_amount",
    "renewal_forecast",
]
