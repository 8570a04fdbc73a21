"""Computed figures of accounts for the UI, read from the analytics services.

Health, retention, lifecycle and metrics are computed by their own packages
(:mod:`kizuna.health`, :mod:`kizuna.retention`, :mod:`kizuna.lifecycle`,
:mod:`kizuna.metrics`); this module only calls their public functions and
shapes the results for pages. A figure whose service has not computed anything
yet is ``None``, and the page says "not computed yet" — it never shows a
stand-in number.

Figures over the whole book (each account's ARR, ARR history, next renewal,
health and stage; the weekly health bands) are kept in a :class:`BookCache`
and refreshed in the background (:data:`FACTS_TTL_SECONDS`). They are computed
over *every* account; a page narrows them to the accounts the caller may read
and the page's filters (see :mod:`kizuna.web.views`), so no figure leaks
outside the caller's book.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from kizuna.daily import (
    AccountFigures,
    ArrBook,
    LifecycleBook,
    PortfolioSnapshot,
    arr_book_of,
    latest_portfolio,
    lifecycle_path,
    portfolio_path,
    read_lifecycle_book,
    read_portfolio,
)
from kizuna.errors import KizunaError, NotFound
from kizuna.health.report import explain_account, list_health
from kizuna.health.snapshots import read_snapshot, snapshot_dates
from kizuna.lifecycle import definition_for, stored_transitions
from kizuna.metrics.service import read_metric_values
from kizuna.platform import Platform
from kizuna.retention import Ledger, LedgerFilters
from kizuna.web.cache import BookCache, quiet_engine
from kizuna.web.charts import Chart

log = logging.getLogger("kizuna.web")

BANDS = ("red", "yellow", "green")
FACTS_TTL_SECONDS = 120.0
REPORTS_TTL_SECONDS = 300.0

BAND_COLOURS = {"red": "#d92d20", "yellow": "#dc9b04", "green": "#079455"}

#: Per-account facts and health bands (cheap: about a second for the demo book).
_cache = BookCache(FACTS_TTL_SECONDS)
#: Reports: retention by filter, onboarding outcomes, each account's lifecycle.
_reports = BookCache(REPORTS_TTL_SECONDS)


def set_background(on: bool) -> None:
    """Refresh book-wide figures in background threads (serving) or in the request (tests)."""
    _cache.background = on
    _reports.background = on


def settle() -> None:
    """Wait for every background computation to finish (benchmarks, tests)."""
    _cache.settle()
    _reports.settle()


def invalidate() -> None:
    """Forget cached figures (after an import through the UI, or between tests)."""
    _cache.clear()
    _reports.clear()


#: What lists and headers show of one account (None: not computed yet).
AccountFacts = AccountFigures

NO_FACTS = AccountFacts()


def _key(platform: Platform, *parts: Any) -> tuple[Any, ...]:
    return (platform.store.url, str(platform.settings.home), platform.today(), *parts)


def portfolio_snapshot(platform: Platform) -> PortfolioSnapshot | None:
    """The newest daily-run snapshot on or before today (None: none saved; figures are live).

    Read once per file: a daily run that replaces the file is picked up at the
    next request.
    """
    day = latest_portfolio(platform.settings, platform.today())
    if day is None:
        return None
    path = portfolio_path(platform.settings, day)
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    key = (str(path), stamp)
    with _snapshot_lock:
        hit = _snapshots.get(str(path))
        if hit is not None and hit[0] == key:
            return hit[1]
    snapshot = read_portfolio(platform.settings, day)
    with _snapshot_lock:
        _snapshots[str(path)] = (key, snapshot)
    return snapshot


_snapshots: dict[str, tuple[tuple[str, int], PortfolioSnapshot | None]] = {}
_snapshot_lock = threading.Lock()
_lifecycle_books: dict[str, tuple[tuple[str, int], LifecycleBook | None]] = {}


def lifecycle_book(platform: Platform) -> LifecycleBook | None:
    """Each account's lifecycle detail the daily run saved for today (None: none saved).

    Only today's: a detail states days in stage and overdue milestones as of its
    date. Read once per file, like :func:`portfolio_snapshot`.
    """
    path = lifecycle_path(platform.settings, platform.today())
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    key = (str(path), stamp)
    with _snapshot_lock:
        hit = _lifecycle_books.get(str(path))
        if hit is not None and hit[0] == key:
            return hit[1]
    book = read_lifecycle_book(platform.settings, platform.today())
    with _snapshot_lock:
        _lifecycle_books[str(path)] = (key, book)
    return book


def figures_as_of(platform: Platform) -> date | None:
    """The date of the daily-run snapshot pages read (None: figures are live-computed)."""
    snapshot = portfolio_snapshot(platform)
    return snapshot.as_of if snapshot is not None else None


def account_facts(platform: Platform) -> dict[str, AccountFacts]:
    """Facts of every account: from the daily-run snapshot, else computed (cached)."""
    snapshot = portfolio_snapshot(platform)
    if snapshot is not None:
        return snapshot.facts
    facts: dict[str, AccountFacts] = _cache.get(
        _key(platform, "facts"), lambda: _compute_account_facts(platform)
    )
    return facts


def _compute_account_facts(platform: Platform) -> dict[str, AccountFacts]:
    facts: dict[str, dict[str, Any]] = defaultdict(dict)
    book = arr_book(platform)
    if book is not None:
        for account_id, arr in book.arr.items():
            facts[account_id]["arr"] = arr
        for account_id, day in book.renewal.items():
            facts[account_id]["renewal_date"] = day
    listing = _health_listing(platform)
    if listing is not None:
        for row in listing["accounts"]:
            f = facts[row["account_id"]]
            f["health_score"] = row["score"]
            f["health_band"] = row["band"]
            f["health_change_30d"] = row.get("change_30d")
    for account_id, stage in _stages(platform).items():
        facts[account_id]["stage"] = stage
    return {account_id: AccountFacts(**values) for account_id, values in facts.items()}


# -- ARR, its history and the next renewal (kizuna.retention) ------------------------


def with_ledger(
    platform: Platform,
    filters: LedgerFilters | None,
    work: Callable[[Ledger], Any],
    *,
    rollup: bool = True,
) -> Any:
    """Run ``work`` on a freshly loaded ledger; None (logged) when retention cannot compute."""
    try:
        with (
            quiet_engine(),
            Ledger.load(
                platform.store, platform.settings, filters=filters, rollup=rollup
            ) as ledger,
        ):
            return work(ledger)
    except KizunaError as exc:
        log.warning("retention figures unavailable: %s", exc)
        return None


def arr_book(platform: Platform) -> ArrBook | None:
    """ARR per account (no roll-up to parents): the daily snapshot's, else
    :func:`kizuna.daily.arr_book_of` on the retention ledger, cached with the facts."""
    snapshot = portfolio_snapshot(platform)
    if snapshot is not None:
        return ArrBook(
            arr={a: f.arr for a, f in snapshot.facts.items() if f.arr is not None},
            months=snapshot.arr_months,
            history=snapshot.arr_history,
            renewal={a: f.renewal_date for a, f in snapshot.facts.items() if f.renewal_date},
        )
    today = platform.today()

    def work(ledger: Ledger) -> ArrBook:
        return arr_book_of(ledger, today)

    result: ArrBook | None = _cache.get(
        _key(platform, "arr"), lambda: with_ledger(platform, None, work, rollup=False)
    )
    return result


def arr_history_chart(platform: Platform, account_id: str) -> Chart | None:
    """The account's ARR at each month end, from its first month with ARR (None: never had ARR)."""
    book = arr_book(platform)
    series = book.history.get(account_id) if book else None
    if book is None or not series or not any(series):
        return None
    first = next(i for i, v in enumerate(series) if v)
    return Chart(
        traces=[
            {
                "type": "scatter",
                "mode": "lines+markers",
                "line": {"shape": "hv", "color": "#3b5bdb"},
                "name": "ARR",
                "x": [m.isoformat() for m in book.months[first:]],
                "y": [float(v) for v in series[first:]],
                "hovertemplate": "%{x|%Y-%m}: %{y:,.0f}<extra></extra>",
            }
        ],
        x="month",
        y_title="ARR",
        layout={"showlegend": False, "yaxis": {"rangemode": "tozero"}},
    )


