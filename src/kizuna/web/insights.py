"""Computed figures of accounts for the UI, read from the analytics services.

Health, retention, lifecycle and metrics are computed by their own packages
(:mod:`kizuna.health`, :mod:`kizuna.retention`, :mod:`kizuna.lifecycle`,
:mod:`kizuna.metrics`); this module only calls their public functions and
shapes the results for pages. A figure whose service has not computed anything
yet is ``None``, and the page says "not computed yet" — it never shows a
stand-in number.

Figures over the whole book (each account's ARR, ARR history, next renewal,
health and stage; the weekly health bands) are kept in the app's
:class:`Figures` and refreshed in the background (:data:`FACTS_TTL_SECONDS`). They are computed
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
from pathlib import Path
from typing import Any, TypeVar

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
    window_start,
)
from kizuna.errors import KizunaError, NotFound
from kizuna.health.compute import scorecard_paths
from kizuna.health.report import explain_account, list_health
from kizuna.health.scorecard import load_scorecards
from kizuna.health.snapshots import read_snapshot, snapshot_dates
from kizuna.labels import Label
from kizuna.lifecycle import current_stages
from kizuna.metrics.definitions import MetricDefinition, load_definitions
from kizuna.metrics.service import read_metric_values
from kizuna.platform import Platform
from kizuna.portfolio import BANDS, HEALTH_BANDS, attention_reasons
from kizuna.retention import Ledger, LedgerFilters
from kizuna.retention.movements import AccountMovement, account_movements
from kizuna.retention.periods import split_periods
from kizuna.web.cache import BookCache, quiet_engine
from kizuna.web.charts import Chart
from kizuna.web.i18n import SHARE_UNITS

log = logging.getLogger("kizuna.web")

__all__ = ["BANDS"]  # re-exported from kizuna.portfolio for the pages

FACTS_TTL_SECONDS = 120.0
REPORTS_TTL_SECONDS = 300.0

_T = TypeVar("_T")

BAND_COLOURS = {b.id: b.colour for b in HEALTH_BANDS}


class Figures:
    """The book-wide figures of one platform that one web app keeps in memory.

    :func:`kizuna.web.create_web_app` makes one per app (``app.state.figures``;
    pages reach it as ``ctx.figures``), so nothing is shared between apps or
    kept in module globals. ``facts``: per-account facts and health bands
    (cheap: about a second for the demo book); ``reports``: retention by
    filter, onboarding outcomes, each account's lifecycle. The daily run's files
    are read once per file version; a new portfolio snapshot (a daily run
    finished) forgets every cached figure, so pages read the new run.
    """

    def __init__(self, platform: Platform, *, background: bool = True) -> None:
        self.platform = platform
        #: True: stale figures are refreshed in background threads (serving); False:
        #: everything is computed in the request (tests and scripts).
        self.background = background
        self.facts = BookCache(FACTS_TTL_SECONDS, background=background)
        self.reports = BookCache(REPORTS_TTL_SECONDS, background=background)
        self._lock = threading.Lock()
        self._files: dict[str, tuple[int | None, Any]] = {}
        self._snapshot_seen: tuple[str, int] | None = None

    def key(self, *parts: Any) -> tuple[Any, ...]:
        """The key of a figure of the book on the platform's today."""
        return (self.platform.today(), *parts)

    def settle(self) -> None:
        """Wait for every background computation to finish (benchmarks, tests)."""
        self.facts.settle()
        self.reports.settle()

    def invalidate(self) -> None:
        """Forget every cached figure (after an import through the UI, a new daily run)."""
        self.facts.clear()
        self.reports.clear()

    def read_file(self, path: Path, read: Callable[[], _T]) -> _T | None:
        """``read()`` of the daily-run file ``path``, once per version of it (None: no file)."""
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        with self._lock:
            hit = self._files.get(str(path))
            if hit is not None and hit[0] == stamp:
                cached: _T = hit[1]
                return cached
        value = read()
        with self._lock:
            self._files[str(path)] = (stamp, value)
        return value

    def versioned(self, key: str, path: Path, compute: Callable[[], _T]) -> _T:
        """``compute()``, again only when the file ``path`` changed (appeared, was edited or
        removed): a definition file read on every page otherwise (the rules in use)."""
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        with self._lock:
            hit = self._files.get(key)
            if hit is not None and hit[0] == stamp:
                cached: _T = hit[1]
                return cached
        value = compute()
        with self._lock:
            self._files[key] = (stamp, value)
        return value

    def snapshot_changed(self, seen: tuple[str, int] | None) -> None:
        """Note the portfolio snapshot pages read now; another one than before forgets every
        cached figure (a daily run finished)."""
        with self._lock:
            if seen == self._snapshot_seen:
                return
            self._snapshot_seen = seen
        self.invalidate()


