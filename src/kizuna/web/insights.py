"""Computed figures for the UI, read from the analytics services.

Health, retention, lifecycle and metrics are computed by their own packages
(:mod:`kizuna.health`, :mod:`kizuna.retention`, :mod:`kizuna.lifecycle`,
:mod:`kizuna.metrics`) and kept as snapshots; this module only reads them and
shapes them for pages. A figure whose service has not computed anything yet
is ``None``, and the page says "not computed yet" — it never shows a stand-in
number.

Per-account facts for the whole book are read once and kept for a short time
(:data:`FACTS_TTL_SECONDS`), so list and dashboard pages do not recompute them
on every request; a change made through the UI clears the cache.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kizuna.auth.audit import record_audit
from kizuna.auth.policy import Caller, account_scope, can_write
from kizuna.customers import get_record, list_records
from kizuna.errors import InvalidInput, KizunaError, NotFound, PermissionDenied, Problem
from kizuna.health.report import explain_account, list_health
from kizuna.health.snapshots import read_snapshot, snapshot_dates
from kizuna.lifecycle import (
    LifecycleDefinition,
    OnboardingSummary,
    complete_milestone,
    definition_for,
    onboarding_report,
    stored_transitions,
)
from kizuna.lifecycle.milestones import MilestoneStatus, milestone_statuses
from kizuna.lifecycle.onboarding import summarise as summarise_onboarding
from kizuna.lifecycle.stages import evaluate_accounts
from kizuna.metrics.service import read_metric_values
from kizuna.platform import Platform
from kizuna.retention import (
    Ledger,
    LedgerFilters,
    arr_at,
    arr_movements,
    cohort_retention,
    renewals,
    retention_rates,
)
from kizuna.store.models import ContractLine, ContractStatus
from kizuna.web.i18n import gettext

log = logging.getLogger("kizuna.web")

BANDS = ("red", "yellow", "green")
FACTS_TTL_SECONDS = 120.0


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """What lists and headers show of one account (None: not computed yet)."""

    arr: Decimal | None = None
    health_score: float | None = None
    health_band: str | None = None
    health_change_30d: float | None = None
    stage: str | None = None
    renewal_date: date | None = None
    overdue_milestones: int = 0


NO_FACTS = AccountFacts()


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    at: date
    kind: str  # "milestone" or "stage"
    title: str
    detail: str | None = None


class _BookCache:
    """Book-wide results by key, refreshed in the background once older than ``ttl``.

    A page never waits for a refresh of a result it has already seen: an expired
    entry is served while one background thread recomputes it (stale while
    revalidate). Only the very first request for a key computes in the request.
    :meth:`clear` (after a change through the UI) forgets everything; a refresh
    that started before a clear does not write its older result back.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._entries: dict[Any, tuple[float, Any]] = {}
        self._refreshing: set[Any] = set()
        self._generation = 0

    def get(self, key: Any, compute: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            generation = self._generation
            stale = hit is not None and now - hit[0] >= self.ttl
            if stale and key not in self._refreshing:
                self._refreshing.add(key)
                threading.Thread(
                    target=self._refresh, args=(key, compute, generation), daemon=True
                ).start()
        if hit is not None:
            return hit[1]
        value = compute()
        self._store(key, value, generation)
        return value

    def _refresh(self, key: Any, compute: Callable[[], Any], generation: int) -> None:
        try:
            with _quiet_engine():
                self._store(key, compute(), generation)
        except Exception:  # a failed refresh keeps serving the last good result
            log.exception("background refresh of %r failed", key)
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def _store(self, key: Any, value: Any, generation: int) -> None:
        with self._lock:
            if generation == self._generation:
                self._entries[key] = (time.monotonic(), value)

    def update(self, key: Any, change: Callable[[Any], Any]) -> None:
        """Apply ``change`` to a cached value in place (keeping its age)."""
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries[key] = (hit[0], change(hit[1]))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._generation += 1


_cache = _BookCache(FACTS_TTL_SECONDS)
_reports = _BookCache(300.0)


def account_facts(platform: Platform) -> dict[str, AccountFacts]:
    """Facts of every account as of the platform's today, by account id (cached briefly)."""
    key = ("facts", platform.store.url, platform.today())
    facts: dict[str, AccountFacts] = _cache.get(
        key, lambda: _compute_account_facts(platform, platform.today())
    )
    return facts


def warm(platform: Platform) -> None:
    """Compute the book-wide figures now (before serving), so no first visitor waits."""
    with _quiet_engine():
        account_facts(platform)


def invalidate() -> None:
    """Forget cached facts and reports (after a change made through the UI or an import)."""
    _cache.clear()
    _reports.clear()


def _renewal_dates(platform: Platform, as_of: date) -> dict[str, date]:
    """The end date of each account's earliest active contract line not yet ended."""
    query = (
        sa.select(ContractLine.account_id, sa.func.min(ContractLine.end_date))
        .where(ContractLine.end_date >= as_of, ContractLine.start_date <= as_of)
        .where(ContractLine.status == ContractStatus.ACTIVE)
        .group_by(ContractLine.account_id)
    )
    with platform.store.session() as session:
        return {account_id: end for account_id, end in session.execute(query)}


def _compute_account_facts(platform: Platform, as_of: date) -> dict[str, AccountFacts]:
    facts: dict[str, dict[str, Any]] = defaultdict(dict)
    for account_id, day in _renewal_dates(platform, as_of).items():
        facts[account_id]["renewal_date"] = day
    listing = _health_listing(platform)
    if listing is not None:
        for row in listing["accounts"]:
            f = facts[row["account_id"]]
            f["health_score"] = row["score"]
            f["health_band"] = row["band"]
            f["health_change_30d"] = row.get("change_30d")
    for account_id, arr in _arr_by_account(platform, as_of).items():
        facts[account_id]["arr"] = arr
    for account_id, (stage, overdue) in _stages(platform, as_of).items():
        facts[account_id]["stage"] = stage
        facts[account_id]["overdue_milestones"] = overdue
    return {account_id: AccountFacts(**values) for account_id, values in facts.items()}


# -- health ----------------------------------------------------------------------


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
    trend_chart: dict[str, Any] | None


BAND_COLOURS = {"red": "#d92d20", "yellow": "#dc9b04", "green": "#079455"}


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
        chart = {
            "data": [
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": gettext("Health"),
                    "x": [h["as_of"].isoformat() for h in history],
                    "y": [h["score"] for h in history],
                    "marker": {"color": [BAND_COLOURS.get(h["band"], "#667085") for h in history]},
                    "line": {"color": "#3b5bdb"},
                }
            ],
            "layout": {"yaxis": {"range": [0, 100]}, "showlegend": False},
        }
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


