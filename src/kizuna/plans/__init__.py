"""Success plans (成果支援計画書, seed 001): templates, KPIs measured live, status as of a date.

The domain core of issue 14, free of any web or CLI framework. See docs/plans.md.
"""

from kizuna.plans.evaluate import KpiResult, PlanResult, evaluate_plans, metric_values_as_of
from kizuna.plans.exchange import export_plan, export_yaml, import_plan_data, import_plan_file
from kizuna.plans.progress import (
    STATUS_LABELS,
    KpiStatus,
    PlanStatus,
    Tolerances,
    effective_order,
    expected_progress,
    kpi_progress,
    kpi_status,
    missed_windows,
    next_meeting,
    plan_status,
    proposed_order,
)
from kizuna.plans.service import (
    PlanSummary,
    PlanView,
    add_checkin,
    create_plan,
    list_plans,
    plan_of_account,
    plan_status_as_of,
    plan_view,
    record_plan_status,
    set_plan_state,
    status_history,
)
from kizuna.plans.templates import PlanTemplate, get_template, load_templates, templates_for

__all__ = [
    "STATUS_LABELS",
    "KpiResult",
    "KpiStatus",
    "PlanResult",
    "PlanStatus",
    "PlanSummary",
    "PlanTemplate",
    "PlanView",
    "Tolerances",
    "add_checkin",
    "create_plan",
    "effective_order",
    "evaluate_plans",
    "expected_progress",
    "export_plan",
    "export_yaml",
    "get_template",
    "import_plan_data",
    "import_plan_file",
    "kpi_progress",
    "kpi_status",
    "list_plans",
    "load_templates",
    "metric_values_as_of",
    "missed_windows",
    "next_meeting",
    "plan_of_account",
    "plan_status",
    "plan_status_as_of",
    "plan_view",
    "proposed_order",
    "record_plan_status",
    "set_plan_state",
    "status_history",
    "templates_for",
]
