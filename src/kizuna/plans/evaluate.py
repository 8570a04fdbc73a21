"""Evaluate success plans as of a date: KPI values, progress and status, plan status.

:func:`evaluate_plans` works on many plans at once (the daily run, the plans
overview, the benchmark): a fixed number of queries whatever the number of
plans, and each metric date file read once for every plan that needs it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from kizuna.metrics.service import read_metric_values
from kizuna.metrics.store import stored_dates
from kizuna.plans.progress import (
    KpiStatus,
    PlanStatus,
    Tolerances,
    expected_progress,
    kpi_progress,
    kpi_status,
    plan_status,
)
from kizuna.platform import Platform
from kizuna.store.plans_models import (
    MilestoneState,
    Plan,
    PlanCheckin,
    PlanKpi,
    PlanMilestone,
    PlanState,
)


def tolerances(platform: Platform) -> Tolerances:
    s = platform.settings
    return Tolerances(at_risk_gap=s.plan_at_risk_gap, off_track_gap=s.plan_off_track_gap)


@dataclass
class KpiResult:
    """One KPI (or the KGI) as of a date, and how its value was measured."""

    id: int
    key: str
    name: str
    is_kgi: bool
    initiative_id: int | None
    unit: str | None
    direction: str
    baseline: float
    baseline_date: date
    target: float
    target_date: date
    evaluation_method: str | None
    metric: str | None
    current: float | None
    measured_on: date | None  # the metric date or check-in date the value is from
    source: str  # "metric:<name>" or "check-ins"
    progress: float | None
    expected_progress: float
    status: KpiStatus


@dataclass
class PlanResult:
    plan_id: str
    account_id: str
    as_of: date
    status: PlanStatus
    kgi: KpiResult | None
    kpis: list[KpiResult] = field(default_factory=list)
    milestones_overdue: int = 0

    def count(self, status: KpiStatus) -> int:
        return sum(k.status is status for k in self.kpis)


def metric_values_as_of(
    platform: Platform, as_of: date, wanted: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], tuple[float | None, date]]:
    """Each (account, metric)'s value computed for the latest date on or before
    ``as_of``, with that date. A pair absent from a date's file (the account
    did not exist yet) is looked up on earlier dates; a value computed as
    null stays null (the metric had no value then)."""
    missing = set(wanted)
    found: dict[tuple[str, str], tuple[float | None, date]] = {}
    if not missing:
        return found
    days = [d for d in stored_dates(platform.settings.home) if d <= as_of]
    for day in reversed(days):
        accounts = sorted({a for a, _ in missing})
        metrics = sorted({m for _, m in missing})
        table = read_metric_values(platform, as_of=day, account_id=accounts, metrics=metrics)
        if table.num_rows:
            ids = table.column("account_id").to_pylist()
            names = table.column("metric").to_pylist()
            values = table.column("value").to_pylist()
            for account, metric, value in zip(ids, names, values, strict=True):
                pair = (account, metric)
                if pair in missing:
                    found[pair] = (value, day)
                    missing.discard(pair)
        if not missing:
            break
    return found


def _latest_checkins(
    session: sa.orm.Session, kpi_ids: Sequence[int], as_of: date
) -> dict[int, tuple[float, date]]:
    """The latest check-in on or before ``as_of`` of each KPI (the last recorded on a tie)."""
    out: dict[int, tuple[float, date, int]] = {}
    for chunk_start in range(0, len(kpi_ids), 5000):
        chunk = kpi_ids[chunk_start : chunk_start + 5000]
        rows = session.execute(
            sa.select(
                PlanCheckin.kpi_id, PlanCheckin.value, PlanCheckin.checkin_date, PlanCheckin.id
            ).where(PlanCheckin.kpi_id.in_(chunk), PlanCheckin.checkin_date <= as_of)
        )
        for kpi_id, value, day, row_id in rows:
            best = out.get(kpi_id)
            if best is None or (day, row_id) > (best[1], best[2]):
                out[kpi_id] = (value, day, row_id)
    return {k: (v[0], v[1]) for k, v in out.items()}


_KPI_COLUMNS = [c for c in PlanKpi.__table__.columns]


def evaluate_kpi(
    kpi: Any,
    current: float | None,
    measured_on: date | None,
    as_of: date,
    tol: Tolerances,
) -> KpiResult:
    """Progress, expected progress and status of one KPI given its current value.

    ``kpi`` is a :class:`PlanKpi` or a row with its columns.
    """
    progress = None if current is None else kpi_progress(current, kpi.baseline, kpi.target)
    expected = expected_progress(as_of, kpi.baseline_date, kpi.target_date)
    return KpiResult(
        id=kpi.id,
        key=kpi.key,
        name=kpi.name,
        is_kgi=kpi.is_kgi,
        initiative_id=kpi.initiative_id,
        unit=kpi.unit,
        direction=kpi.direction.value,
        baseline=kpi.baseline,
        baseline_date=kpi.baseline_date,
        target=kpi.target,
        target_date=kpi.target_date,
        evaluation_method=kpi.evaluation_method,
        metric=kpi.metric,
        current=current,
        measured_on=measured_on,
        source=f"metric:{kpi.metric}" if kpi.metric else "check-ins",
        progress=progress,
        expected_progress=expected,
        status=kpi_status(progress, expected, as_of, kpi.target_date, tol),
    )


def evaluate_plans(
    platform: Platform,
    as_of: date,
    *,
    plan_ids: Sequence[str] | None = None,
    states: Sequence[PlanState] = (PlanState.ACTIVE,),
) -> dict[str, PlanResult]:
    """Every plan in ``states`` (or the given ``plan_ids``) evaluated as of ``as_of``."""
    tol = tolerances(platform)
    with platform.store.session() as session:
        query = sa.select(Plan.id, Plan.account_id)
        if plan_ids is not None:
            query = query.where(Plan.id.in_(list(plan_ids)))
        else:
            query = query.where(Plan.state.in_(list(states)))
        plans = dict(session.execute(query).all())
        if not plans:
            return {}
        ids = list(plans)
        kpis: list[Any] = []  # rows of _KPI_COLUMNS (plain rows: ORM objects cost 2x here)
        overdue: dict[str, int] = defaultdict(int)
        for start in range(0, len(ids), 5000):
            chunk = ids[start : start + 5000]
            kpis.extend(
                session.execute(
                    sa.select(*_KPI_COLUMNS).where(PlanKpi.plan_id.in_(chunk)).order_by(PlanKpi.id)
                )
            )
            rows = session.execute(
                sa.select(PlanMilestone.plan_id, sa.func.count())
                .where(
                    PlanMilestone.plan_id.in_(chunk),
                    PlanMilestone.state == MilestoneState.OPEN,
                    PlanMilestone.due_date < as_of,
                )
                .group_by(PlanMilestone.plan_id)
            )
            overdue.update({p: int(n) for p, n in rows})
        manual = [k.id for k in kpis if not k.metric]
        checkins = _latest_checkins(session, manual, as_of) if manual else {}
        session.expunge_all()
    wanted = {(plans[k.plan_id], k.metric) for k in kpis if k.metric}
    values = metric_values_as_of(platform, as_of, wanted)
    by_plan: dict[str, list[KpiResult]] = defaultdict(list)
    for kpi in kpis:
        if kpi.metric:
            value, day = values.get((plans[kpi.plan_id], kpi.metric), (None, None))
        else:
            value, day = checkins.get(kpi.id, (None, None))
        by_plan[kpi.plan_id].append(evaluate_kpi(kpi, value, day, as_of, tol))
    results = {}
    for plan_id, account_id in plans.items():
        evaluated = by_plan.get(plan_id, [])
        kgi = next((k for k in evaluated if k.is_kgi), None)
        others = [k for k in evaluated if not k.is_kgi]
        status = plan_status(
            kgi.status if kgi else None, [k.status for k in others], overdue.get(plan_id, 0)
        )
        results[plan_id] = PlanResult(
            plan_id=plan_id,
            account_id=account_id,
            as_of=as_of,
            status=status,
            kgi=kgi,
            kpis=others,
            milestones_overdue=overdue.get(plan_id, 0),
        )
    return results
