"""Lifecycle stages, onboarding milestones and time to value (issue 6).

Definitions are data (``default_lifecycle.yaml``, or ``<KIZUNA_HOME>/lifecycle.yaml``):
stages with entry rules evaluated in order, and onboarding templates per
segment whose milestones complete manually or automatically. See
``docs/lifecycle.md``.
"""

from kizuna.lifecycle.book import tracking_start
from kizuna.lifecycle.definitions import (
    FACTS,
    Condition,
    LifecycleDefinition,
    MilestoneDefinition,
    OnboardingTemplate,
    Rule,
    StageDefinition,
    definition_for,
    load_definition,
    parse_definition,
)
from kizuna.lifecycle.milestones import Completion, MilestoneStatus, Schedule
from kizuna.lifecycle.onboarding import (
    OnboardingReport,
    OnboardingSummary,
    onboarding_report,
    onboarding_report_of,
    time_to_value,
)
from kizuna.lifecycle.stages import (
    AccountLifecycle,
    ComputeResult,
    Evaluation,
    Transition,
    complete_milestone,
    compute_and_keep,
    compute_lifecycle,
    current_stages,
    lifecycles_of,
    show_account,
    show_accounts,
    stored_transitions,
)

__all__ = [
    "FACTS",
    "AccountLifecycle",
    "Completion",
    "ComputeResult",
    "Condition",
    "Evaluation",
    "LifecycleDefinition",
    "MilestoneDefinition",
    "MilestoneStatus",
    "OnboardingReport",
    "OnboardingSummary",
    "OnboardingTemplate",
    "Rule",
    "Schedule",
    "StageDefinition",
    "Transition",
    "complete_milestone",
    "compute_and_keep",
    "compute_lifecycle",
    "current_stages",
    "definition_for",
    "lifecycles_of",
    "load_definition",
    "onboarding_report",
    "onboarding_report_of",
    "parse_definition",
    "show_account",
    "show_accounts",
    "stored_transitions",
    "time_to_value",
    "tracking_start",
]
