"""Retention rates of one period: GRR, NRR, logo churn and revenue churn.

Over the entities with ARR > 0 on the period's opening day (``start - 1``):

- GRR = (start ARR − contraction − churn) / start ARR, in [0, 1]
- NRR = (start ARR + expansion − contraction − churn) / start ARR
- logo churn = entities with ARR > 0 at the opening and 0 at the end ÷ entities
  with ARR > 0 at the opening
- revenue churn = the opening ARR of those churned entities ÷ start ARR

New and reactivated ARR are reported but do not enter GRR or NRR. Movements
are taken between the period's ends (see :mod:`kizuna.retention.movements`).
Rates are ``None`` when the start ARR is 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from kizuna.jsonable import to_jsonable
from kizuna.retention.ledger import Ledger
from kizuna.retention.movements import GroupBy, PeriodMovements, period_movements
from kizuna.retention.periods import Period, check_range


@dataclass(frozen=True, slots=True)
class RetentionRates:
    """ARR bridge and retention rates of one period (amounts in the reporting currency)."""

    start_arr: Decimal
    end_arr: Decimal
    new: Decimal
    expansion: Decimal
    contraction: Decimal
    churn: Decimal
    reactivation: Decimal
    grr: Decimal | None
    nrr: Decimal | None
    logo_churn: Decimal | None
    revenue_churn: Decimal | None
    accounts_start: int
    accounts_churned: int


@dataclass(frozen=True, slots=True)
class RetentionGroup:
    """Rates of one value of the grouping attribute (``value`` may be ``None``)."""

    value: str | None
    rates: RetentionRates


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """``kizuna retention``: the rates of ``[start, end]``, overall and per group."""

    start: date
    end: date
    currency: str
    rollup: bool
    filters: dict[str, str]
    rates: RetentionRates
    by: str | None = None
    groups: list[RetentionGroup] = field(default_factory=list)


def rates_from_movements(m: PeriodMovements) -> RetentionRates:
    """GRR, NRR, logo and revenue churn from one period's movements.

    Parameters
    ----------
    m
        Opening ARR, movements and logo counts of the period.

    Returns
    -------
    RetentionRates
        Rates as exact decimal fractions (1 = 100 %); ``None`` if the start ARR is 0.
    """
    start = m.start_arr
    kept = start - m.contraction - m.churn
    return RetentionRates(
        start_arr=start,
        end_arr=m.end_arr,
        new=m.new,
        expansion=m.expansion,
        contraction=m.contraction,
        churn=m.churn,
        reactivation=m.reactivation,
        grr=kept / start if start else None,
        nrr=(kept + m.expansion) / start if start else None,
        logo_churn=(
            Decimal(m.accounts_churned) / Decimal(m.accounts_start) if m.accounts_start else None
        ),
        revenue_churn=m.churn / start if start else None,
        accounts_start=m.accounts_start,
        accounts_churned=m.accounts_churned,
    )


def retention_rates(
    ledger: Ledger, start: date, end: date, *, by: GroupBy | None = None
) -> RetentionReport:
    """GRR, NRR, logo and revenue churn for ``[start, end]``, optionally per segment/region/owner.

    Parameters
    ----------
    ledger
        The ARR ledger (its filters and rollup apply).
    start, end
        First and last day of the period, inclusive. The start ARR is the ARR on
        ``start - 1``, the end ARR the ARR on ``end``.
    by
        Also report each value of this entity attribute.
    """
    check_range(start, end)
    period = [Period(start, end)]
    overall = rates_from_movements(period_movements(ledger, period)[None][0])
    groups = []
    if by is not None:
        for value, rows in period_movements(ledger, period, by).items():
            groups.append(RetentionGroup(value=value, rates=rates_from_movements(rows[0])))
    return RetentionReport(
        start=start,
        end=end,
        currency=ledger.reporting_currency,
        rollup=ledger.rollup,
        filters=ledger.filters.as_dict(),
        rates=overall,
        by=by,
        groups=groups,
    )


def retention_json(report: RetentionReport) -> dict[str, Any]:
    """The flat JSON of a retention report, as ``kizuna retention --json`` and the API
    give it: the required keys (``start_arr``, ``grr``, ...) at the top level."""
    body: dict[str, Any] = {
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "currency": report.currency,
        "rollup": report.rollup,
        "filters": report.filters,
        **to_jsonable(report.rates),
    }
    if report.by is not None:
        body["by"] = report.by
        body["groups"] = [{report.by: g.value, **to_jsonable(g.rates)} for g in report.groups]
    return body
