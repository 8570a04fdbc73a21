"""Retention figures for the portfolio and the retention page (from :mod:`kizuna.retention`).

Every figure is computed on a ledger narrowed to the page's filters and the
caller's book (:class:`~kizuna.retention.LedgerFilters`: segment, region,
owner; a CSM limited to their own book gets their own id as the owner). The
UI counts each account on its own (no roll-up to parent accounts), so retention
figures add up with the account list and follow the per-account owner scope;
``kizuna retention`` on the command line rolls up to parents by default.

When the daily run has saved a portfolio snapshot (:mod:`kizuna.daily`), the
dashboard's figures for any filter set are sums over the snapshot's
per-account rows — the same sums :mod:`kizuna.retention` makes — and the
unfiltered retention page is read from it whole. Without a snapshot (and for
a filtered retention page, whose cohorts need the ledger) reports are computed
on demand, cached per filter set and refreshed in the background.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from kizuna.auth.policy import Caller, account_scope
from kizuna.daily import PortfolioSnapshot, accounts_matching
from kizuna.retention import (
    Ledger,
    LedgerFilters,
    arr_movements,
    cohort_retention,
    renewals,
    retention_rates,
)
from kizuna.retention.movements import PeriodMovements
from kizuna.retention.rates import RetentionRates, rates_from_movements
from kizuna.retention.renewals import RenewalTotals
from kizuna.web.charts import Chart
from kizuna.web.insights import Figures, portfolio_snapshot, with_ledger

#: Filters no account matches (a scoped CSM asking for another CSM's book).
NOBODY = "\x00nobody"


def ledger_filters(caller: Caller, query: Any) -> LedgerFilters:
    """The page's segment/owner/region filters within the caller's book."""
    scope = account_scope(caller)
    owner = scope or (query.owner or None)
    if scope and query.owner and query.owner != scope:
        owner = NOBODY
    return LedgerFilters(segment=query.segment or None, region=query.region or None, owner=owner)


def period_start(today: date, period: str) -> date:
    """First day of the month, quarter or year containing ``today``."""
    if period == "month":
        return today.replace(day=1)
    if period == "year":
        return today.replace(month=1, day=1)
    return today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1)


def _f(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


MOVEMENT_COLOURS = {
    "new": "#3b5bdb",
    "expansion": "#079455",
    "reactivation": "#7a5af8",
    "contraction": "#dc9b04",
    "churn": "#d92d20",
}
MOVEMENT_LABELS = {
    "new": "New",
    "expansion": "Expansion",
    "reactivation": "Reactivation",
    "contraction": "Contraction",
    "churn": "Churn",
}


def movements_chart(periods: list[Any]) -> Chart:
    """ARR movements per month as stacked bars (contraction and churn below zero)."""
    labels = [p.period_end.isoformat()[:7] for p in periods]
    traces = []
    for kind, colour in MOVEMENT_COLOURS.items():
        sign = -1 if kind in ("contraction", "churn") else 1
        traces.append(
            {
                "type": "bar",
                "name": MOVEMENT_LABELS[kind],
                "x": labels,
                "y": [sign * float(getattr(p, kind)) for p in periods],
                "marker": {"color": colour},
                # What a click on the bar opens: the accounts with this movement that month.
                "customdata": [[kind, label] for label in labels],
            }
        )
    return Chart(traces=traces, x="category", y_title="ARR", layout={"barmode": "relative"})


@dataclass
class RetentionSummary:
    """The period to date: ARR bridge, GRR/NRR, the new / renewal / expansion split (seed 003)."""

    start: date
    end: date
    start_arr: Decimal
    end_arr: Decimal
    new: Decimal
    expansion: Decimal
    contraction: Decimal
    churn: Decimal
    reactivation: Decimal
    grr: float | None
    nrr: float | None
    logo_churn: float | None
    renewed: Decimal | None
    renewal_rate: float | None
    chart: Chart | None


def retention_summary(
    figures: Figures, caller: Caller, query: Any, period: str
) -> RetentionSummary | None:
    """ARR movements, GRR, NRR and renewals of the period to date (None: no contracts).

    New and expansion ARR are the period's movements
    (:func:`~kizuna.retention.retention_rates`); renewal ARR is the ARR of the
    lines due in the period that renewed (:func:`~kizuna.retention.renewals`).
    """
    return summary_for(figures, ledger_filters(caller, query), period)


def summary_for(figures: Figures, filters: LedgerFilters, period: str) -> RetentionSummary | None:
    """:func:`retention_summary` of the accounts ``filters`` select (cached per filter set)."""
    snapshot = portfolio_snapshot(figures)
    if snapshot is not None:
        return _summary_from(snapshot, accounts_matching(figures.platform, filters), period)
    platform = figures.platform
    today = platform.today()
    start = period_start(today, period)

    def work(ledger: Ledger) -> RetentionSummary | None:
        r = retention_rates(ledger, start, today).rates
        trend = arr_movements(ledger, date(today.year - 1, today.month, 1), today)
        if r.start_arr == 0 and r.end_arr == 0 and trend.totals.end_arr == 0:
            return None
        renewal = renewals(ledger, start, today, as_of=today).totals
        return _summary(start, today, r, renewal, trend.periods)

    result: RetentionSummary | None = figures.reports.get(
        figures.key("summary", period, filters),
        lambda: with_ledger(platform, filters, work, rollup=False),
    )
    return result


def _summary_from(
    snapshot: PortfolioSnapshot, accounts: set[str] | None, period: str
) -> RetentionSummary | None:
    """:func:`summary_for` as sums over the daily snapshot's rows of ``accounts`` (None: all)."""
    window = snapshot.windows[period]
    r = rates_from_movements(window.movements(accounts))
    trend = snapshot.monthly(accounts)
    if r.start_arr == 0 and r.end_arr == 0 and (not trend or trend[-1].end_arr == 0):
        return None
    return _summary(window.start, window.end, r, window.renewal_totals(accounts), trend)


