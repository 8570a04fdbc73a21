"""The vocabulary of calls to action: types, priorities, statuses, task states.

English labels here; the UI shows them through the message catalogs.
"""

from __future__ import annotations

__all__ = [
    "ACTIVE_STATUSES",
    "CLOSED_STATUSES",
    "CTA_TYPES",
    "PRIORITIES",
    "STATUSES",
    "TASK_STATUSES",
    "priority_name",
    "priority_value",
]

#: CTA types (issue 17): what kind of work the CTA asks for.
CTA_TYPES = {
    "risk": "Risk",
    "expansion": "Expansion",
    "lifecycle": "Lifecycle",
    "objective": "Objective",
    "activity": "Activity",
}

#: Priorities, lowest first; stored as their position (1 = low … 4 = urgent).
PRIORITIES = {"low": "Low", "medium": "Medium", "high": "High", "urgent": "Urgent"}

STATUSES = {
    "queued": "Queued",  # over the day's budget: waits for a later day, nobody sees it yet
    "open": "Open",
    "in_progress": "In progress",
    "snoozed": "Snoozed",
    "closed_won": "Closed won",
    "closed_lost": "Closed lost",
}
#: Statuses that hold the (rule, account) dedupe key.
ACTIVE_STATUSES = ("queued", "open", "in_progress", "snoozed")
CLOSED_STATUSES = ("closed_won", "closed_lost")

TASK_STATUSES = {"open": "Open", "done": "Done", "skipped": "Skipped"}

#: The outcome written when a rule closes its CTA because its condition no longer holds.
CONDITION_CLEARED = "resolved: condition cleared"


def priority_value(name: str) -> int:
    """1 (low) … 4 (urgent)."""
    return list(PRIORITIES).index(name) + 1


def priority_name(value: int) -> str:
    names = list(PRIORITIES)
    return names[max(1, min(value, len(names))) - 1]
