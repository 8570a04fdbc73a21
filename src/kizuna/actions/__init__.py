"""From signal to action (issue 17): rules, calls to action, playbooks, coverage.

Rules (YAML, :mod:`kizuna.actions.definitions`) are conditions over account facts
as of a date (:mod:`kizuna.actions.facts`, :mod:`kizuna.actions.conditions`),
evaluated over the whole book at once. :func:`run_rules` opens, updates, queues
and closes calls to action (:mod:`kizuna.actions.engine`); CSMs work them and
their playbook tasks (:mod:`kizuna.actions.ctas`). The attention conditions the
portfolio shows are defined once in :mod:`kizuna.portfolio.attention`.
"""

from kizuna.actions.conditions import Condition, parse_condition
from kizuna.actions.coverage import Assignee, assign, tiers_of
from kizuna.actions.ctas import (
    CtaView,
    TaskView,
    close_cta,
    get_cta,
    list_ctas,
    list_events,
    log_activity,
    open_cta,
    reassign_task,
    set_task_status,
    snooze_cta,
    start_cta,
)
from kizuna.actions.definitions import RuleDefinition, RuleSet, load_rules, parse_rules, rules_for
from kizuna.actions.engine import Change, RuleRun, evaluate_rules, needed_facts, run_rules
from kizuna.actions.facts import FACTS, FactBook, FactKey, FactSpec, gather_facts, register_fact
from kizuna.portfolio.attention import ATTENTION_DROP, attention_reasons

__all__ = [
    "ATTENTION_DROP",
    "FACTS",
    "Assignee",
    "Change",
    "Condition",
    "CtaView",
    "FactBook",
    "FactKey",
    "FactSpec",
    "RuleDefinition",
    "RuleRun",
    "RuleSet",
    "TaskView",
    "assign",
    "attention_reasons",
    "close_cta",
    "evaluate_rules",
    "gather_facts",
    "get_cta",
    "list_ctas",
    "list_events",
    "load_rules",
    "log_activity",
    "needed_facts",
    "open_cta",
    "parse_condition",
    "parse_rules",
    "reassign_task",
    "register_fact",
    "rules_for",
    "run_rules",
    "set_task_status",
    "snooze_cta",
    "start_cta",
    "tiers_of",
]