def health_distribution_trend(platform: Platform, weeks: int = 13) -> dict[str, Any] | None:
    """Accounts per band on weekly snapshot dates up to the latest, as a stacked bar chart."""
    day = _health_day(platform)
    if day is None:
        return None
    available = set(snapshot_dates(platform.settings))
    days = [day - timedelta(days=7 * i) for i in range(weeks)][::-1]
    days = [d for d in days if d in available]
    counts: dict[str, list[int]] = {b: [] for b in BANDS}
    for d in days:
        table = read_snapshot(platform.settings, d, columns=["band"])
        bands = table["band"].to_pylist() if table is not None else []
        for b in BANDS:
            counts[b].append(sum(1 for x in bands if x == b))
    return {
        "data": [
            {
                "type": "bar",
                "name": gettext(b),
                "x": [d.isoformat() for d in days],
                "y": counts[b],
                "marker": {"color": BAND_COLOURS[b]},
            }
            for b in BANDS
        ],
        "layout": {"barmode": "stack"},
    }


# -- a small time-bounded cache for figures computed over the whole book --------------


# -- lifecycle -------------------------------------------------------------------------


def _definition(platform: Platform) -> LifecycleDefinition:
    return definition_for(platform.settings.home)


def _milestone_book(platform: Platform) -> dict[str, list[MilestoneStatus]]:
    """Every onboarding milestone of every account as of today (one lake pass, cached)."""

    def compute() -> dict[str, list[MilestoneStatus]]:
        today = platform.today()
        evaluated = evaluate_accounts(platform, _definition(platform), today)
        return {
            account_id: milestone_statuses(ev.ctx, ev.completions, today)
            for account_id, ev in evaluated.items()
        }

    key = ("milestones", platform.store.url, platform.today())
    book: dict[str, list[MilestoneStatus]] = _cache.get(key, compute)
    return book


def _stages(platform: Platform, as_of: date) -> dict[str, tuple[str, int]]:
    """Each account's current stage name and number of overdue onboarding milestones."""
    transitions = stored_transitions(platform, until=as_of)
    if not transitions:
        return {}
    definition = _definition(platform)
    book = _milestone_book(platform)
    out = {}
    for account_id, history in transitions.items():
        stage = definition.stage(history[-1].to_stage)
        overdue = sum(1 for m in book.get(account_id, []) if m.status == "overdue")
        out[account_id] = (stage.name if stage else history[-1].to_stage, overdue)
    return out


