"""Facts the rules read from what the daily run already built (compute once, hand on).

The portfolio snapshot of a date holds every account's ARR, next renewal and overdue
onboarding milestones; the rules step (and ``kizuna rules run`` for a date that has a
snapshot) hands them to :func:`kizuna.actions.run_rules` instead of evaluating the
contract ledger and the lifecycle a second time.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow.parquet as pq
import sqlalchemy as sa

from kizuna.actions.facts import FactKey
from kizuna.daily.files import (
    ONBOARDING_FILE,
    PORTFOLIO_FILE,
    read_portfolio,
    snapshot_folder,
)
from kizuna.platform import Platform
from kizuna.store.models import Account

__all__ = ["rule_facts_from_snapshot"]

#: The snapshot's per-account table (:func:`kizuna.daily.files.write_portfolio` writes it).
ACCOUNTS_FILE = "accounts.parquet"


def rule_facts_from_snapshot(
    platform: Platform, as_of: date
) -> tuple[list[str], dict[FactKey, np.ndarray]] | None:
    """(account ids, columns) of ``arr``, ``days_to_renewal`` and ``overdue_milestones``
    from the portfolio snapshot of ``as_of``; None when the daily run saved none.

    The figures are read from the snapshot's per-account table (``accounts.parquet``, the
    same figures as its JSON), not by validating the whole snapshot; the JSON is read only
    to learn whether the snapshot tracks onboarding when the lifecycle step saved no
    onboarding report for the date (the snapshot then computed its own, or none).
    """
    folder = snapshot_folder(platform.settings, as_of)
    if not (folder / PORTFOLIO_FILE).exists():
        return None
    if (folder / ONBOARDING_FILE).exists():
        tracked = True  # the snapshot took its onboarding report from this file
    else:
        snapshot = read_portfolio(platform.settings, as_of)
        if snapshot is None:
            return None
        tracked = snapshot.onboarding is not None
    table = pq.read_table(
        folder / ACCOUNTS_FILE, columns=["account_id", "arr", "renewal_date", "overdue_milestones"]
    )
    with platform.store.session() as session:
        ids = list(session.scalars(sa.select(Account.id).order_by(Account.id)))
    row = {account: i for i, account in enumerate(ids)}
    arr = np.zeros(len(ids))
    renewal = np.full(len(ids), np.nan)
    overdue = np.full(len(ids), np.nan)
    for account, value, renewal_date, late in zip(
        *(table.column(c).to_pylist() for c in table.column_names), strict=True
    ):
        i = row.get(account)
        if i is None:
            continue
        if value is not None:
            arr[i] = float(value)
        if renewal_date is not None:
            renewal[i] = (renewal_date - as_of).days
        if tracked and late is not None:
            overdue[i] = late
    given = {FactKey("arr"): arr, FactKey("days_to_renewal"): renewal}
    if tracked:
        given[FactKey("overdue_milestones")] = overdue
    return ids, given