#: What lists and headers show of one account (None: not computed yet).
AccountFacts = AccountFigures

NO_FACTS = AccountFacts()


def portfolio_snapshot(figures: Figures) -> PortfolioSnapshot | None:
    """The newest daily-run snapshot on or before today (None: none saved; figures are live).

    Read once per file: a daily run that replaces the file (or saves a newer
    day's) is picked up at the next request, and the figures cached before it
    are forgotten.
    """
    platform = figures.platform
    day = latest_portfolio(platform.settings, platform.today())
    path = portfolio_path(platform.settings, day) if day is not None else None
    try:
        seen = (str(path), path.stat().st_mtime_ns) if path is not None else None
    except FileNotFoundError:
        seen = None
    figures.snapshot_changed(seen)
    if path is None or day is None:
        return None
    return figures.read_file(path, lambda: read_portfolio(platform.settings, day))


def lifecycle_book(figures: Figures) -> LifecycleBook | None:
    """Each account's lifecycle detail the daily run saved for today (None: none saved).

    Only today's: a detail states days in stage and overdue milestones as of its
    date. Read once per file, like :func:`portfolio_snapshot`.
    """
    settings, today = figures.platform.settings, figures.platform.today()
    return figures.read_file(
        lifecycle_path(settings, today), lambda: read_lifecycle_book(settings, today)
    )


def figures_as_of(figures: Figures) -> date | None:
    """The date of the daily-run snapshot pages read (None: figures are live-computed)."""
    snapshot = portfolio_snapshot(figures)
    return snapshot.as_of if snapshot is not None else None


def account_facts(figures: Figures) -> dict[str, AccountFacts]:
    """Facts of every account: from the daily-run snapshot, else computed (cached)."""
    snapshot = portfolio_snapshot(figures)
    if snapshot is not None:
        return snapshot.facts
    facts: dict[str, AccountFacts] = figures.facts.get(
        figures.key("facts"), lambda: _compute_account_facts(figures)
    )
    return facts


def _compute_account_facts(figures: Figures) -> dict[str, AccountFacts]:
    platform = figures.platform
    facts: dict[str, dict[str, Any]] = defaultdict(dict)
    book = arr_book(figures)
    if book is not None:
        for account_id, arr in book.arr.items():
            facts[account_id]["arr"] = arr
        for account_id, day in book.renewal.items():
            facts[account_id]["renewal_date"] = day
        for account_id, month in book.cohort.items():
            facts[account_id]["cohort"] = month
    listing = _health_listing(platform)
    if listing is not None:
        for row in listing["accounts"]:
            f = facts[row["account_id"]]
            f["health_score"] = row["score"]
            f["health_band"] = row["band"]
            f["health_change_30d"] = row.get("change_30d")
    for account_id, stage in current_stages(platform, until=platform.today()).items():
        facts[account_id]["stage"] = stage
    # Overdue onboarding needs the book-wide onboarding report: the portfolio adds
    # that reason when the report is ready (the daily run's snapshot has it).
    for values in facts.values():
        values["attention"] = attention_reasons(
            values.get("health_band"), values.get("health_change_30d"), None
        )
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


def arr_book(figures: Figures) -> ArrBook | None:
    """ARR per account (no roll-up to parents): the daily snapshot's, else
    :func:`kizuna.daily.arr_book_of` on the retention ledger, cached with the facts."""
    snapshot = portfolio_snapshot(figures)
    if snapshot is not None:
        return ArrBook(
            arr={a: f.arr for a, f in snapshot.facts.items() if f.arr is not None},
            months=snapshot.arr_months,
            history=snapshot.arr_history,
            renewal={a: f.renewal_date for a, f in snapshot.facts.items() if f.renewal_date},
            cohort={a: f.cohort for a, f in snapshot.facts.items() if f.cohort},
        )
    platform = figures.platform
    today = platform.today()

    def work(ledger: Ledger) -> ArrBook:
        return arr_book_of(ledger, today)

    result: ArrBook | None = figures.facts.get(
        figures.key("arr"), lambda: with_ledger(platform, None, work, rollup=False)
    )
    return result


def monthly_movements(figures: Figures) -> list[AccountMovement] | None:
    """Each account's ARR movement in each month of the last twelve (None: retention failed):
    the daily snapshot's, else computed on the ledger (cached)."""
    snapshot = portfolio_snapshot(figures)
    if snapshot is not None:
        return snapshot.monthly_moves
    platform = figures.platform
    today = platform.today()

    def work(ledger: Ledger) -> list[AccountMovement]:
        return account_movements(
            ledger, split_periods(window_start(today, "last12"), today, "month")
        )

    moves: list[AccountMovement] | None = figures.reports.get(
        figures.key("monthly-moves"),
        lambda: with_ledger(platform, None, work, rollup=False),
    )
    return moves


