"""Onboarding outcomes: time to value, activation rate and on-time onboarding rate.

The cohort of a report is the accounts whose contract started in [start, end];
outcomes are measured as of a date, with data known on that date. An outcome
that cannot be known yet (an activation window still open, a planned date not
reached) leaves the account out of that rate's denominator rather than
counting it as a failure — the rates are over *determined* outcomes.

Accounts that became customers before onboarding tracking began had no
tracked onboarding: they are not part of any cohort's outcomes, and the report
says how many of them started in the period (``untracked_accounts``).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, timedelta

from kizuna.errors import InvalidInput, Problem
from kizuna.lifecycle.book import load_book
from kizuna.lifecycle.definitions import LifecycleDefinition
from kizuna.lifecycle.grid import AccountResult, evaluate_book
from kizuna.lifecycle.milestones import milestone_statuses
from kizuna.platform import Platform


@dataclass(frozen=True)
class AccountOnboarding:
    """One account's onboarding outcome as of the report date."""

    account_id: str
    segment: str | None
    cohort: str
    contract_start: date
    first_value_on: date | None
    time_to_value_days: int | None
    activated_on: date | None
    activated_in_window: bool | None
    planned_finish: date
    finished_on: date | None
    on_time: bool | None
    overdue_milestones: int


@dataclass(frozen=True)
class TimeToValue:
    """Days from contract start to first value among accounts that reached it."""

    reached: int
    not_reached: int
    median: float | None
    q1: float | None
    q3: float | None
    min: int | None
    max: int | None


@dataclass(frozen=True)
class Rate:
    """``hits`` of ``eligible`` determined outcomes; ``rate`` is None when none are."""

    eligible: int
    hits: int
    rate: float | None


@dataclass(frozen=True)
class OnboardingSummary:
    accounts: int
    time_to_value: TimeToValue
    activation: Rate
    on_time: Rate


@dataclass(frozen=True)
class OnboardingReport:
    start: date
    end: date
    as_of: date
    activation_window_days: int
    #: the day onboarding tracking began (None: every account is tracked)
    tracking_started: date | None
    #: accounts with a contract start in the period that were live before tracking began
    untracked_accounts: int
    overall: OnboardingSummary
    by_segment: dict[str, OnboardingSummary]
    by_cohort: dict[str, OnboardingSummary]
    accounts: list[AccountOnboarding]


def time_to_value(days: list[int], not_reached: int) -> TimeToValue:
    """Median and quartiles of time to value.

    Parameters
    ----------
    days : list of int
        Days from contract start to the first-value milestone, one per account
        that reached it by the report date.
    not_reached : int
        Accounts of the cohort that had not reached first value by then
        (right-censored; reported as a count, not imputed).

    Returns
    -------
    TimeToValue
        Quartiles by linear interpolation between order statistics
        (``statistics.quantiles(method="inclusive")``, NumPy's default).
    """
    if not days:
        return TimeToValue(0, not_reached, None, None, None, None, None)
    ordered = sorted(days)
    if len(ordered) == 1:
        q1 = med = q3 = float(ordered[0])
    else:
        q1, med, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    return TimeToValue(
        reached=len(ordered),
        not_reached=not_reached,
        median=float(med),
        q1=float(q1),
        q3=float(q3),
        min=ordered[0],
        max=ordered[-1],
    )


def _rate(outcomes: list[bool | None]) -> Rate:
    determined = [o for o in outcomes if o is not None]
    hits = sum(determined)
    return Rate(
        eligible=len(determined),
        hits=hits,
        rate=round(hits / len(determined), 4) if determined else None,
    )


def summarise(rows: list[AccountOnboarding]) -> OnboardingSummary:
    """Time to value, activation rate and on-time rate of a set of accounts."""
    reached = [r.time_to_value_days for r in rows if r.time_to_value_days is not None]
    return OnboardingSummary(
        accounts=len(rows),
        time_to_value=time_to_value(reached, len(rows) - len(reached)),
        activation=_rate([r.activated_in_window for r in rows]),
        on_time=_rate([r.on_time for r in rows]),
    )


