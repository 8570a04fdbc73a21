"""A CTA's reason in the reader's language, rendered when it is read.

A rule run stores the facts that fired a CTA (``facts``, keyed by the fact and its
parameters, e.g. ``days_since_touch(role=evaluator)``) with an English reason. Reading a
CTA in Japanese renders the reason again from the rule and those stored facts with the
facts' Japanese labels (:class:`~kizuna.actions.facts.FactSpec` ``label_ja``) and the
rule's ``name_ja``: "120日以内の更新でヘルスが赤: 更新までの日数は63（≥ 0かつ≤ 120）、…".
When the rule has left the rule set, or its stored facts no longer satisfy it (the rule
was edited), the stored English reason stands.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from kizuna.actions.definitions import RuleDefinition
from kizuna.actions.facts import FACTS, FactBook

__all__ = ["LANGUAGES", "reasons_in", "render_reason"]

LANGUAGES = ("en", "ja")


def _column(kind: str, value: Any) -> np.ndarray:
    if kind == "number" or (kind == "any" and isinstance(value, int | float)):
        if value == "never":
            return np.asarray([np.inf])
        return np.asarray([np.nan if value is None else float(value)], dtype=float)
    return np.asarray([value], dtype=object)


def render_reason(rule: RuleDefinition, facts: dict[str, Any], lang: str) -> str | None:
    """The reason ``rule`` fired on these stored ``facts``, in ``lang``; None if it cannot tell."""
    keys = rule.condition.fact_keys()
    if any(str(k) not in facts for k in keys):
        return None
    columns = {k: _column(FACTS[k.name].kind, facts[str(k)]) for k in keys}
    book = FactBook(as_of=date.min, ids=np.asarray(["_"], dtype=object), columns=columns)
    if not bool(rule.condition.mask(book)[0]):
        return None
    parts = rule.condition.reasons(book, 0, lang)
    if lang == "ja":
        return f"{rule.name_ja or rule.name}: " + "、".join(parts)
    return f"{rule.name}: " + "; ".join(parts)


def reasons_in(rule: RuleDefinition | None, facts: dict[str, Any], stored: str) -> dict[str, str]:
    """The reason in every language (the stored English reason where none renders)."""
    out = {"en": stored}
    if rule is not None:
        for lang in LANGUAGES:
            out[lang] = render_reason(rule, facts, lang) or stored
    return out
