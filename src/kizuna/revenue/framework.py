"""Seed 004's fifteen metrics by lifecycle category, for a period, per segment or owner.

The figures are computed in :mod:`~kizuna.revenue.framework_book` (what the
book's capabilities computed) and :mod:`~kizuna.revenue.framework_activity`
(counts in the store); the vocabulary is :mod:`~kizuna.revenue.framework_model`.
Every figure comes from the capability that owns it; nothing here re-implements
their logic:

* onboarding — :func:`kizuna.lifecycle.onboarding_report` (time to value,
  activation, on-time onboarding), regrouped with its own ``summarise``;
* adoption — the health snapshot of the last date in the period that has one
  (its ``adoption`` group), the stored metric values of the last computed date
  (product and feature usage), NPS answers given in the period;
* upsell and cross-sell — won opportunities (bookings), the ARR ledger's
  movements (net new ARR, expansion);
* retention — :func:`kizuna.retention.period_movements` and
  :func:`~kizuna.retention.rates_from_movements` (GRR, NRR, logo and revenue
  churn), the health snapshot's bands;
* renewal — tickets opened in the period, opportunities closed in it, and
  :func:`kizuna.retention.renewals` (final renewal rate).

Grouping: ARR figures group by the *entity* (top-level parent) like every
retention report; opportunity figures by the opportunity's owner when grouping
by owner; the rest by the account's own segment or owner.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, TypeVar

from kizuna.errors import InvalidInput, Problem
from kizuna.health.snapshots import snapshot_dates
from kizuna.lifecycle.onboarding import OnboardingReport
from kizuna.metrics.store import stored_dates
from kizuna.platform import Platform
from kizuna.retention.ledger import Ledger
from kizuna.revenue.framework_activity import (
    Remember,
    nps_figures,
    opportunity_figures,
    ticket_figures,
)
from kizuna.revenue.framework_book import (
    health_figures,
    ledger_figures,
    onboarding_figures,
    usage_figures,
)
from kizuna.revenue.framework_model import (
    METRICS,
    NONE_GROUP,
    Category,
    FrameworkBy,
    FrameworkGroup,
    FrameworkReport,
    Grouped,
    MetricDefinition,
    MetricValue,
    last_on_or_before,
)

T = TypeVar("T")


def framework(
    platform: Platform,
    start: date,
    end: date,
    *,
    by: FrameworkBy | None = None,
    as_of: date | None = None,
    ledger: Ledger | None = None,
    onboarding: OnboardingReport | None = None,
    accounts: Mapping[str, tuple[str | None, str | None]] | None = None,
) -> FrameworkReport:
    """The fifteen metrics of ``[start, end]`` as of ``as_of`` (default: ``min(end, today)``).

    Parameters
    ----------
    ledger
        The ARR ledger to use (default: loaded from the store, rollup on).
    onboarding
        An onboarding report as of ``as_of`` whose cohort covers ``[start, end]``
        (the daily run computes one for the whole book); its accounts with a
        contract start in the period are used. Default: computed here.
    accounts
        ``account_id → (segment, owner_id)``; default: read from the store.
    """
    if end < start:
        raise InvalidInput(
            "invalid period", [Problem(f"--to {end} is before --from {start}", field="to")]
        )
    as_of = as_of or min(end, platform.today())
    out = Grouped()
    own_ledger = ledger is None
    if ledger is None:
        ledger = Ledger.load(platform.store, platform.settings)
    try:
        remember = None
        if accounts is None:  # every account's own segment and owner, from the loaded ledger
            # shared by the reports over this ledger, with what they compute from it alike
            accounts = ledger.remembered(("segment and owner",), lambda: _groups(ledger))
            remember = ledger.remembered
        pick = 0 if by == "segment" else 1

        def group_of(account_id: str) -> str | None:
            attrs = accounts.get(account_id)
            return attrs[pick] if attrs else None

        onboarding_figures(platform, start, end, as_of, by, group_of, onboarding, out)
        # The health and usage figures depend on the day read, not on the window: the
        # windows reading the same day (the newest) share them.
        health_day = _shared(
            remember,
            (
                "health figures",
                last_on_or_before(snapshot_dates(platform.settings), start, end),
                by,
            ),
            out,
            lambda part: health_figures(platform, start, end, by, group_of, part),
        )
        metrics_day = _shared(
            remember,
            (
                "usage figures",
                last_on_or_before(stored_dates(platform.settings.home), start, end),
                by,
            ),
            out,
            lambda part: usage_figures(platform, start, end, by, group_of, part),
        )
        nps_figures(platform, start, end, by, group_of, out, remember=remember)
        opportunity_figures(platform, start, end, by, group_of, out)
        ledger_figures(ledger, start, end, as_of, by, out)
        ticket_figures(platform, start, end, by, group_of, out, remember=remember)
        currency = ledger.reporting_currency
    finally:
        if own_ledger:
            ledger.close()
    order = [m.id for m in METRICS]
    category = {m.id: m.category for m in METRICS}

    def listing(key: str | None) -> list[MetricValue]:
        found = out.values.get(key, {})
        return [found.get(i) or MetricValue(i, category[i], None) for i in order]

    keys = sorted((k for k in out.values if k is not None), key=lambda k: (k == NONE_GROUP, k))
    return FrameworkReport(
        start=start,
        end=end,
        as_of=as_of,
        by=by,
        currency=currency,
        health_as_of=health_day,
        metrics_as_of=metrics_day,
        definitions=list(METRICS),
        overall=listing(None),
        groups=[FrameworkGroup(k, listing(k)) for k in keys] if by else [],
    )


def own_book(report: FrameworkReport, owner_id: str) -> FrameworkReport:
    """The figures of one owner's book, from a report grouped by owner.

    For a CSM limited to their own book (``csm_scope=own``): the overall figures
    are their group's — ARR figures over the entities they own, opportunity
    figures over the opportunities they own, the rest over their accounts — so
    no book-wide number is shown to them. Without a group (nothing in their
    book) every figure is ``None``.
    """
    if report.by != "owner":
        raise ValueError("own_book needs a report grouped by owner")
    mine = next((g for g in report.groups if g.key == owner_id), None)
    metrics = (
        mine.metrics if mine is not None else [MetricValue(m.id, m.category, None) for m in METRICS]
    )
    return FrameworkReport(
        start=report.start,
        end=report.end,
        as_of=report.as_of,
        by="owner",
        currency=report.currency,
        health_as_of=report.health_as_of,
        metrics_as_of=report.metrics_as_of,
        definitions=report.definitions,
        overall=metrics,
        groups=[FrameworkGroup(owner_id, metrics)],
    )


__all__ = [
    "METRICS",
    "Category",
    "FrameworkBy",
    "FrameworkGroup",
    "FrameworkReport",
    "MetricDefinition",
    "MetricValue",
    "framework",
    "own_book",
]


def _groups(ledger: Ledger) -> dict[str, tuple[str | None, str | None]]:
    """``account_id → (segment, owner_id)`` of every account of the ledger."""
    table = ledger.engine.to_pyarrow(ledger.accounts.select("account_id", "segment", "owner_id"))
    return dict(
        zip(
            table.column("account_id").to_pylist(),
            zip(
                table.column("segment").to_pylist(),
                table.column("owner_id").to_pylist(),
                strict=True,
            ),
            strict=True,
        )
    )


def _shared(
    remember: Remember | None, key: tuple[Any, ...], out: Grouped, compute: Callable[[Grouped], T]
) -> T:
    """``compute(part)`` once per ``key`` while ``remember`` keeps it (None: every time), the
    figures it put in ``part`` put in ``out``; returns what ``compute`` returned."""

    def run() -> tuple[Grouped, T]:
        part = Grouped()
        return part, compute(part)

    part, result = remember(key, run) if remember is not None else run()
    for group, metrics in part.values.items():
        for metric in metrics.values():
            out.put(group, metric)
    return result
