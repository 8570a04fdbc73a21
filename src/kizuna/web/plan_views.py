"""View models of the success plan pages: the plan of an account and the plans overview.

The domain (:mod:`kizuna.plans`) decides statuses, order, warnings and
meetings; this module only shapes them for the templates and builds the charts
(the impact × difficulty matrix, each KPI's values against its straight line).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ValidationError

from kizuna.auth.policy import Caller
from kizuna.errors import InvalidInput, Problem, validation_code
from kizuna.metrics.service import read_metric_values
from kizuna.plans import edit, schemas
from kizuna.plans.evaluate import KpiResult
from kizuna.plans.service import PlanView, plan_of_account, plan_view
from kizuna.plans.templates import PlanTemplate, templates_for
from kizuna.platform import Platform
from kizuna.store.models import Account
from kizuna.web.charts import Chart
from kizuna.web.i18n import N_

#: The English msgid of each status (the catalogs translate them).
STATUS_TEXT = {
    "on_track": N_("On track"),
    "at_risk": N_("At risk"),
    "off_track": N_("Off track"),
    "achieved": N_("Achieved"),
    "no_data": N_("No data yet"),
}
PLAN_STATE_TEXT = {
    "proposed": N_("Proposed"),
    "active": N_("Active"),
    "achieved": N_("Achieved"),
    "closed": N_("Closed"),
}
ROLE_TEXT = {
    "evaluator": "evaluator",
    "final_evaluator": "final_evaluator",
    "promoter": "promoter",
    "end_user": "end_user",
    "other": "other",
}

#: The form of each part: the input model it is validated with.
FORMS: dict[str, type[BaseModel]] = {name: part.model_in for name, part in edit.PARTS.items()}
PATCH_FORMS: dict[str, type[BaseModel]] = {
    name: part.model_patch for name, part in edit.PARTS.items()
}


@dataclass
class PlanPage:
    view: PlanView | None
    account: Account
    templates: list[PlanTemplate]
    matrix: Chart | None
    kpi_charts: dict[int, Chart]


def matrix_chart(view: PlanView) -> Chart:
    """Impact (y) against difficulty (x): the upper left is done first."""
    return Chart(
        traces=[
            {
                "type": "scatter",
                "mode": "markers+text",
                "x": [i.difficulty for i in view.initiatives],
                "y": [i.impact for i in view.initiatives],
                "text": [f"{i.position}. {i.name}" for i in view.initiatives],
                "textposition": "top center",
                "marker": {"size": 14},
                "name": N_("Initiatives"),
                "customdata": [i.key for i in view.initiatives],
            }
        ],
        x="number",
        x_title=N_("Difficulty"),
        y_title=N_("Impact"),
        layout={
            "xaxis": {"range": [0.5, 5.5], "dtick": 1},
            "yaxis": {"range": [0.5, 5.7], "dtick": 1},
            "showlegend": False,
        },
    )


def kpi_chart(platform: Platform, view: PlanView, kpi: KpiResult) -> Chart:
    """The KPI's measured values against the straight line from baseline to target."""
    if kpi.metric:
        table = read_metric_values(platform, account_id=view.plan.account_id, metrics=[kpi.metric])
        points = [
            (d, v)
            for d, v in zip(
                table.column("as_of").to_pylist(), table.column("value").to_pylist(), strict=True
            )
            if v is not None and kpi.baseline_date <= d <= view.as_of
        ]
    else:
        points = [
            (c.checkin_date, c.value)
            for c in view.checkins.get(kpi.id, [])
            if c.checkin_date <= view.as_of
        ]
    return Chart(
        traces=[
            {
                "type": "scatter",
                "mode": "lines",
                "x": [kpi.baseline_date.isoformat(), kpi.target_date.isoformat()],
                "y": [kpi.baseline, kpi.target],
                "name": N_("Plan line"),
                "line": {"dash": "dot"},
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": [d.isoformat() for d, _ in points],
                "y": [v for _, v in points],
                "name": N_("Actual"),
            },
        ],
        x="day",
    )


def plan_page(platform: Platform, caller: Caller, account_id: str, as_of: date) -> PlanPage:
    """The account's plan (or the templates to start one) as of ``as_of``."""
    from kizuna.customers.service import authorise_account
    from kizuna.errors import NotFound

    account = authorise_account(platform, caller, account_id, "plans")
    choices = templates_for(platform.settings, account.segment)
    try:
        plan = plan_of_account(platform, account_id)
    except NotFound:
        return PlanPage(None, account, choices, None, {})
    view = plan_view(platform, plan, as_of)
    kpis = ([view.kgi] if view.kgi else []) + view.kpis
    charts = {k.id: kpi_chart(platform, view, k) for k in kpis}
    return PlanPage(view, account, choices, matrix_chart(view), charts)


def form_data(model: type[BaseModel], form: Any, *, partial: bool = False) -> dict[str, Any]:
    """A form's fields for ``model``: blanks are "not given", checkboxes booleans."""
    data: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if info.annotation is bool or str(info.annotation) in ("bool", "bool | None"):
            if name in form or not partial:
                data[name] = name in form and form.get(name) not in ("", "off", "false")
            continue
        value = form.get(name)
        if value is None:
            continue
        value = str(value).strip()
        if value == "":
            if partial:
                data[name] = None if not info.is_required() else value
            continue
        data[name] = value
    return data


def field_errors(exc: ValidationError | InvalidInput) -> dict[str, Problem]:
    """Problems by field name (the first one of each field); ``_form`` for the rest,
    worded by the page from their codes."""
    errors: dict[str, Problem] = {}
    if isinstance(exc, ValidationError):
        for e in exc.errors():
            name = str(e["loc"][0]) if e["loc"] else "_form"
            code, params = validation_code(e)
            message = e["msg"].removeprefix("Value error, ")
            errors.setdefault(name, Problem(message, field=name, code=code, params=params))
    else:
        for p in exc.problems:
            errors.setdefault(p.field or "_form", p)
        if not exc.problems:
            errors["_form"] = Problem(exc.message, code=exc.code, params=exc.params)
    return errors


def validate_form(model: type[BaseModel], form: Any, *, partial: bool = False) -> BaseModel:
    return model.model_validate(form_data(model, form, partial=partial))


__all__ = [
    "FORMS",
    "PATCH_FORMS",
    "PLAN_STATE_TEXT",
    "ROLE_TEXT",
    "STATUS_TEXT",
    "PlanPage",
    "field_errors",
    "plan_page",
    "schemas",
    "validate_form",
]
