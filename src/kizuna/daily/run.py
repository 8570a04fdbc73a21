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
from kizuna.daily.files import portfolio_path, read_onboarding, read_portfolio, snapshot_folder
from kizuna.daily.rule_facts import rule_facts_from_snapshot
from kizuna.daily.steps import lifecycle_outputs, portfolio_outputs
from kizuna.errors import Conflict, InvalidInput, KizunaError, Problem
from kizuna.health import compute_health_range
from kizuna.lake.compact import compact_lake
from kizuna.metrics import compute_metrics
from kizuna.ops.locks import DAILY_LOCK, StoreLock, lock_holder, new_owner
from kizuna.ops.runlog import RunLog
from kizuna.plans import record_plan_status
from kizuna.platform import Platform
from kizuna.retention.ledger import Ledger
from kizuna.revenue.readmodel import build_framework_windows, write_framework
from kizuna.risk import score
from kizuna.risk.registry import latest_version, load_model

__all__ = [
    "STEPS",
    "DailyRun",
    "DailyRunBusy",
    "DailyStepFailed",
    "StepFunction",
    "StepOutcome",
    "StepResult",
    "daily_dates",
    "run_daily",
    "step_functions",
]

#: The most dates one run covers (ten years of days); a longer backfill is split.
MAX_DATES = 3660

STEPS = ("lake", "metrics", "health", "lifecycle", "plans", "risk", "portfolio", "rules", "revenue")


class DailyStepFailed(KizunaError):
    """A step of the daily run failed; ``step`` names it, the cause is chained."""

    def __init__(self, step: str, as_of: date, cause: Exception, run_id: int | None = None) -> None:
        super().__init__(f"daily run step '{step}' failed for {as_of.isoformat()}: {cause}")
        self.step = step
        self.as_of = as_of
        self.run_id = run_id


class DailyRunBusy(Conflict):
    """Another daily run holds the store's daily lock (one run at a time)."""

    def __init__(self, holder: str) -> None:
        super().__init__(
            f"another daily run is in progress ({holder}); wait for it to finish (kizuna runs list)"
        )
        self.holder = holder


@dataclass(frozen=True, slots=True)
class StepOutcome:
    """What a step function may return instead of a plain detail: the detail and
    how many rows it wrote (for the run log and the metrics)."""

    detail: str
    rows: int | None = None


#: A step: ``step(platform, days)`` does its work for ``days`` (oldest first) and
#: persists what later steps need; it returns a detail line or a :class:`StepOutcome`.
StepFunction = Callable[[Platform, list[date]], "str | StepOutcome"]


@dataclass(frozen=True, slots=True)
class StepResult:
    """One step of a daily run: what it did and how long it took (seconds).

    ``status`` is ``succeeded``, or ``reused`` when a resumed run took the step's
    outputs from the unfinished run it resumed.
    """

    step: str
    seconds: float
    detail: str
    rows: int | None = None
    status: str = "succeeded"


@dataclass
class DailyRun:
    """The summary of ``kizuna daily``."""

    dates: list[date]
    steps: list[StepResult]
    seconds: float
    snapshots: list[Path]
    notes: list[str] = field(default_factory=list)
    run_id: int | None = None
    resumed_from: int | None = None


def daily_dates(
    as_of: date | None, start: date | None, end: date | None, today: date, step: int = 1
) -> list[date]:
    """The dates a run covers: ``as_of``, every ``step``-th day of ``[start, end]``
    (``start``, ``start + step``, … up to ``end``), else ``today``.

    Problems name the fields (``as_of``, ``start``, ``end``, ``step``); each edge
    words them its own way (the CLI names its flags).
    """
    problems = []
    if step < 1:
        problems.append(Problem("step must be a whole number of days, at least 1", field="step"))
    elif step > 1 and start is None:
        problems.append(Problem("step needs a range (start and end)", field="step"))
    if as_of is not None and (start or end):
        problems.append(Problem("give either as_of or start and end, not both", field="as_of"))
    if (start is None) != (end is None):
        problems.append(Problem("a range needs both start and end", field="start"))
    if start and end and end < start:
        problems.append(Problem("end is before start", field="end"))
    elif start and end and step >= 1 and (end - start).days // step + 1 > MAX_DATES:
        problems.append(
            Problem(f"a run covers at most {MAX_DATES} dates; split the range", field="end")
        )
    if problems:
        raise InvalidInput("invalid dates for the daily run", problems)
    if start is not None and end is not None:
        return [start + timedelta(days=i) for i in range(0, (end - start).days + 1, step)]
    return [as_of or today]