# -- health ----------------------------------------------------------------------------


def _health_day(platform: Platform) -> date | None:
    dates = [d for d in snapshot_dates(platform.settings) if d <= platform.today()]
    return dates[-1] if dates else None


def _health_listing(platform: Platform) -> dict[str, Any] | None:
    day = _health_day(platform)
    if day is None:
        return None
    try:
        return list_health(platform.settings, as_of=day)
    except NotFound:
        return None


@dataclass(frozen=True, slots=True)
class MeasureRow:
    group: str
    name: str
    raw: float | None
    score: float | None
    weight: float | None
    contribution: float | None
    missing: bool


@dataclass(frozen=True, slots=True)
class Mover:
    name: str
    delta: float


@dataclass
class HealthDetail:
    """One account's health as the account page shows it."""

    as_of: date
    score: float | None
    band: str | None
    scorecard: str
    change_7d: float | None
    change_30d: float | None
    movers: list[Mover]
    measures: list[MeasureRow]
    missing: list[str]
    trend_chart: Chart | None


def health_detail(platform: Platform, account_id: str) -> HealthDetail | None:
    """The account's latest health with its breakdown, trend and top movers (None: not computed)."""
    day = _health_day(platform)
    if day is None:
        return None
    try:
        data = explain_account(platform.settings, account_id, as_of=day, history_days=90)
    except NotFound:
        return None
    trend = data["trend"]
    movers_30 = trend.get("30d", {}).get("top_movers") or trend.get("7d", {}).get("top_movers")
    measures = [
        MeasureRow(
            group=m["group"],
            name=m["name"],
            raw=m["raw_value"],
            score=m["score"],
            weight=m["effective_weight"],
            contribution=m["contribution"],
            missing=bool(m["missing"]),
        )
        for m in data["measures"]
    ]
    history = data["history"]
    chart = None
    if history:
        chart = Chart(
            traces=[
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": "Health",
                    "x": [h["as_of"].isoformat() for h in history],
                    "y": [h["score"] for h in history],
                    "marker": {
                        "color": [BAND_COLOURS.get(h["band"], "#667085") for h in history],
                        "size": 8,
                    },
                    "line": {"color": "#3b5bdb"},
                }
            ],
            x="day",
            y_title="Health score",
            layout={"yaxis": {"range": [0, 100]}, "showlegend": False},
        )
    return HealthDetail(
        as_of=day,
        score=data["score"],
        band=data["band"],
        scorecard=data["scorecard"],
        change_7d=trend.get("7d", {}).get("change"),
        change_30d=trend.get("30d", {}).get("change"),
        movers=[Mover(m["measure"], m["change"]) for m in (movers_30 or [])],
        measures=measures,
        missing=list(data["missing"] or []),
        trend_chart=chart,
    )