def arr_history_chart(figures: Figures, account_id: str) -> Chart | None:
    """The account's ARR at each month end, from its first month with ARR (None: never had ARR)."""
    book = arr_book(figures)
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
    group: Label
    name: Label
    #: The raw value's unit (a metric's ``unit``; "share" is shown as a percentage).
    unit: str | None
    raw: float | None
    score: float | None
    weight: float | None
    contribution: float | None
    missing: bool


@dataclass(frozen=True, slots=True)
class Mover:
    name: Label
    delta: float


@dataclass
class HealthDetail:
    """One account's health as the account page shows it."""

    as_of: date
    score: float | None
    band: str | None
    scorecard: Label
    change_7d: float | None
    change_30d: float | None
    movers: list[Mover]
    measures: list[MeasureRow]
    missing: list[Label]
    trend_chart: Chart | None


@dataclass(frozen=True)
class HealthVocabulary:
    """Labels of the scorecards' names, groups and measures and the measures' units."""

    scorecards: dict[str, Label]
    groups: dict[tuple[str, str], Label]
    measures: dict[tuple[str, str], Label]
    units: dict[tuple[str, str], str | None]

    def group(self, scorecard: str, name: str) -> Label:
        return self.groups.get((scorecard, name)) or Label.of(name)

    def measure(self, scorecard: str, name: str) -> Label:
        return self.measures.get((scorecard, name)) or Label.of(name)

    def mover(self, scorecard: str, key: str) -> Label:
        """The label of a top mover: ``group.measure``, or ``child:<account id>`` (roll-up)."""
        if key.startswith("child:"):
            return Label(key, key.removeprefix("child:"))
        return self.measure(scorecard, key.split(".", 1)[-1])


def metric_labels(platform: Platform) -> dict[str, MetricDefinition]:
    """The metric definitions in use, by name (for their labels and units)."""
    return {m.name: m for m in load_definitions(None).metrics}


def health_vocabulary(platform: Platform) -> HealthVocabulary:
    """Labels and units of the scorecards in use (names made readable when unlabelled)."""
    metrics = metric_labels(platform)
    cards = load_scorecards(scorecard_paths(platform.settings) or None)
    scorecards, groups, measures, units = {}, {}, {}, {}
    for card in cards.scorecards:
        scorecards[card.name] = Label.of(card.name, card.label, card.label_ja)
        for g in card.groups:
            groups[(card.name, g.name)] = Label.of(g.name, g.label, g.label_ja)
            for m in g.measures:
                measures[(card.name, m.name)] = Label.of(m.name, m.label, m.label_ja)
                metric = metrics.get(getattr(m.source, "metric", "") or "")
                units[(card.name, m.name)] = metric.unit if metric is not None else None
    return HealthVocabulary(scorecards, groups, measures, units)


def health_detail(figures: Figures, account_id: str) -> HealthDetail | None:
    """The account's latest health with its breakdown, trend and top movers (None: not computed).

    Kept with the facts (refreshed like them; forgotten with a new daily run).
    """
    platform = figures.platform
    day = _health_day(platform)
    if day is None:
        return None
    detail: HealthDetail | None = figures.facts.get(
        figures.key("health", day, account_id), lambda: _health_detail(platform, account_id, day)
    )
    return detail


