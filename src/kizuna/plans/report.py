"""A plan as of a date as plain data: ``plan show --json`` and the API's plan body."""

from __future__ import annotations

from typing import Any

from kizuna.plans.evaluate import KpiResult
from kizuna.plans.service import PlanView


def kpi_data(k: KpiResult, view: PlanView | None = None) -> dict[str, Any]:
    """One KPI: its definition, the value it is measured at, progress and status."""
    data: dict[str, Any] = {
        "id": k.id,
        "key": k.key,
        "name": k.name,
        "is_kgi": k.is_kgi,
        "unit": k.unit,
        "direction": k.direction,
        "baseline": k.baseline,
        "baseline_date": k.baseline_date,
        "target": k.target,
        "target_date": k.target_date,
        "evaluation_method": k.evaluation_method,
        "metric": k.metric,
        "source": k.source,
        "current": k.current,
        "measured_on": k.measured_on,
        "progress": k.progress,
        "expected_progress": k.expected_progress,
        "status": k.status.value,
    }
    if view is not None:
        data["checkins"] = [
            {
                "id": c.id,
                "value": c.value,
                "date": c.checkin_date,
                "by": c.checked_by,
                "note": c.note,
            }
            for c in view.checkins.get(k.id, [])
        ]
    return data


def plan_data(view: PlanView) -> dict[str, Any]:
    """Every section of the plan as of ``view.as_of``."""
    p = view.plan
    return {
        "id": p.id,
        "account_id": p.account_id,
        "account_name": view.account_name,
        "title": p.title,
        "template": p.template,
        "language": p.language,
        "state": p.state.value,
        "start_date": p.start_date,
        "end_date": p.end_date,
        "owner_id": p.owner_id,
        "closed_on": p.closed_on,
        "previous_plan_id": p.previous_plan_id,
        "as_of": view.as_of,
        "status": view.status.value,
        "customer_roles": view.contacts,
        "vendor_roles": view.vendor_roles,
        "checklist": [
            {
                "id": c.id,
                "label": c.label,
                "failure_pattern": c.failure_pattern,
                "done": c.done,
                "done_on": c.done_on,
                "note": c.note,
            }
            for c in view.checklist
        ],
        "issues": [
            {
                "id": i.id,
                "business_issue": i.business_issue,
                "problem": i.problem,
                "solution": i.solution,
                "benefit": i.benefit,
            }
            for i in view.issues
        ],
        "kgi": kpi_data(view.kgi, view) if view.kgi else None,
        "initiatives": [
            {
                "id": i.id,
                "key": i.key,
                "name": i.name,
                "purpose": i.purpose,
                "approach": i.approach,
                "extent": i.extent,
                "impact": i.impact,
                "difficulty": i.difficulty,
                "tie_break": i.tie_break,
                "order_override": i.order_override,
                "proposed_rank": i.proposed_rank,
                "position": i.position,
                "kpis": [kpi_data(k, view) for k in i.kpis],
            }
            for i in view.initiatives
        ],
        "proposed_order": view.proposed_order,
        "kpis": [kpi_data(k, view) for k in view.kpis],
        "milestones": view.milestones,
        "meetings": [
            {
                "id": m.id,
                "name": m.name,
                "cadence": m.cadence,
                "audience": m.audience,
                "first_date": m.first_date,
                "last_date": m.last_date,
                "next_date": m.next_date,
                "last_held": m.last_held,
                "missed": m.missed,
                "missed_dates": m.missed_dates,
            }
            for m in view.meetings
        ],
        "warnings": [
            {
                "kind": w.kind,
                "message": w.message,
                "contact_id": w.contact_id,
                "days": w.days,
                "since": w.since,
            }
            for w in view.warnings
        ],
    }