def run_daily(
    platform: Platform,
    dates: Sequence[date],
    *,
    progress: Callable[[str, date, str], None] = lambda step, day, state: None,
    steps: dict[str, StepFunction] | None = None,
    trigger: str = "cli",
    date_step: int = 1,
    resume: bool = True,
    owner: str | None = None,
) -> DailyRun:
    """Run the daily steps for ``dates`` (oldest first) and save each date's portfolio snapshot.

    One run at a time: the run holds the store's daily lock (renewed while it
    runs) and raises :class:`DailyRunBusy` if another run holds it. Every run and
    step is written to the run log (:mod:`kizuna.ops.runlog`) with its
    ``trigger`` (``cli``, ``scheduler``, ``api``). With ``resume``, a failed or
    killed run for the same dates continues from its first step that did not
    finish: the steps it completed are ``reused``, since every step persists
    what later steps read (store tables, read-model files) and passes nothing in
    memory. ``date_step`` records a backfill's spacing of dates.

    ``progress(step, last_date, "start" | "done")`` is called around every
    step. ``steps`` replaces the step functions (tests inject a failing one);
    the default is :data:`STEPS` in order. Raises :class:`DailyStepFailed`.
    """
    days = sorted(set(dates))
    if not days:
        raise ValueError("no dates")
    chosen = steps if steps is not None else _default_steps()
    store = platform.store
    lock = StoreLock(
        store, DAILY_LOCK, owner or new_owner(trigger), ttl=platform.settings.daily_lock_seconds
    )
    if not lock.acquire():
        holder = lock_holder(store, DAILY_LOCK)
        raise DailyRunBusy(holder.owner if holder is not None else "its holder just finished")
    try:
        RunLog.close_abandoned(store)
        previous = RunLog.resumable(store, days, date_step, list(chosen)) if resume else None
        log = RunLog.start(
            store,
            days,
            date_step=date_step,
            trigger=trigger,
            owner=lock.owner,
            resumed_from=previous[0] if previous else None,
        )
        lock.keep_alive([log.heartbeat])
        began = time.perf_counter()
        results = []
        for position, (name, step) in enumerate(chosen.items()):
            if previous is not None and name in previous[1]:
                log.step_reused(name, position, previous[0])
                results.append(StepResult(name, 0.0, f"done by run {previous[0]}", None, "reused"))
                progress(name, days[-1], "start")
                progress(name, days[-1], "done")
                continue
            progress(name, days[-1], "start")
            log.step_started(name, position)
            t0 = time.perf_counter()
            try:
                outcome = step(platform, days)
            except Exception as exc:
                seconds = time.perf_counter() - t0
                message = f"{exc.__class__.__name__}: {exc}"
                log.step_finished(name, seconds=seconds, detail="", rows=None, error=message)
                log.finished(failed_step=name, error=message)
                raise DailyStepFailed(name, days[-1], exc, log.run_id) from exc
            done = outcome if isinstance(outcome, StepOutcome) else StepOutcome(str(outcome))
            seconds = time.perf_counter() - t0
            log.step_finished(name, seconds=seconds, detail=done.detail, rows=done.rows)
            results.append(StepResult(name, seconds, done.detail, done.rows))
            progress(name, days[-1], "done")
        log.finished()
    finally:
        lock.release()
    return DailyRun(
        dates=days,
        steps=results,
        seconds=time.perf_counter() - began,
        snapshots=[
            snapshot_folder(platform.settings, d)
            for d in days
            if portfolio_path(platform.settings, d).exists()
        ],
        run_id=log.run_id,
        resumed_from=previous[0] if previous else None,
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


def _metrics_step(platform: Platform, days: list[date]) -> StepOutcome:
    run = compute_metrics(platform, days)
    return StepOutcome(
        f"{len(run.metrics)} metrics × {run.accounts} accounts × {len(days)} date(s)",
        rows=len(run.metrics) * run.accounts * len(days),
    )


def _health_step(platform: Platform, days: list[date]) -> StepOutcome:
    scored = 0
    for day in days:
        for run in compute_health_range(platform, day, day):
            scored += run.scored
    return StepOutcome(f"{scored} account scores on {len(days)} date(s)", rows=scored)


def _lifecycle_step(platform: Platform, days: list[date]) -> str:
    # Evaluated once; the details and onboarding report saved for the portfolio step.
    return lifecycle_outputs(platform, days)


def _plans_step(platform: Platform, days: list[date]) -> StepOutcome:
    """Store every active success plan's status per date (an achieved KGI closes
    the plan and proposes the next one)."""
    stored = achieved = 0
    for day in days:
        run = record_plan_status(platform, day)
        stored += run.plans
        achieved += len(run.achieved)
    return StepOutcome(
        f"{stored} plan statuses on {len(days)} date(s), {achieved} plan(s) achieved", rows=stored
    )


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
        if run.past:
            details.append(f"{day}: dry, {sum(run.fired.values())} firings recorded")
        else:  # the counts only (the whole run as a dict holds every change)
            details.append(
                f"{day}: opened {run.count('opened') + run.count('released')}, "
                f"updated {run.count('updated')}, closed {run.count('closed')}, "
                f"queued {run.count('queued')}"
            )
    return "; ".join(details[-3:])


def _risk_step(platform: Platform, days: list[date]) -> str | StepOutcome:
    """Score churn risk with the newest trained model (nothing to do before one exists)."""
    if latest_version(platform.settings) is None:
        return "no churn model trained yet ('kizuna risk train'): skipped"
    model = load_model(platform.settings)
    runs = [score(platform, day, model) for day in days]
    high = sum(r.bands["high"] for r in runs)
    return StepOutcome(
        f"{runs[-1].accounts} accounts scored with model {model.version}, {high} high risk",
        rows=sum(r.accounts for r in runs),
    )


def _portfolio_step(platform: Platform, days: list[date]) -> str:
    return portfolio_outputs(platform, days)


def _revenue_step(platform: Platform, days: list[date]) -> str:
    # Renewal opportunities are work for today: a backfill of past dates opens none.
    day = days[-1]
    pipeline = revenue.definition_for(platform.settings.home)
    run = revenue.open_renewals(platform, pipeline, day)
    # the onboarding report the portfolio snapshot holds: the lifecycle step's file when it
    # saved one (the snapshot took it from there), else the snapshot's own
    onboarding = read_onboarding(platform.settings, day)
    if onboarding is None:
        snapshot = read_portfolio(platform.settings, day)
        onboarding = snapshot.onboarding if snapshot is not None else None
    accuracy = revenue.forecast_accuracy(platform, pipeline, as_of=day)
    with Ledger.load(platform.store, platform.settings) as ledger:  # by segment and by owner
        by_segment = build_framework_windows(platform, day, onboarding, ledger=ledger)
        by_owner = build_framework_windows(platform, day, onboarding, by="owner", ledger=ledger)
    write_framework(platform.settings, day, by_segment, accuracy, owners=by_owner)
    # after the plans and risk steps: the centre shows their statuses and scores of the day
    renewals = revenue.save_renewal_centre(platform, pipeline, day)
    opened = "backfill: no opportunity opened" if run.dry else f"{run.opened} renewals opened"
    return f"{opened}; the fifteen metrics and the renewal centre ({renewals}) saved for {day}"


def step_functions() -> dict[str, StepFunction]:
    """The daily run's step functions by name, in the order of :data:`STEPS` (to wrap
    one, e.g. to time it, and pass the lot to :func:`run_daily`)."""
    return _default_steps()


def _default_steps() -> dict[str, StepFunction]:
    """The step functions in the order of :data:`STEPS` (the one place that orders them)."""
    functions: dict[str, StepFunction] = {
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
