"""Revenue work (issue 18): opportunities, the renewal forecast, growth plans, seed 004's metrics.

Definitions are data (``default_revenue.yaml`` or ``<KIZUNA_HOME>/revenue.yaml``):
the pipeline's stages with default probabilities and forecast categories, the
owner of each deal type and product, the renewal lead time and the CRM column
mappings. See ``docs/revenue.md``.
"""

from kizuna.revenue.closing import link_won_renewals, lose, win
from kizuna.revenue.context import (
    HealthContext,
    PlanContext,
    RenewalContext,
    RenewalContextSource,
    RiskContext,
    renewal_contexts,
)
from kizuna.revenue.definition import (
    CrmMapping,
    OwnerRule,
    RevenueDefinition,
    Stage,
    definition_for,
    load_definition,
    parse_definition,
)
from kizuna.revenue.forecast import (
    AccuracyRow,
    Forecast,
    ForecastPeriod,
    ForecastRenewal,
    forecast_accuracy,
    renewal_forecast,
)
from kizuna.revenue.framework import (
    METRICS,
    FrameworkReport,
    MetricDefinition,
    MetricValue,
    framework,
)
from kizuna.revenue.opportunities import (
    OpportunityView,
    create_opportunity,
    get_opportunity,
    list_opportunities,
    move_stage,
    reassign,
)
from kizuna.revenue.readmodel import (
    RenewalCentre,
    SavedRenewal,
    read_renewal_centre,
    save_renewal_centre,
)
from kizuna.revenue.renewals import RenewalRun, open_renewals

__all__ = [
    "METRICS",
    "AccuracyRow",
    "CrmMapping",
    "Forecast",
    "ForecastPeriod",
    "ForecastRenewal",
    "FrameworkReport",
    "HealthContext",
    "MetricDefinition",
    "MetricValue",
    "OpportunityView",
    "OwnerRule",
    "PlanContext",
    "RenewalCentre",
    "RenewalContext",
    "RenewalContextSource",
    "RenewalRun",
    "RevenueDefinition",
    "RiskContext",
    "SavedRenewal",
    "Stage",
    "create_opportunity",
    "definition_for",
    "forecast_accuracy",
    "framework",
    "get_opportunity",
    "link_won_renewals",
    "list_opportunities",
    "load_definition",
    "lose",
    "move_stage",
    "open_renewals",
    "parse_definition",
    "read_renewal_centre",
    "reassign",
    "renewal_contexts",
    "renewal_forecast",
    "save_renewal_centre",
    "win",
]