def _band_history(platform: Platform, weeks: int) -> list[tuple[date, pa.Table]]:
    """Every account's band on weekly snapshot dates up to the latest (cached, whole book)."""
    day = _health_day(platform)
    if day is None:
        return []

    def compute() -> list[tuple[date, pa.Table]]:
        available = set(snapshot_dates(platform.settings))
        days = [d for d in (day - timedelta(days=7 * i) for i in range(weeks)) if d in available]
        out = []
        for d in sorted(days):
            table = read_snapshot(platform.settings, d, columns=["account_id", "band"])
            if table is not None:
                out.append((d, table))
        return out

    history: list[tuple[date, pa.Table]] = _cache.get(_key(platform, "bands", day, weeks), compute)
    return history


def health_distribution_trend(
    platform: Platform, account_ids: Collection[str], weeks: int = 13
) -> Chart | None:
    """Accounts per band on weekly snapshot dates, counted over ``account_ids`` only.

    ``account_ids`` are the accounts the page shows (the caller's book, the
    page's filters): the trend counts exactly the accounts the rest of the page does.
    """
    history = _band_history(platform, weeks)
    if not history:
        return None
    wanted = pa.array(sorted(account_ids), pa.string())
    counts: dict[str, list[int]] = {b: [] for b in BANDS}
    for _, table in history:
        bands = table.filter(pc.is_in(table["account_id"], value_set=wanted))["band"]
        found = {row["values"]: row["counts"] for row in pc.value_counts(bands).to_pylist()}
        for b in BANDS:
            counts[b].append(int(found.get(b, 0)))
    return Chart(
        traces=[
            {
                "type": "bar",
                "name": b,
                "x": [d.isoformat() for d, _ in history],
                "y": counts[b],
                "marker": {"color": BAND_COLOURS[b]},
            }
            for b in BANDS
        ],
        x="day",
        y_title="Accounts",
        layout={"barmode": "stack"},
    )


