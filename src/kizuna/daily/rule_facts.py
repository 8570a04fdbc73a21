"""Facts the rules read from what the daily run already built (compute once, hand on).

The portfolio snapshot of a date holds every account's ARR, next renewal and overdue
onboarding milestones; the rules step (and ``kizuna rules run`` for a date that has a
snapshot) hands them to :func:`kizuna.actions.run_rules` instead of evaluating the
contract ledger and the lifecycle a second time.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import sqlalchemy as sa

from kizuna.actions.facts import FactKey
from kizuna.daily.files import read_portfolio
from kizuna.platform import Platform
from kizuna.store.models import Account

__all__ = ["rule_facts_from_snapshot"]


def rule_facts_from_snapshot(
    platform: Platform, as_of: date
) -> tuple[list[str], dict[FactKey, np.ndarray]] | None:
    """(account ids, columns) of ``arr``, ``days_to_renewal`` and ``overdue_milestones``
    from the portfolio snapshot of ``as_of``; None when the daily run saved none."""
    snapshot = read_portfolio(platform.settings, as_of)
    if snapshot is None:
        return None
    with platform.store.session() as session:
        ids = list(session.scalars(sa.select(Account.id).order_by(Account.id)))
    arr = np.zeros(len(ids))
    renewal = np.full(len(ids), np.nan)
    overdue = np.full(len(ids), np.nan)
    tracked = snapshot.onboarding is not None
    for i, account in enumerate(ids):
        f = snapshot.facts.get(account)
        if f is None:
            continue
        if f.arr is not None:
            arr[i] = float(f.arr)
        if f.renewal_date is not None:
            renewal[i] = (f.renewal_date - as_of).days
        if tracked and f.overdue_milestones is not None:
            overdue[i] = f.overdue_milestones
    given = {FactKey("arr"): arr, FactKey("days_to_renewal"): renewal}
    if tracked:
        given[FactKey("overdue_milestones")] = overdue
    return ids, given
