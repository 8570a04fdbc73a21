"""An incremental evaluation (milestones settled before the range read from the store, only
the stages evaluated from the range on) gives what a whole-history evaluation gives."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from tests.lifecycle.conftest import Builder
from tests.lifecycle.test_reproducible import END, _customer_base

from kizuna.lifecycle import compute_lifecycle, stored_transitions
from kizuna.lifecycle.book import load_book
from kizuna.lifecycle.grid import Known, evaluate_book, settled_accounts
from kizuna.platform import Platform
from kizuna.store.lifecycle_models import CompletionSource, MilestoneCompletion


def test_settled_accounts_evaluated_from_the_range_equal_their_whole_history(
    platform: Platform, build: Builder
) -> None:
    _customer_base(build)
    compute_lifecycle(platform, build.definition, END)
    with platform.store.session() as s:
        rows = s.execute(
            sa.select(
                MilestoneCompletion.account_id,
                MilestoneCompletion.milestone_id,
                MilestoneCompletion.completed_on,
                MilestoneCompletion.condition,
            ).where(MilestoneCompletion.source == CompletionSource.AUTOMATIC)
        ).all()
    history = stored_transitions(platform)
    book = load_book(platform, build.definition, END)
    used = 0
    for first in (date(2025, 3, 20), date(2025, 5, 1), date(2025, 6, 2), END):
        before = first - timedelta(days=1)
        starts = {
            a: (first, [t for t in h if t.date <= before][-1].to_stage)
            for a, h in history.items()
            if any(t.date <= before for t in h)
        }
        known: dict[str, Known] = {}
        for a, m, day, condition in rows:
            if day < first:
                known.setdefault(a, {})[m] = (day, condition)
        whole = evaluate_book(book, build.definition, starts)
        trimmed = evaluate_book(book, build.definition, starts, known)
        assert trimmed == whole
        assert all(t.date >= first for r in trimmed.values() for t in r.transitions)
        used += len(settled_accounts(book, build.definition, starts, known))
    assert used > 0  # the incremental path was taken for some accounts
