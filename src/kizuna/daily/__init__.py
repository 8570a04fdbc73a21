"""The daily run: compaction → metrics → health → lifecycle → portfolio figures, as of a date.

``kizuna daily`` (and :func:`run_daily`) computes, for one date or a range of
dates, everything the book needs that day through the capabilities' own
service functions:

1. ``metrics``: :func:`kizuna.metrics.compute_metrics` (all dates in one pass);
2. ``health``: :func:`kizuna.health.compute_health_range`;
3. ``lifecycle``: :func:`kizuna.lifecycle.compute_lifecycle` through the last date;
4. ``portfolio``: the book-wide figures the UI reads (:func:`build_portfolio`),
   saved as a snapshot per date.

Every step replaces what an earlier run wrote for the same date (metric values
and health snapshots per date, lifecycle transitions from the first date, the
portfolio snapshot atomically), so running a date again is safe and a range
backfills. A step that fails raises :class:`DailyStepFailed`, naming the step.

Portfolio snapshot layout (under ``<KIZUNA_HOME>/daily``)::

    as_of=2025-06-30/
      accounts.parquet   one row per account: ARR, next renewal, health score,
                         band and 30-day change, lifecycle stage, overdue
                         onboarding milestones, attention reasons
      lifecycle.json     each account's lifecycle as its page shows it (stage
                         history, milestones, time to value), with a stamp of
                         the stored rows it came from (written by the lifecycle step)
      onboarding.json    the book-wide onboarding report of the lifecycle step's
                         evaluation (the portfolio step reads it and the stages
                         above instead of evaluating the lifecycle again)
      portfolio.json     the same facts plus what pages sum per filter set:
                         each account's opening ARR and movement in the
                         month / quarter / year to date and the last twelve
                         months (and month by month), renewal lines, the
                         unfiltered cohort table and the onboarding report

The JSON is written and validated back through pydantic (never unpickled), so a
tampered or truncated file is an error, not code execution.
Figures are per account (no roll-up to parent accounts), so the sums over any
set of accounts equal what :mod:`kizuna.retention` computes for that set.

Each derived table is computed once per run and handed on through these files, never
in memory between steps (:mod:`kizuna.daily.steps`), so a step can run on its own.

The package's modules: :mod:`kizuna.daily.run` (the run and its steps),
:mod:`kizuna.daily.steps` (the lifecycle and portfolio steps' work),
:mod:`kizuna.daily.portfolio` (the book-wide figures),
:mod:`kizuna.daily.lifecycle_book` (each account's lifecycle detail) and
:mod:`kizuna.daily.files` (the snapshot files); every public name is
re-exported here.
"""

from kizuna.daily.files import (
    ACCOUNTS_SCHEMA,
    LIFECYCLE_FILE,
    ONBOARDING_FILE,
    PORTFOLIO_FILE,
    daily_dir,
    latest_portfolio,
    lifecycle_path,
    portfolio_dates,
    portfolio_path,
    read_lifecycle_book,
    read_onboarding,
    read_portfolio,
    snapshot_folder,
    write_lifecycle,
    write_portfolio,
)
from kizuna.daily.lifecycle_book import (
    LifecycleBook,
    LifecycleDetail,
    MilestoneRow,
    OnboardingState,
    StageStep,
    build_lifecycle_book,
    lifecycle_detail_of,
    lifecycle_stamps,
)
from kizuna.daily.portfolio import (
    ARR_HISTORY_MONTHS,
    RENEWAL_HORIZON_DAYS,
    WINDOWS,
    AccountFigures,
    ArrBook,
    PortfolioSnapshot,
    Window,
    accounts_matching,
    arr_book_of,
    build_portfolio,
    window_start,
)
from kizuna.daily.run import (
    STEPS,
    DailyRun,
    DailyRunBusy,
    DailyStepFailed,
    StepFunction,
    StepOutcome,
    StepResult,
    daily_dates,
    run_daily,
    step_functions,
)

__all__ = [
    "ACCOUNTS_SCHEMA",
    "ARR_HISTORY_MONTHS",
    "LIFECYCLE_FILE",
    "ONBOARDING_FILE",
    "PORTFOLIO_FILE",
    "RENEWAL_HORIZON_DAYS",
    "STEPS",
    "WINDOWS",
    "AccountFigures",
    "ArrBook",
    "DailyRun",
    "DailyRunBusy",
    "DailyStepFailed",
    "LifecycleBook",
    "LifecycleDetail",
    "MilestoneRow",
    "OnboardingState",
    "PortfolioSnapshot",
    "StageStep",
    "StepFunction",
    "StepOutcome",
    "StepResult",
    "Window",
    "accounts_matching",
    "arr_book_of",
    "build_lifecycle_book",
    "build_portfolio",
    "daily_dates",
    "daily_dir",
    "latest_portfolio",
    "lifecycle_detail_of",
    "lifecycle_path",
    "lifecycle_stamps",
    "portfolio_dates",
    "portfolio_path",
    "read_lifecycle_book",
    "read_onboarding",
    "read_portfolio",
    "run_daily",
    "snapshot_folder",
    "step_functions",
    "window_start",
    "write_lifecycle",
    "write_portfolio",
]