@dataclass(frozen=True, slots=True)
class StageStep:
    at: date
    stage_name: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class MilestoneRow:
    id: str
    name: str
    owner: str
    due: date
    status: str  # done | done_late | overdue | open
    done_on: date | None
    done_by: str | None


@dataclass
class LifecycleDetail:
    stage: str | None
    stage_name: str | None
    since: date | None
    history: list[StageStep]
    milestones: list[MilestoneRow]


def lifecycle_detail(platform: Platform, account_id: str) -> LifecycleDetail | None:
    """The account's stage, stage history and onboarding milestones (None: not computed).

    Stages come from the stored transitions (``kizuna lifecycle compute``);
    milestones from the book-wide evaluation kept by :func:`_milestone_book`.
    """
    today = platform.today()
    history = stored_transitions(platform, account_id, until=today).get(account_id, [])
    milestones = _milestone_book(platform).get(account_id, [])
    if not history and not milestones:
        return None
    definition = _definition(platform)

    def name_of(stage_id: str) -> str:
        stage = definition.stage(stage_id)
        return stage.name if stage else stage_id

    current = history[-1] if history else None
    return LifecycleDetail(
        stage=current.to_stage if current else None,
        stage_name=name_of(current.to_stage) if current else None,
        since=current.date if current else None,
        history=[StageStep(t.date, name_of(t.to_stage), t.reason) for t in reversed(history)],
        milestones=[
            MilestoneRow(
                id=m.id,
                name=m.name,
                owner=m.owner,
                due=m.due,
                status=str(m.status),
                done_on=m.done,
                done_by=m.completed_by,
            )
            for m in milestones
        ],
    )


def lifecycle_timeline(detail: LifecycleDetail | None) -> list[LifecycleEvent]:
    """Stage changes and completed milestones of an account, for its timeline."""
    if detail is None:
        return []
    events = [LifecycleEvent(h.at, "stage", h.stage_name, h.reason) for h in detail.history]
    for m in detail.milestones:
        if m.done_on is not None:
            events.append(
                LifecycleEvent(m.done_on, "milestone", m.name, m.done_by or gettext("automatic"))
            )
    return events


def mark_milestone_done(
    platform: Platform, caller: Caller, account_id: str, milestone_id: str, done_on: str
) -> None:
    """Mark an onboarding milestone done by hand, by the caller, on ``done_on`` (default today).

    The caller must be allowed to change the account (role and book).
    """
    if len(account_id) > 64 or any(ord(c) < 32 for c in account_id):
        raise NotFound(f"no account {account_id.encode('unicode_escape').decode()[:80]}")
    account = get_record(platform, caller, "accounts", account_id)
    if not can_write(caller, account.owner_id):
        raise PermissionDenied(
            f"{caller.principal.role.value} {caller.principal.member_id} "
            f"may not change account {account_id}"
        )
    day = platform.today()
    if done_on.strip():
        try:
            day = date.fromisoformat(done_on.strip())
        except ValueError:
            raise InvalidInput(
                "invalid date", [Problem("use a date like 2025-06-30", field="done_on")]
            ) from None
        if day > platform.today():
            raise InvalidInput(
                "invalid date", [Problem("the date is in the future", field="done_on")]
            )
    complete_milestone(
        platform,
        _definition(platform),
        account_id,
        milestone_id,
        completed_on=day,
        completed_by=caller.principal.name,
    )
    record_audit(
        platform,
        caller,
        action="update",
        resource="milestones",
        resource_id=milestone_id,
        account_id=account_id,
        detail=f"marked done on {day.isoformat()}",
    )
    # Re-evaluate this one account and patch the cached book (the whole book takes seconds).
    today = platform.today()
    evaluated = evaluate_accounts(platform, _definition(platform), today, [account_id])
    ev = evaluated.get(account_id)
    if ev is not None:
        statuses = milestone_statuses(ev.ctx, ev.completions, today)
        _cache.update(
            ("milestones", platform.store.url, today), lambda book: {**book, account_id: statuses}
        )
        overdue = sum(1 for m in statuses if m.status == "overdue")
        _cache.update(
            ("facts", platform.store.url, today),
            lambda facts: {
                **facts,
                account_id: replace(facts.get(account_id, NO_FACTS), overdue_milestones=overdue),
            },
        )
    _reports.clear()


