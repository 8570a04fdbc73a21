"""The daily run: lake compaction → metrics → health → lifecycle → plans → risk → portfolio
snapshot → rules → revenue.

:func:`run_daily` runs the :data:`STEPS` in order and raises :class:`DailyStepFailed`,
naming the step, when one fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from kizuna import revenue
from kizuna.actions import run_rules
from kizuna.actions.notify import deliver_pending, enqueue_digests
from kizuna.daily.files import portfolio_path, read_portfolio, snapshot_folder, write_portfolio
from kizuna.daily.lifecycle_book import build_lifecycle_book
from kizuna.daily.portfolio import build_portfolio
from kizuna.daily.rule_facts import rule_facts_from_snapshot
from kizuna.errors import InvalidInput, KizunaError, Problem
from kizuna.health import compute_health_range
from kizuna.lake.compact import compact_lake
from kizuna.lifecycle import compute_lifecycle, definition_for
from kizuna.metrics import compute_metrics
from kizuna.plans import record_plan_status
from kizuna.platform import Platform
from kizuna.revenue.readmodel import build_framework_windows, write_framework
from kizuna.risk import score
from kizuna.risk.registry import latest_version, load_model

__all__ = [
    "STEPS",
    "DailyRun",
    "DailyStepFailed",
    "StepResult",
    "daily_dates",
    "run_daily",
]

STEPS = ("lake", "metrics", "health", "lifecycle", "plans", "risk", "portfolio", "rules", "revenue")


class DailyStepFailed(KizunaError):
    """A step of the daily run failed; ``step`` names it, the cause is chained."""

    def __init__(self, step: str, as_of: date, cause: Exception) -> None:
        super().__init__(f"daily run step '{step}' failed for {as_of.isoformat()}: {cause}")
        self.step = step
        self.as_of = as_of


@dataclass(frozen=True, slots=True)
class StepResult:
    """One step of a daily run: what it did and how long it took (seconds)."""

    step: str
    seconds: float
    detail: str


@dataclass
class DailyRun:
    """The summary of ``kizuna daily``."""

    dates: list[date]
    steps: list[StepResult]
    seconds: float
    snapshots: list[Path]
    notes: list[str] = field(default_factory=list)


def daily_dates(
    as_of: date | None, start: date | None, end: date | None, today: date
) -> list[date]:
    """The dates a run covers: ``as_of``, every day of ``[start, end]``, else ``today``.

    Problems name the fields (``as_of``, ``start``, ``end``); each edge words them
    its own way (the CLI names its flags).
    """
    problems = []
    if as_of is not None and (start or end):
        problems.append(Problem("give either as_of or start and end, not both", field="as_of"))
    if (start is None) != (end is None):
        problems.append(Problem("a range needs both start and end", field="start"))
    if start and end and end < start:
        problems.append(Problem("end is before start", field="end"))
    if problems:
        raise InvalidInput("invalid dates for the daily run", problems)
    if start is not None and end is not None:
        return [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return [as_of or today]


def run_daily(
    platform: Platform,
    dates: Sequence[date],
    *,
    progress: Callable[[str, date, str], None] = lambda step, day, state: None,
    steps: dict[str, Callable[[Platform, list[date]], str]] | None = None,
) -> DailyRun:
    """Run the daily steps for ``dates`` (oldest first) and save each date's portfolio snapshot.

    ``progress(step, last_date, "start" | "done")`` is called around every
    step. ``steps`` replaces the step functions (tests inject a failing one);
    the default is :data:`STEPS` in order. Raises :class:`DailyStepFailed`.
    """
    days = sorted(set(dates))
    if not days:
        raise ValueError("no dates")
    chosen = steps if steps is not None else _default_steps()
    began = time.perf_counter()
    results = []
    for name, step in chosen.items():
        progress(name, days[-1], "start")
        t0 = time.perf_counter()
        try:
            detail = step(platform, days)
        except Exception as exc:
            raise DailyStepFailed(name, days[-1], exc) from exc
        results.append(StepResult(name, time.perf_counter() - t0, detail))
        progress(name, days[-1], "done")
    return DailyRun(
        dates=days,
        steps=results,
        seconds=time.perf_counter() - began,
        snapshots=[
            snapshot_folder(platform.settings, d)
            for d in days
            if portfolio_path(platform.settings, d).exists()
        ],
    )


def _lake_step(platform: Platform, days: list[date]) -> str:
    """Merge the small part files ingest left (e.g. the collection API's batches)
    before the metrics read the lake; purge files superseded long enough ago."""
    report = compact_lake(platform)
    detail = (
        f"{report.partitions_compacted} partition(s) compacted, "
        f"{report.files_before} part files → {report.files_after}"
        if report.partitions_compacted
        else f"{report.partitions_checked} partition(s), nothing to compact"
    )
    if report.refused:  # left as they were; say so rather than fail the morning run
        detail += f"; {len(report.refused)} refused: " + "; ".join(str(p) for p in report.refused)
    return detail


def _metrics_step(platform: Platform, days: list[date]) -> str:
    run = compute_metrics(platform, days)
    return f"{len(run.metrics)} metrics × {run.accounts} accounts × {len(days)} date(s)"


def _health_step(platform: Platform, days: list[date]) -> str:
    scored = 0
    for day in days:
        for run in compute_health_range(platform, day, day):
            scored += run.scored
    return f"{scored} account scores on {len(days)} date(s)"


def _lifecycle_step(platform: Platform, days: list[date]) -> str:
    # From the day after the previous run (lifecycle's own default): a re-run of
    # a date replaces its transitions; a gap since the last run is evaluated too.
    result = compute_lifecycle(platform, definition_for(platform.settings.home), days[-1])
    return f"{result.accounts} accounts, {result.transitions_written} transitions"


def _plans_step(platform: Platform, days: list[date]) -> str:
    """Store every active success plan's status per date (an achieved KGI closes
    the plan and proposes the next one)."""
    stored = achieved = 0
    for day in days:
        run = record_plan_status(platform, day)
        stored += run.plans
        achieved += len(run.achieved)
    return f"{stored} plan statuses on {len(days)} date(s), {achieved} plan(s) achieved"


def _rules_step(platform: Platform, days: list[date]) -> str:
    """Rules after the lifecycle and the portfolio snapshot (whose ARR, renewals and overdue
    milestones they reuse): for today they open, update and close CTAs; for a past date
    (a backfill, a re-run) they run dry and only record what would have fired."""
    details = []
    for day in days:
        if day > platform.today():
            details.append(f"{day}: after today, not run")
            continue
        handed = rule_facts_from_snapshot(platform, day)
        ids, given = handed if handed is not None else (None, None)
        run = run_rules(platform, day, given=given, ids=ids)
        if not run.past:  # notifications only for today: a backfill sends nothing
            enqueue_digests(platform, day)
            deliver_pending(platform)
        d = run.to_dict()
        if run.past:
            details.append(f"{day}: dry, {sum(run.fired.values())} firings recorded")
        else:
            details.append(
                f"{day}: opened {d['opened'] + d['released']}, updated {d['updated']}, "
                f"closed {d['closed']}, queued {d['queued']}"
            )
    return "; ".join(details[-3:])


def _risk_step(platform: Platform, days: list[date]) -> str:
    """Score churn risk with the newest trained model (nothing to do before one exists)."""
    if latest_version(platform.settings) is None:
        return "no churn model trained yet ('kizuna risk train'): skipped"
    model = load_model(platform.settings)
    runs = [score(platform, day, model) for day in days]
    high = sum(r.bands["high"] for r in runs)
    return f"{runs[-1].accounts} accounts scored with model {model.version}, {high} high risk"


def _portfolio_step(platform: Platform, days: list[date]) -> str:
    for day in days:
        write_portfolio(
            platform.settings, build_portfolio(platform, day), build_lifecycle_book(platform, day)
        )
    return f"{len(days)} snapshot(s)"


def _revenue_step(platform: Platform, days: list[date]) -> str:
    # Renewal opportunities are work for today: a backfill of past dates opens none.
    day = days[-1]
    pipeline = revenue.definition_for(platform.settings.home)
    run = revenue.open_renewals(platform, pipeline, day)
    snapshot = read_portfolio(platform.settings, day)
    onboarding = snapshot.onboarding if snapshot is not None else None
    accuracy = revenue.forecast_accuracy(platform, pipeline, as_of=day)
    write_framework(
        platform.settings,
        day,
        build_framework_windows(platform, day, onboarding),
        accuracy,
        owners=build_framework_windows(platform, day, onboarding, by="owner"),
    )
    # after the plans and risk steps: the centre shows their statuses and scores of the day
    renewals = revenue.save_renewal_centre(platform, pipeline, day)
    opened = "backfill: no opportunity opened" if run.dry else f"{run.opened} renewals opened"
    return f"{opened}; the fifteen metrics and the renewal centre ({renewals}) saved for {day}"


def _default_steps() -> dict[str, Callable[[Platform, list[date]], str]]:
    """The step functions in the order of :data:`STEPS` (the one place that orders them)."""
    functions = {
        "lake": _lake_step,
        "metrics": _metrics_step,
        "health": _health_step,
        "lifecycle": _lifecycle_step,
        "plans": _plans_step,
        "risk": _risk_step,
        "portfolio": _portfolio_step,
        "rules": _rules_step,
        "revenue": _revenue_step,
    }
    return {name: functions[name] for name in STEPS}
