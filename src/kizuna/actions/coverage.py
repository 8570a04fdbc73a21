"""The coverage model: which touch tier an account is in, and who works its CTAs.

Tiers are tried in order; the first whose condition holds (a tier without one
takes every account left) decides the assignee: the account's owner, a pooled
team, or — tech touch — an automatic digital action. Accounts no tier takes go
to their owner.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kizuna.actions.definitions import Coverage
from kizuna.actions.facts import FactBook, FactKey

__all__ = ["Assignee", "assign", "tiers_of"]


@dataclass(frozen=True, slots=True)
class Assignee:
    """Who works a CTA: ``kind`` owner (``owner_id``), team (``team_id``) or digital."""

    kind: str
    owner_id: str | None
    team_id: str | None
    tier: str | None


def tiers_of(coverage: Coverage, book: FactBook) -> np.ndarray:
    """Each account's tier index (-1: no tier), vectorised."""
    out = np.full(book.size, -1)
    for i, tier in enumerate(coverage.tiers):
        hit = tier.condition.mask(book) if tier.condition is not None else np.ones(book.size, bool)
        out = np.where((out < 0) & hit, i, out)
    return out


def assign(coverage: Coverage, book: FactBook) -> list[Assignee]:
    """The assignee of a new CTA on each account of ``book`` (needs the ``owner`` fact)."""
    owners = book.columns[FactKey("owner")]
    index = tiers_of(coverage, book)
    made: dict[tuple[int, str | None], Assignee] = {}
    out = []
    for row in range(book.size):
        i = int(index[row])
        owner = owners[row]
        key = (i, owner)
        if key not in made:
            if i < 0:
                made[key] = Assignee("owner", owner, None, None)
            else:
                tier = coverage.tiers[i]
                to = tier.assign.to
                if to == "team":
                    made[key] = Assignee("team", None, tier.assign.team, tier.id)
                elif to == "digital":
                    made[key] = Assignee("digital", None, None, tier.id)
                else:
                    made[key] = Assignee("owner", owner, None, tier.id)
        out.append(made[key])
    return out