# -- stages ----------------------------------------------------------------------------


def _stages(platform: Platform) -> dict[str, str]:
    """Each account's current lifecycle stage name (stored by ``kizuna lifecycle compute``)."""
    transitions = stored_transitions(platform, until=platform.today())
    if not transitions:
        return {}
    definition = definition_for(platform.settings.home)
    out = {}
    for account_id, history in transitions.items():
        stage = definition.stage(history[-1].to_stage)
        out[account_id] = stage.name if stage else history[-1].to_stage
    return out


# -- usage metrics ---------------------------------------------------------------------

USAGE_CHARTS = 4


@dataclass(frozen=True, slots=True)
class UsageChart:
    title: str
    chart: Chart


def usage_charts(platform: Platform, account_id: str) -> list[UsageChart] | None:
    """Each stored behavioural metric of the account over time (None: metrics not computed)."""
    table = read_metric_values(platform, account_id=account_id)
    if table.num_rows == 0:
        return None
    series: dict[str, list[tuple[date, float]]] = defaultdict(list)
    for row in table.select(["as_of", "metric", "value"]).to_pylist():
        if row["value"] is not None:
            series[row["metric"]].append((row["as_of"], float(row["value"])))
    charts = []
    for metric in sorted(series)[:USAGE_CHARTS]:
        points = sorted(series[metric])
        charts.append(
            UsageChart(
                title=metric,
                chart=Chart(
                    traces=[
                        {
                            "type": "scatter",
                            "mode": "lines",
                            "name": metric,
                            "x": [d.isoformat() for d, _ in points],
                            "y": [v for _, v in points],
                            "line": {"color": "#3b5bdb"},
                            "fill": "tozeroy",
                        }
                    ],
                    x="day",
                    translate_names=False,
                    layout={"showlegend": False},
                ),
            )
        )
    return charts or None


def start_warming(platform: Platform) -> None:
    """Compute today's book-wide figures in the background, once per book and day.

    Called on every UI request when serving (``background=True``): the first
    visit to a fresh worker — usually the login page — starts the computation,
    so the figures are usually ready by the time the visitor has logged in.
    """
    if not _cache.background:
        return

    def run() -> bool:
        warm(platform)
        return True

    _reports.peek(_key(platform, "warm-up"), run)


def warm(platform: Platform) -> None:
    """Compute the book-wide figures now (before serving), so no first visitor waits."""
    from kizuna.web import lifecycle_views, retention_views

    with quiet_engine():
        account_facts(platform)
        _band_history(platform, 13)
        # The unfiltered dashboard and retention page (managers, admins, unscoped CSMs).
        retention_views.summary_for(platform, LedgerFilters(), "quarter")
        retention_views.page_for(platform, LedgerFilters())
        lifecycle_views.onboarding_book(platform, wait=True)
