"""Why a rule opened a call to action, worded in the page's language.

The rules engine stores a CTA's reason in English (the command line's words)
together with the facts it saw (``facts``: each fact of the rule's condition
by its key). Pages word the reason again from the rule in use and those facts:
the rule's name (``name_ja``), each fact by its catalog label, values through
the number formats and the catalog's terms. A CTA whose rule is no longer in
the rule set, or whose rule now reads facts the CTA did not store (the rule was
edited since), keeps its stored reason; so does a CTA opened by hand (its reason
is the user's own text).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kizuna.actions import FACTS, FactKey, RuleDefinition
from kizuna.actions.conditions import AllOf, AnyOf, Comparison, Condition, Leaf, Not
from kizuna.web.i18n import N_, format_number, format_term, gettext

#: Each fact of the rules engine in words (kizuna.actions.facts registers them).
FACT_LABELS: Mapping[str, str] = {
    "segment": N_("segment"),
    "region": N_("region"),
    "industry": N_("industry"),
    "owner": N_("owner"),
    "attribute": N_("attribute"),
    "arr": N_("ARR"),
    "days_to_renewal": N_("days to renewal"),
    "health_score": N_("health score"),
    "health_band": N_("health band"),
    "health_change": N_("health change"),
    "metric": N_("metric"),
    "stage": N_("lifecycle stage"),
    "days_in_stage": N_("days in stage"),
    "overdue_milestones": N_("overdue milestones"),
    "nps_detractors": N_("NPS detractor answers"),
    "open_tickets": N_("open tickets"),
    "days_since_touch": N_("days since a touch"),
    "open_ctas": N_("open CTAs"),
    "plan_status": N_("success plan status"),
    "churn_probability": N_("churn probability"),
    "risk_band": N_("churn risk band"),
}
#: A fact's parameters in words ("health change (days 30)").
PARAM_LABELS: Mapping[str, str] = {
    "days": N_("days"),
    "change_days": N_("change over days"),
    "relative": N_("relative"),
    "priority": N_("priority"),
    "role": N_("role"),
    "type": N_("type"),
}
#: Comparisons that are words rather than symbols.
OPERATOR_WORDS: Mapping[str, str] = {"in": N_("in"), "not_in": N_("not in")}
SYMBOLS = {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥"}

_MESSAGES = (N_("unknown"), N_("never"), N_("not: %(condition)s"))


def _value(value: Any) -> str:
    if value is None:
        return gettext("unknown")
    if value == "never" or (isinstance(value, float) and value == float("inf")):
        return gettext("never")
    if isinstance(value, bool):
        return format_term(str(value).lower())
    if isinstance(value, int | float):
        number = float(value)
        return format_number(number, 0 if number.is_integer() else 2)
    if isinstance(value, tuple | list):
        return "/".join(_value(v) for v in value)
    return format_term(value)


def _comparison(comparison: Comparison) -> str:
    op = comparison.op
    word = gettext(OPERATOR_WORDS[op]) if op in OPERATOR_WORDS else SYMBOLS.get(op, op)
    values = comparison.value if isinstance(comparison.value, tuple) else (comparison.value,)
    return f"{word} " + ", ".join(_value(v) for v in values)


def fact_name(leaf: Leaf) -> str:
    """What a condition's fact is called: the rule author's own label, else the catalog's."""
    spec = FACTS.get(leaf.key.name)
    if leaf.label and (spec is None or leaf.label != spec.label):
        return leaf.label
    params = dict(leaf.key.params)
    if "name" in params:  # a metric or an account attribute, by its own name
        head = str(params.pop("name"))
    elif leaf.key.name in FACT_LABELS:
        head = gettext(FACT_LABELS[leaf.key.name])
    else:
        head = spec.label if spec is not None else leaf.key.name
    extras = [
        f"{gettext(PARAM_LABELS.get(k, k))} {_param(v)}"
        for k, v in params.items()
        if v not in (None, False, 0, ())
    ]
    return head + (f" ({', '.join(extras)})" if extras else "")


def _param(value: Any) -> str:
    if value is True:
        return gettext("relative")
    if isinstance(value, tuple):
        return "/".join(format_term(v) for v in value)
    return format_term(value) if isinstance(value, str) else str(value)


def _holds(condition: Condition, facts: Mapping[str, Any]) -> bool:
    """Whether ``condition`` holds for the stored facts (which parts of an ``any`` fired)."""
    if isinstance(condition, Leaf):
        value = facts.get(str(condition.key))
        if value is None:
            return condition.missing
        if value == "never":
            value = float("inf")
        return all(_compare(c, value) for c in condition.comparisons)
    if isinstance(condition, AllOf):
        return all(_holds(i, facts) for i in condition.items)
    if isinstance(condition, AnyOf):
        return any(_holds(i, facts) for i in condition.items)
    if isinstance(condition, Not):
        return not _holds(condition.item, facts)
    return False


def _compare(comparison: Comparison, value: Any) -> bool:
    target = comparison.value
    try:
        if comparison.op == "in":
            return value in target
        if comparison.op == "not_in":
            return value not in target
        if comparison.op == "eq":
            return bool(value == target)
        if comparison.op == "ne":
            return bool(value != target)
        if comparison.op == "lt":
            return bool(value < target)
        if comparison.op == "lte":
            return bool(value <= target)
        if comparison.op == "gt":
            return bool(value > target)
        return bool(value >= target)
    except TypeError:  # text compared with a number: no match, as in the engine
        return False


def _describe(condition: Condition) -> str:
    """A condition without values (inside a ``not``)."""
    if isinstance(condition, Leaf):
        return (
            fact_name(condition) + " " + " · ".join(_comparison(c) for c in condition.comparisons)
        )
    if isinstance(condition, AllOf | AnyOf):
        return "; ".join(_describe(i) for i in condition.items)
    if isinstance(condition, Not):
        return gettext("not: %(condition)s") % {"condition": _describe(condition.item)}
    return ""


def _reasons(condition: Condition, facts: Mapping[str, Any]) -> list[str]:
    if isinstance(condition, Leaf):
        value = _value(facts.get(str(condition.key)))
        rules = " · ".join(_comparison(c) for c in condition.comparisons)
        return [f"{fact_name(condition)}: {value} ({rules})"]
    if isinstance(condition, AllOf):
        return [r for i in condition.items for r in _reasons(i, facts)]
    if isinstance(condition, AnyOf):
        fired = [i for i in condition.items if _holds(i, facts)] or list(condition.items)
        return [r for i in fired for r in _reasons(i, facts)]
    if isinstance(condition, Not):
        return [gettext("not: %(condition)s") % {"condition": _describe(condition.item)}]
    return []


def rule_reason(
    rule: RuleDefinition | None, name: str, facts: Mapping[str, Any], stored: str
) -> str:
    """Why ``rule`` fired for these stored facts, in the current language (``name``: the
    rule's name in it); ``stored`` when the facts do not fit the rule any more."""
    if rule is None:
        return stored
    condition = rule.condition
    keys: list[FactKey] = condition.fact_keys()
    if any(str(k) not in facts for k in keys):
        return stored
    return f"{name}: " + "; ".join(_reasons(condition, facts))