# -- onboarding report -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OnboardingRow:
    label: str
    accounts: int
    ttv_median: float | None
    ttv_q1: float | None
    ttv_q3: float | None
    activation_rate: float | None
    on_time_rate: float | None


@dataclass
class OnboardingPage:
    start: date
    end: date
    total: OnboardingRow
    by_segment: list[OnboardingRow]
    by_cohort: list[OnboardingRow]
    chart: dict[str, Any] | None


def _onboarding_row(label: str, summary: OnboardingSummary) -> OnboardingRow:
    ttv = summary.time_to_value
    return OnboardingRow(
        label=label,
        accounts=summary.accounts,
        ttv_median=ttv.median,
        ttv_q1=ttv.q1,
        ttv_q3=ttv.q3,
        activation_rate=summary.activation.rate,
        on_time_rate=summary.on_time.rate,
    )


def onboarding_page(platform: Platform, caller: Caller, query: Any) -> OnboardingPage | None:
    """Time to value, activation and on-time onboarding over the last year, by cohort and segment.

    ``None`` when no account has started onboarding in the window (nothing to report).
    """
    today = platform.today()
    start = date(today.year - 1, today.month, 1)
    report = _reports.get(
        ("onboarding", platform.store.url, today),
        lambda: onboarding_report(platform, _definition(platform), start, today, today),
    )
    allowed = _allowed_ids(platform, caller, query)
    rows = [r for r in report.accounts if r.account_id in allowed]
    if not rows:
        return None
    segments: dict[str, list[Any]] = defaultdict(list)
    cohorts: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        segments[r.segment or "—"].append(r)
        cohorts[r.cohort].append(r)
    by_cohort = [_onboarding_row(c, summarise_onboarding(cohorts[c])) for c in sorted(cohorts)]
    chart = {
        "data": [
            {
                "type": "bar",
                "name": gettext("Time to value (median days)"),
                "x": [r.label for r in by_cohort],
                "y": [r.ttv_median for r in by_cohort],
                "marker": {"color": "#3b5bdb"},
            },
        ],
        "layout": {"showlegend": False},
    }
    return OnboardingPage(
        start=start,
        end=today,
        total=_onboarding_row("all", summarise_onboarding(rows)),
        by_segment=[
            _onboarding_row(s, summarise_onboarding(segments[s])) for s in sorted(segments)
        ],
        by_cohort=by_cohort,
        chart=chart,
    )


def _allowed_ids(platform: Platform, caller: Caller, query: Any) -> set[str]:
    """Ids of the accounts the caller may read that match the page's filters."""
    filters = {
        "segment": query.segment or None,
        "owner_id": query.owner or None,
        "region": query.region or None,
    }
    page = list_records(platform, caller, "accounts", filters=filters, limit=1_000_000)
    return {a.id for a in page.items}


# -- retention -------------------------------------------------------------------------


def _ledger_filters(caller: Caller, query: Any) -> LedgerFilters:
    owner = account_scope(caller) or (query.owner or None)
    if account_scope(caller) and query.owner and query.owner != owner:
        owner = "\x00nobody"  # a scoped CSM asking for another book sees nothing
    return LedgerFilters(segment=query.segment or None, region=query.region or None, owner=owner)


@contextmanager
def _quiet_engine() -> Iterator[None]:
    # DuckDB 2 deprecates APIs Ibis 12 still calls (see kizuna.engine); pytest runs
    # with warnings as errors, and these say nothing about Kizuna's own code.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r".* is deprecated, use .* instead", category=DeprecationWarning
        )
        yield


def _with_ledger(
    platform: Platform, filters: LedgerFilters | None, work: Callable[[Ledger], Any], **kw: Any
) -> Any:
    """Run ``work`` on a freshly loaded ledger; None (logged) when retention cannot compute."""
    try:
        with _quiet_engine():
            ledger = Ledger.load(platform.store, platform.settings, filters=filters, **kw)
            try:
                return work(ledger)
            finally:
                ledger.close()
    except KizunaError as exc:
        log.warning("retention figures unavailable: %s", exc)
        return None


def _period_start(today: date, period: str) -> date:
    if period == "month":
        return today.replace(day=1)
    if period == "year":
        return today.replace(month=1, day=1)
    return today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1)


@dataclass
class RetentionSummary:
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
    chart: dict[str, Any] | None


