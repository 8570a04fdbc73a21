"""Lifecycle figures for the UI (from :mod:`kizuna.lifecycle`): stages, milestones, onboarding.

* The account page shows one account's stage, stage history, onboarding
  milestones, time to value and onboarding status: what the daily run saved
  for today (:func:`kizuna.daily.build_lifecycle_book`, one evaluation of the
  whole book) while the account's stored lifecycle rows are unchanged, else
  :func:`kizuna.lifecycle.show_account` (about a second: it reads the event
  lake), kept per account and recomputed at once after a change through the UI.
* Book-wide onboarding outcomes — the onboarding page and the "overdue
  onboarding" reason of the portfolio's attention list — come from one
  :func:`kizuna.lifecycle.onboarding_report` over every contract start. That
  report reads the whole event lake (seconds for the demo book), so pages only
  *peek* at it: while a fresh worker computes it in the background they say so
  instead of making the visitor wait.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from kizuna.auth.audit import record_audit
from kizuna.auth.policy import Caller, can_write
from kizuna.customers import get_record, list_records
from kizuna.daily import (
    LifecycleDetail,
    lifecycle_detail_of,
    lifecycle_stamps,
)
from kizuna.errors import InvalidInput, NotFound, PermissionDenied, Problem
from kizuna.labels import Label
from kizuna.lifecycle import (
    LifecycleDefinition,
    OnboardingReport,
    OnboardingSummary,
    complete_milestone,
    definition_for,
    onboarding_report,
    show_account,
)
from kizuna.lifecycle.onboarding import summarise as summarise_onboarding
from kizuna.platform import Platform
from kizuna.web.charts import Chart
from kizuna.web.insights import Figures, lifecycle_book, portfolio_snapshot

#: The first contract start the book-wide onboarding report covers (all of them).
EPOCH = date(1900, 1, 1)


def definition_of(platform: Platform) -> LifecycleDefinition:
    """The lifecycle definition in use (for its stage and milestone labels)."""
    return definition_for(platform.settings.home)


def computed_detail(platform: Platform, account_id: str) -> LifecycleDetail | None:
    """The account's lifecycle detail computed now (:func:`kizuna.lifecycle.show_account`)."""
    definition = definition_of(platform)
    return lifecycle_detail_of(
        show_account(platform, definition, account_id, platform.today()), definition
    )


def saved_detail(figures: Figures, account_id: str) -> tuple[bool, LifecycleDetail | None]:
    """(found, detail): the daily run's detail of today while its stamp still holds."""
    platform = figures.platform
    book = lifecycle_book(figures)
    if book is None or account_id not in book.stamps:
        return False, None
    stamp = lifecycle_stamps(platform, definition_of(platform), platform.today(), account_id).get(
        account_id
    )
    if stamp != book.stamps[account_id]:
        return False, None
    return True, book.details.get(account_id)


def lifecycle_detail(figures: Figures, account_id: str) -> LifecycleDetail | None:
    """The account's stage, history, milestones and onboarding (None: nothing computed).

    Read from the daily run's lifecycle file of today while the account's stored
    lifecycle rows are those it was computed from; else computed (and cached).
    """
    found, saved = saved_detail(figures, account_id)
    if found:
        return saved
    detail: LifecycleDetail | None = figures.reports.get(
        figures.key("lifecycle", account_id),
        lambda: computed_detail(figures.platform, account_id),
    )
    return detail


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    at: date
    kind: str  # "milestone" or "stage"
    title: Label
    detail: str | None = None


def stage_label_by_name(definition: LifecycleDefinition, name: str) -> Label:
    """The label of the stage saved by its (English) name in a stage history."""
    stage = next((s for s in definition.stages if s.name == name), None)
    return stage.label if stage is not None else Label(name, name)


def lifecycle_timeline(
    detail: LifecycleDetail | None, definition: LifecycleDefinition
) -> list[LifecycleEvent]:
    """Stage changes and completed milestones of an account, for its timeline."""
    if detail is None:
        return []
    events = [
        LifecycleEvent(h.at, "stage", stage_label_by_name(definition, h.stage_name), h.reason)
        for h in detail.history
    ]
    for m in detail.milestones:
        if m.done_on is not None:
            events.append(
                LifecycleEvent(m.done_on, "milestone", definition.milestone_label(m.id), m.done_by)
            )
    return events


