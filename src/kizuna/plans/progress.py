"""The rules of a success plan, as pure functions over plain values.

* KPI progress, expected progress and status (tolerances from settings);
* the proposed order of the roadmap's initiatives;
* a meeting series' scheduled dates, next date and missed windows;
* a plan's status from its KPIs and milestones.

Nothing here touches the store; :mod:`kizuna.plans.service` feeds these
functions and every edge shows what they decided. See docs/plans.md.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta


class KpiStatus(enum.StrEnum):
    """Where a KPI stands against the straight line from its baseline to its target."""

    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    ACHIEVED = "achieved"
    NO_DATA = "no_data"  # not measured yet (no metric value or check-in on or before the date)


class PlanStatus(enum.StrEnum):
    """A plan's status as of a date (see :func:`plan_status`)."""

    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OFF_TRACK = "off_track"
    ACHIEVED = "achieved"


#: A label in each language for every status (the UI and documents show these).
STATUS_LABELS: dict[str, dict[str, str]] = {
    "on_track": {"en": "On track", "ja": "順調"},
    "at_risk": {"en": "At risk", "ja": "要注意"},
    "off_track": {"en": "Off track", "ja": "遅れ"},
    "achieved": {"en": "Achieved", "ja": "達成"},
    "no_data": {"en": "No data yet", "ja": "データなし"},
}


@dataclass(frozen=True, slots=True)
class Tolerances:
    """How far behind its straight line a KPI may be (as a share of the way)."""

    at_risk_gap: float = 0.10
    off_track_gap: float = 0.25


def kpi_progress(current: float, baseline: float, target: float) -> float:
    """(current − baseline) / (target − baseline): 0 at the baseline, 1 at the target.

    Works for both directions (a lower-is-better KPI has target < baseline).
    """
    return (current - baseline) / (target - baseline)


def expected_progress(as_of: date, baseline_date: date, target_date: date) -> float:
    """The straight line from 0 on the baseline date to 1 on the target date, clamped."""
    if as_of <= baseline_date:
        return 0.0
    if as_of >= target_date:
        return 1.0
    return (as_of - baseline_date).days / (target_date - baseline_date).days


def kpi_status(
    progress: float | None,
    expected: float,
    as_of: date,
    target_date: date,
    tolerances: Tolerances,
) -> KpiStatus:
    """Achieved at progress ≥ 1; otherwise by the gap ``expected − progress``:
    on track up to ``at_risk_gap``, at risk up to ``off_track_gap``, off track
    beyond — and off track once the target date has passed unachieved."""
    if progress is None:
        return KpiStatus.NO_DATA
    if progress >= 1:
        return KpiStatus.ACHIEVED
    if as_of > target_date:
        return KpiStatus.OFF_TRACK
    gap = expected - progress
    # A tiny epsilon keeps gaps that equal a tolerance on the lenient side despite float error.
    if gap <= tolerances.at_risk_gap + 1e-9:
        return KpiStatus.ON_TRACK
    if gap <= tolerances.off_track_gap + 1e-9:
        return KpiStatus.AT_RISK
    return KpiStatus.OFF_TRACK


@dataclass(frozen=True, slots=True)
class RankedInitiative:
    key: str
    impact: int
    difficulty: int
    tie_break: int | None = None
    order_override: int | None = None


def proposed_order(initiatives: Iterable[RankedInitiative]) -> list[str]:
    """Kizuna's proposal: higher impact first, then lower difficulty, then the
    user's tie-break (lower first, unset last), then the key."""
    ranked = sorted(
        initiatives,
        key=lambda i: (
            -i.impact,
            i.difficulty,
            i.tie_break is None,
            i.tie_break if i.tie_break is not None else 0,
            i.key,
        ),
    )
    return [i.key for i in ranked]


def effective_order(initiatives: Sequence[RankedInitiative]) -> list[str]:
    """The order the plan follows: an initiative with ``order_override`` n takes
    position n (1-based) ahead of the one proposed there; the rest keep the proposal."""
    proposal = proposed_order(initiatives)
    rank = {key: i + 1 for i, key in enumerate(proposal)}
    by_key = {i.key: i for i in initiatives}

    def sort_key(key: str) -> tuple[int, int, int]:
        override = by_key[key].order_override
        if override is not None:
            return (override, 0, rank[key])
        return (rank[key], 1, rank[key])

    return sorted(proposal, key=sort_key)


# -- meeting cadence -----------------------------------------------------------

_STEP_DAYS = {"weekly": 7, "biweekly": 14}


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def occurrence(first: date, cadence: str, k: int) -> date:
    """The ``k``-th (0-based) scheduled date of a series starting on ``first``."""
    if cadence == "monthly":
        return _add_months(first, k)
    return first + timedelta(days=_STEP_DAYS[cadence] * k)


def scheduled_dates(first: date, cadence: str, until: date, last: date | None = None) -> list[date]:
    """The scheduled dates from ``first`` up to ``until`` (and ``last``) inclusive."""
    end = min(until, last) if last is not None else until
    out = []
    k = 0
    while (day := occurrence(first, cadence, k)) <= end:
        out.append(day)
        k += 1
    return out


def next_meeting(first: date, cadence: str, as_of: date, last: date | None = None) -> date | None:
    """The first scheduled date on or after ``as_of`` (None after the series' last date)."""
    k = 0
    while (day := occurrence(first, cadence, k)) < as_of:
        k += 1
    if last is not None and day > last:
        return None
    return day


def missed_windows(
    first: date,
    cadence: str,
    as_of: date,
    held: Iterable[date],
    last: date | None = None,
) -> list[date]:
    """Scheduled dates whose window passed with no meeting held in it.

    The window of the occurrence on ``s`` runs from ``s`` up to the day before
    the next occurrence; it is judged once it has ended (before ``as_of``).
    """
    days = sorted(held)
    missed = []
    k = 0
    while True:
        start = occurrence(first, cadence, k)
        end = occurrence(first, cadence, k + 1)  # exclusive
        if end > as_of or (last is not None and start > last):
            break
        if not any(start <= d < end for d in days):
            missed.append(start)
        k += 1
    return missed


# -- plan status ---------------------------------------------------------------


def plan_status(
    kgi_status: KpiStatus | None,
    kpi_statuses: Sequence[KpiStatus],
    overdue_milestones: int,
) -> PlanStatus:
    """A plan's status as of a date.

    * achieved — its KGI is achieved;
    * off track — its KGI is off track, or at least half of its measured KPIs are;
    * at risk — any measured KPI (or the KGI) is at risk or off track, or a milestone is overdue;
    * on track — otherwise (KPIs not measured yet do not count).
    """
    if kgi_status is KpiStatus.ACHIEVED:
        return PlanStatus.ACHIEVED
    measured = [s for s in kpi_statuses if s is not KpiStatus.NO_DATA]
    off = sum(s is KpiStatus.OFF_TRACK for s in measured)
    if kgi_status is KpiStatus.OFF_TRACK or (measured and off * 2 >= len(measured)):
        return PlanStatus.OFF_TRACK
    behind = {KpiStatus.AT_RISK, KpiStatus.OFF_TRACK}
    if kgi_status in behind or any(s in behind for s in measured) or overdue_milestones:
        return PlanStatus.AT_RISK
    return PlanStatus.ON_TRACK