def _summary(
    start: date,
    end: date,
    r: RetentionRates,
    renewal: RenewalTotals,
    trend: list[PeriodMovements],
) -> RetentionSummary:
    """The summary of a period from its rates, renewal totals and monthly trend."""
    return RetentionSummary(
        start=start,
        end=end,
        start_arr=r.start_arr,
        end_arr=r.end_arr,
        new=r.new,
        expansion=r.expansion,
        contraction=r.contraction,
        churn=r.churn,
        reactivation=r.reactivation,
        grr=_f(r.grr),
        nrr=_f(r.nrr),
        logo_churn=_f(r.logo_churn),
        renewed=renewal.arr_renewed,
        renewal_rate=_f(renewal.renewal_rate),
        chart=movements_chart(trend),
    )


@dataclass(frozen=True, slots=True)
class CohortLine:
    label: str
    size: float
    values: list[float | None]


@dataclass
class CohortTable:
    columns: list[int]
    rows: list[CohortLine]
    cohorts: int = 0  # cohorts in all; ``rows`` holds the most recent ones


@dataclass(frozen=True, slots=True)
class MonthRow:
    label: str
    start_arr: Decimal
    new: Decimal
    expansion: Decimal
    contraction: Decimal
    churn: Decimal
    reactivation: Decimal
    end_arr: Decimal


@dataclass
class RetentionPage:
    start: date
    end: date
    grr: float | None
    nrr: float | None
    logo_churn: float | None
    renewal_rate: float | None
    logo_renewal_rate: float | None
    months: list[MonthRow]
    chart: Chart
    logo_cohorts: CohortTable
    revenue_cohorts: CohortTable


#: The heat maps show the most recent cohorts and their first months (readable, and quick).
HEATMAP_COHORTS = 24
HEATMAP_MONTHS = 24


def _cohort_table(rows: list[Any], value: str, size: str) -> CohortTable:
    recent = sorted({r.cohort for r in rows})[-HEATMAP_COHORTS:]
    total = len({r.cohort for r in rows})
    rows = [r for r in rows if r.cohort in recent and r.months_since_start < HEATMAP_MONTHS]
    months = sorted({r.months_since_start for r in rows})
    by_cohort: dict[str, dict[int, Any]] = defaultdict(dict)
    sizes: dict[str, Any] = {}
    for r in rows:
        by_cohort[r.cohort][r.months_since_start] = getattr(r, value)
        if r.months_since_start == 0 or r.cohort not in sizes:
            sizes[r.cohort] = getattr(r, size)
    lines = [
        CohortLine(
            label=cohort,
            size=float(sizes[cohort]),
            values=[_f(by_cohort[cohort].get(m)) for m in months],
        )
        for cohort in sorted(by_cohort)
    ]
    return CohortTable(columns=months, rows=lines, cohorts=total)


def retention_page(figures: Figures, caller: Caller, query: Any) -> RetentionPage | None:
    """The last twelve months: movements by month, rates, renewal rate and cohort heat maps."""
    return page_for(figures, ledger_filters(caller, query))


def page_for(figures: Figures, filters: LedgerFilters) -> RetentionPage | None:
    """:func:`retention_page` of the accounts ``filters`` select (cached per filter set)."""
    snapshot = portfolio_snapshot(figures)
    if snapshot is not None and filters == LedgerFilters() and snapshot.cohorts is not None:
        window = snapshot.windows["last12"]
        months = snapshot.monthly(None)
        return _page(
            window.start,
            window.end,
            rates_from_movements(window.movements(None)),
            months,
            months[-1].end_arr if months else 0,
            window.renewal_totals(None),
            snapshot.cohorts,
        )
    platform = figures.platform
    today = platform.today()
    start = date(today.year - 1, today.month, 1)

    def work(ledger: Ledger) -> RetentionPage | None:
        rates = retention_rates(ledger, start, today).rates
        moves = arr_movements(ledger, start, today)
        renewal = renewals(ledger, start, today, as_of=today).totals
        cohorts = cohort_retention(ledger, as_of=today).rows
        return _page(start, today, rates, moves.periods, moves.totals.end_arr, renewal, cohorts)

    result: RetentionPage | None = figures.reports.get(
        figures.key("page", filters),
        lambda: with_ledger(platform, filters, work, rollup=False),
    )
    return result


def _page(
    start: date,
    today: date,
    rates: Any,
    periods: list[Any],
    end_arr: Any,
    renewal: Any,
    cohorts: list[Any],
) -> RetentionPage | None:
    """The retention page from its parts (live, or sums over the daily snapshot)."""
    if rates.start_arr == 0 and end_arr == 0:
        return None
    return RetentionPage(
        start=start,
        end=today,
        grr=_f(rates.grr),
        nrr=_f(rates.nrr),
        logo_churn=_f(rates.logo_churn),
        renewal_rate=_f(renewal.renewal_rate),
        logo_renewal_rate=_f(renewal.logo_renewal_rate),
        months=[
            MonthRow(
                label=p.period_end.isoformat()[:7],
                start_arr=p.start_arr,
                new=p.new,
                expansion=p.expansion,
                contraction=p.contraction,
                churn=p.churn,
                reactivation=p.reactivation,
                end_arr=p.end_arr,
            )
            for p in periods
        ],
        chart=movements_chart(periods),
        logo_cohorts=_cohort_table(cohorts, "logo_retention", "accounts"),
        revenue_cohorts=_cohort_table(cohorts, "revenue_retention", "start_arr"),
    )