def _f(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


MOVEMENT_COLOURS = {
    "new": "#3b5bdb",
    "expansion": "#079455",
    "reactivation": "#7a5af8",
    "contraction": "#dc9b04",
    "churn": "#d92d20",
}


def _movements_chart(periods: list[Any]) -> dict[str, Any]:
    labels = [p.period_end.isoformat()[:7] for p in periods]
    data = []
    for kind, colour in MOVEMENT_COLOURS.items():
        sign = -1 if kind in ("contraction", "churn") else 1
        data.append(
            {
                "type": "bar",
                "name": gettext(kind.capitalize()),
                "x": labels,
                "y": [sign * float(getattr(p, kind)) for p in periods],
                "marker": {"color": colour},
            }
        )
    return {"data": data, "layout": {"barmode": "relative"}}


def retention_summary(
    platform: Platform, caller: Caller, query: Any, period: str
) -> RetentionSummary | None:
    """ARR movements, GRR, NRR and renewals of the period to date (None: no contracts)."""
    today = platform.today()
    start = _period_start(today, period)
    filters = _ledger_filters(caller, query)

    def work(ledger: Ledger) -> RetentionSummary | None:
        report = retention_rates(ledger, start, today)
        r = report.rates
        if r.start_arr == 0 and r.end_arr == 0:
            return None
        trend = arr_movements(ledger, date(today.year - 1, today.month, 1), today)
        renewal = renewals(ledger, start, today, as_of=today).totals
        return RetentionSummary(
            start=start,
            end=today,
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
            chart=_movements_chart(trend.periods),
        )

    key = ("summary", platform.store.url, today, period, filters)
    result: RetentionSummary | None = _reports.get(
        key, lambda: _with_ledger(platform, filters, work)
    )
    return result


@dataclass(frozen=True, slots=True)
class CohortLine:
    label: str
    size: int
    values: list[float | None]


@dataclass
class CohortTable:
    columns: list[int]
    rows: list[CohortLine]


@dataclass
class RetentionPage:
    start: date
    end: date
    grr: float | None
    nrr: float | None
    logo_churn: float | None
    renewal_rate: float | None
    logo_renewal_rate: float | None
    months: list[Any]
    chart: dict[str, Any]
    logo_cohorts: CohortTable
    revenue_cohorts: CohortTable


def _cohort_table(rows: list[Any], value: str, size: str) -> CohortTable:
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
            size=sizes[cohort],
            values=[_f(by_cohort[cohort].get(m)) for m in months],
        )
        for cohort in sorted(by_cohort)
    ]
    return CohortTable(columns=months, rows=lines)


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


def retention_page(platform: Platform, caller: Caller, query: Any) -> RetentionPage | None:
    """The last twelve months: movements by month, rates, renewal rate and cohort heat maps."""
    today = platform.today()
    start = date(today.year - 1, today.month, 1)
    filters = _ledger_filters(caller, query)

    def work(ledger: Ledger) -> RetentionPage | None:
        rates = retention_rates(ledger, start, today).rates
        moves = arr_movements(ledger, start, today)
        if rates.start_arr == 0 and moves.totals.end_arr == 0:
            return None
        renewal = renewals(ledger, start, today, as_of=today).totals
        cohorts = cohort_retention(ledger, as_of=today).rows
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
                for p in moves.periods
            ],
            chart=_movements_chart(moves.periods),
            logo_cohorts=_cohort_table(cohorts, "logo_retention", "accounts"),
            revenue_cohorts=_cohort_table(cohorts, "revenue_retention", "start_arr"),
        )

    key = ("page", platform.store.url, today, filters)
    result: RetentionPage | None = _reports.get(key, lambda: _with_ledger(platform, filters, work))
    return result


def _arr_by_account(platform: Platform, as_of: date) -> dict[str, Decimal]:
    """Each account's ARR today in the reporting currency (per account, no roll-up)."""
    snapshot = _with_ledger(platform, None, lambda ledger: arr_at(ledger, as_of), rollup=False)
    if snapshot is None:
        return {}
    return {a.account_id: a.arr for a in snapshot.accounts}


def arr_history_chart(platform: Platform, account_id: str) -> dict[str, Any] | None:
    """The account's contract lines as ARR steps over time (None: no contracts)."""
    return None


# -- usage metrics ---------------------------------------------------------------------

USAGE_CHARTS = 4


@dataclass(frozen=True, slots=True)
class UsageChart:
    title: str
    spec: dict[str, Any]


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
                spec={
                    "data": [
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
                    "layout": {"showlegend": False},
                },
            )
        )
    return charts or None