def onboarding_report(
    platform: Platform,
    definition: LifecycleDefinition,
    start: date,
    end: date,
    as_of: date,
) -> OnboardingReport:
    """Onboarding outcomes of accounts whose contract started in [start, end], as of ``as_of``.

    Time to value is measured in calendar days from the contract start to the
    day the template's first-value milestone was done. An account is activated
    in window when its activation milestone was done within
    ``activation_window_days`` of the contract start. An onboarding is on time
    when every milestone was done by the planned date (contract start plus the
    largest due offset of the template).
    """
    _check_period(start, end, as_of)
    book = load_book(platform, definition, as_of)
    return onboarding_report_of(
        evaluate_book(book, definition), definition, start, end, as_of, book.tracking_started
    )


def _check_period(start: date, end: date, as_of: date) -> None:
    problems = []
    if end < start:
        problems.append(Problem(f"--to {end} is before --from {start}", field="to"))
    if as_of < start:
        problems.append(Problem(f"--as-of {as_of} is before --from {start}", field="as_of"))
    if problems:
        raise InvalidInput("invalid onboarding report period", problems)


def onboarding_report_of(
    evaluated: dict[str, AccountResult],
    definition: LifecycleDefinition,
    start: date,
    end: date,
    as_of: date,
    tracking_started: date | None,
) -> OnboardingReport:
    """:func:`onboarding_report` from an evaluation through ``as_of`` already made (e.g. the
    lifecycle step's :class:`~kizuna.lifecycle.Evaluation`)."""
    _check_period(start, end, as_of)
    window = definition.onboarding.activation_window_days
    rows: list[AccountOnboarding] = []
    untracked = 0
    for account_id, ev in evaluated.items():
        anchor = ev.schedule.anchor
        if not start <= anchor <= end:
            continue
        if not ev.schedule.tracked:
            untracked += 1
            continue
        statuses = milestone_statuses(ev.schedule, ev.completions, as_of)
        first_value = next(m for m in statuses if m.first_value)
        activation = next(m for m in statuses if m.activation)
        window_end = anchor + timedelta(days=window)
        if activation.done is not None and activation.done <= window_end:
            activated: bool | None = True
        elif as_of >= window_end:
            activated = False
        else:
            activated = None
        planned = anchor + timedelta(days=ev.schedule.template.planned_days)
        done = [m.done for m in statuses]
        finished = max(d for d in done if d) if all(done) else None
        if finished is not None:
            on_time: bool | None = finished <= planned
        elif as_of > planned:
            on_time = False
        else:
            on_time = None
        rows.append(
            AccountOnboarding(
                account_id=account_id,
                segment=ev.segment,
                cohort=anchor.strftime("%Y-%m"),
                contract_start=anchor,
                first_value_on=first_value.done,
                time_to_value_days=(first_value.done - anchor).days if first_value.done else None,
                activated_on=activation.done,
                activated_in_window=activated,
                planned_finish=planned,
                finished_on=finished,
                on_time=on_time,
                overdue_milestones=sum(m.overdue for m in statuses),
            )
        )
    by_segment: dict[str, list[AccountOnboarding]] = {}
    by_cohort: dict[str, list[AccountOnboarding]] = {}
    for r in rows:
        by_segment.setdefault(r.segment or "(none)", []).append(r)
        by_cohort.setdefault(r.cohort, []).append(r)
    return OnboardingReport(
        start=start,
        end=end,
        as_of=as_of,
        activation_window_days=window,
        tracking_started=tracking_started,
        untracked_accounts=untracked,
        overall=summarise(rows),
        by_segment={k: summarise(v) for k, v in sorted(by_segment.items())},
        by_cohort={k: summarise(v) for k, v in sorted(by_cohort.items())},
        accounts=rows,
    )