def _health_detail(platform: Platform, account_id: str, day: date) -> HealthDetail | None:
    try:
        data = explain_account(platform.settings, account_id, as_of=day, history_days=90)
    except NotFound:
        return None
    trend = data["trend"]
    movers_30 = trend.get("30d", {}).get("top_movers") or trend.get("7d", {}).get("top_movers")
    words = health_vocabulary(platform)
    card = data["scorecard"]
    measures = [
        MeasureRow(
            group=words.group(card, m["group"]),
            name=words.measure(card, m["name"]),
            unit=words.units.get((card, m["name"])),
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
        scorecard=words.scorecards.get(card) or Label.of(card),
        change_7d=trend.get("7d", {}).get("change"),
        change_30d=trend.get("30d", {}).get("change"),
        movers=[Mover(words.mover(card, m["measure"]), m["change"]) for m in (movers_30 or [])],
        measures=measures,
        missing=[words.measure(card, name) for name in data["missing"] or []],
        trend_chart=chart,
    )


def trend_weeks(day: date, weeks: int) -> list[date]:
    """The ``weeks`` weekly dates ending on ``day``, oldest first."""
    return [day - timedelta(days=7 * i) for i in range(weeks - 1, -1, -1)]


def _band_history(figures: Figures, weeks: int) -> list[tuple[date, pa.Table | None]]:
    """Every account's band on each weekly date up to the latest snapshot (None: no snapshot
    that week; cached, whole book)."""
    platform = figures.platform
    day = _health_day(platform)
    if day is None:
        return []

    def compute() -> list[tuple[date, pa.Table | None]]:
        available = set(snapshot_dates(platform.settings))
        return [
            (
                d,
                read_snapshot(platform.settings, d, columns=["account_id", "band"])
                if d in available
                else None,
            )
            for d in trend_weeks(day, weeks)
        ]

    history: list[tuple[date, pa.Table | None]] = figures.facts.get(
        figures.key("bands", day, weeks), compute
    )
    return history


@dataclass
class BandTrend:
    """Accounts per band on each of the last weeks; ``missing`` weeks had no health snapshot."""

    chart: Chart
    weeks: int
    missing: int


def health_distribution_trend(
    figures: Figures, account_ids: Collection[str], weeks: int = 13
) -> BandTrend | None:
    """Accounts per band on the last ``weeks`` weekly dates, counted over ``account_ids`` only.

    ``account_ids`` are the accounts the page shows (the caller's book, the
    page's filters): the trend counts exactly the accounts the rest of the page does.
    Every week is on the axis; a week without a health snapshot has no bar and is
    counted in ``missing`` (the page says so) — never a stand-in number.
    """
    history = _band_history(figures, weeks)
    if not history:
        return None
    wanted = pa.array(sorted(account_ids), pa.string())
    counts: dict[str, list[int | None]] = {b: [] for b in BANDS}
    for _, table in history:
        if table is None:
            for b in BANDS:
                counts[b].append(None)
            continue
        bands = table.filter(pc.is_in(table["account_id"], value_set=wanted))["band"]
        found = {row["values"]: row["counts"] for row in pc.value_counts(bands).to_pylist()}
        for b in BANDS:
            counts[b].append(int(found.get(b, 0)))
    chart = Chart(
        traces=[
            {
                "type": "bar",
                "name": band.id,
                "x": [d.isoformat() for d, _ in history],
                "y": counts[band.id],
                "marker": {"color": band.colour},
            }
            for band in HEALTH_BANDS
        ],
        x="day",
        y_title="Accounts",
        layout={
            "barmode": "stack",
            # Every week on the axis, also those without a snapshot (no bar).
            "xaxis": {
                "range": [
                    (history[0][0] - timedelta(days=4)).isoformat(),
                    (history[-1][0] + timedelta(days=4)).isoformat(),
                ]
            },
        },
    )
    return BandTrend(chart, len(history), sum(1 for _, t in history if t is None))


# -- usage metrics ---------------------------------------------------------------------

USAGE_CHARTS = 4


@dataclass(frozen=True, slots=True)
class UsageChart:
    title: Label
    chart: Chart


def usage_charts(figures: Figures, account_id: str) -> list[UsageChart] | None:
    """Each stored behavioural metric of the account over time (None: metrics not computed).

    Kept with the facts (refreshed like them; forgotten with a new daily run).
    """
    platform = figures.platform
    charts: list[UsageChart] | None = figures.facts.get(
        figures.key("usage", account_id), lambda: _usage_charts(platform, account_id)
    )
    return charts


def _usage_charts(platform: Platform, account_id: str) -> list[UsageChart] | None:
    table = read_metric_values(platform, account_id=account_id)
    if table.num_rows == 0:
        return None
    series: dict[str, list[tuple[date, float]]] = defaultdict(list)
    for row in table.select(["as_of", "metric", "value"]).to_pylist():
        if row["value"] is not None:
            series[row["metric"]].append((row["as_of"], float(row["value"])))
    charts = []
    definitions = metric_labels(platform)
    for metric in sorted(series)[:USAGE_CHARTS]:
        points = sorted(series[metric])
        known = definitions.get(metric)
        share = known is not None and known.unit in SHARE_UNITS
        charts.append(
            UsageChart(
                title=Label.of(metric, known.label, known.label_ja)
                if known is not None
                else Label.of(metric),
                chart=Chart(
                    traces=[
                        {
                            "type": "scatter",
                            "mode": "lines",
                            # The page titles the chart with the metric's label; no trace
                            # name (and so no raw metric name in a hover label).
                            "hovertemplate": "%{x|%Y-%m-%d}: %{y}<extra></extra>",
                            "x": [d.isoformat() for d, _ in points],
                            "y": [v for _, v in points],
                            "line": {"color": "#3b5bdb"},
                            "fill": "tozeroy",
                        }
                    ],
                    x="day",
                    translate_names=False,
                    layout={
                        "showlegend": False,
                        "yaxis": {"tickformat": ".0%"} if share else {},
                    },
                ),
            )
        )
    return charts or None
