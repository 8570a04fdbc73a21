"""The attention conditions: when an account needs a CSM's attention, defined once.

The portfolio's attention list and the default rules both use these
definitions (a red health band, a health drop of :data:`ATTENTION_DROP` points
over :data:`ATTENTION_DROP_DAYS` days, an overdue onboarding milestone), so the
page and the CTAs never disagree on who needs attention.
"""

from __future__ import annotations

__all__ = [
    "ATTENTION_DROP",
    "ATTENTION_DROP_DAYS",
    "ATTENTION_LABELS",
    "ATTENTION_REASONS",
    "NPS_DETRACTOR_MAX",
    "attention_reasons",
]

#: A health drop of this many points over :data:`ATTENTION_DROP_DAYS` is an attention reason.
ATTENTION_DROP = 10.0
ATTENTION_DROP_DAYS = 30
#: An NPS answer of 0 to this score is a detractor (NPS convention).
NPS_DETRACTOR_MAX = 6
#: The reasons, in the order the portfolio lists them.
ATTENTION_REASONS = ("red", "drop", "overdue")
#: English labels (the UI translates them through the catalogs).
ATTENTION_LABELS = {
    "red": "Health is red",
    "drop": "Health dropped 10 points or more in 30 days",
    "overdue": "An onboarding milestone is overdue",
}


def attention_reasons(
    band: str | None, change_30d: float | None, overdue: int | None
) -> tuple[str, ...]:
    """Why an account needs attention: ``red`` band, 30-day health ``drop``, ``overdue``."""
    reasons = []
    if band == "red":
        reasons.append("red")
    if change_30d is not None and change_30d <= -ATTENTION_DROP:
        reasons.append("drop")
    if overdue:
        reasons.append("overdue")
    return tuple(reasons)