def onboarding_book(figures: Figures, *, wait: bool = False) -> OnboardingReport | None:
    """Onboarding outcomes of every account with a started contract, as of today.

    ``wait=False`` returns None while the report is being computed in the
    background (a fresh worker); ``wait=True`` computes it in the call.
    """
    snapshot = portfolio_snapshot(figures)
    if snapshot is not None and snapshot.onboarding is not None:
        # The daily run's report; a milestone marked done since shows on the
        # account page at once and in book-wide outcomes after the next run.
        saved: OnboardingReport = snapshot.onboarding
        return saved
    platform = figures.platform
    today = platform.today()
    key = figures.key("onboarding")

    def compute() -> OnboardingReport:
        return onboarding_report(platform, definition_of(platform), EPOCH, today, today)

    if wait:
        report: OnboardingReport = figures.reports.get(key, compute)
        return report
    peeked: OnboardingReport | None = figures.reports.peek(key, compute)
    return peeked


def overdue_milestones(figures: Figures) -> dict[str, int] | None:
    """Overdue onboarding milestones per account (None: still being computed)."""
    report = onboarding_book(figures)
    if report is None:
        return None
    return {r.account_id: r.overdue_milestones for r in report.accounts}


def mark_milestone_done(
    figures: Figures, caller: Caller, account_id: str, milestone_id: str, done_on: str
) -> None:
    """Mark an onboarding milestone done by hand, by the caller, on ``done_on`` (default today).

    The caller must be allowed to change the account (role and book). Every
    problem with the form is reported (field ``done_on`` or ``milestone``).
    """
    platform = figures.platform
    if len(account_id) > 64 or any(ord(c) < 32 for c in account_id):
        raise NotFound(f"no account {account_id.encode('unicode_escape').decode()[:80]}")
    account = get_record(platform, caller, "accounts", account_id)
    if not can_write(caller, account.owner_id):
        raise PermissionDenied(
            f"{caller.principal.role.value} {caller.principal.member_id} "
            f"may not change account {account_id}",
            code="may_not_write",
        )
    today = platform.today()
    day = today
    problems = []
    if done_on.strip():
        try:
            day = date.fromisoformat(done_on.strip())
        except ValueError:
            problems.append(Problem("use a date like 2025-06-30", field="done_on"))
        else:
            if day > today:
                problems.append(Problem("the date is in the future", field="done_on"))
    definition = definition_of(platform)
    known = {m.id for m in definition.template_for(account.segment).milestones}
    if milestone_id not in known:
        problems.append(Problem("no such onboarding milestone", field="milestone"))
    if problems:
        raise InvalidInput("cannot mark the milestone done", problems)
    complete_milestone(
        platform,
        definition,
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
    # This account is recomputed at once (its page is next); the book-wide
    # onboarding report is refreshed in the background and served until then.
    figures.reports.discard(figures.key("lifecycle", account_id))
    figures.reports.expire(figures.key("onboarding"))
    figures.facts.expire(figures.key("facts"))


# -- the onboarding page ---------------------------------------------------------------


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
    chart: Chart | None


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


def allowed_ids(platform: Platform, caller: Caller, query: Any) -> set[str]:
    """Ids of the accounts the caller may read that match the page's filters."""
    filters = {
        "segment": query.segment or None,
        "owner_id": query.owner or None,
        "region": query.region or None,
    }
    page = list_records(platform, caller, "accounts", filters=filters, limit=1_000_000)
    return {a.id for a in page.items}


def onboarding_page(
    figures: Figures, caller: Caller, query: Any
) -> OnboardingPage | Literal["computing"] | None:
    """Time to value, activation and on-time onboarding of the last year's contract starts.

    By segment and by monthly cohort, over the accounts the caller may read
    that match the filters. ``"computing"`` while the book-wide report is being
    computed; ``None`` when no such account started onboarding in the window.
    """
    platform = figures.platform
    today = platform.today()
    start = date(today.year - 1, today.month, 1)
    report = onboarding_book(figures)
    if report is None:
        return "computing"
    allowed = allowed_ids(platform, caller, query)
    rows = [r for r in report.accounts if r.account_id in allowed and r.contract_start >= start]
    if not rows:
        return None
    segments: dict[str, list[Any]] = defaultdict(list)
    cohorts: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        segments[r.segment or "—"].append(r)
        cohorts[r.cohort].append(r)
    by_cohort = [_onboarding_row(c, summarise_onboarding(cohorts[c])) for c in sorted(cohorts)]
    chart = None
    if any(r.ttv_median is not None for r in by_cohort):
        chart = Chart(
            traces=[
                {
                    "type": "bar",
                    "name": "Time to value (median days)",
                    "x": [r.label for r in by_cohort],
                    "y": [r.ttv_median for r in by_cohort],
                    "marker": {"color": "#3b5bdb"},
                }
            ],
            x="category",
            x_title="Cohort (month of contract start)",
            y_title="Days",
            layout={"showlegend": False},
        )
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
