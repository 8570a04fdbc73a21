"""Stage history is reproducible: a range computed at once, day by day, or again
for past dates gives the same transitions (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from tests.lifecycle.conftest import Builder

from kizuna.lifecycle import Transition, compute_lifecycle, stored_transitions
from kizuna.platform import Platform
from kizuna.store.lifecycle_models import (
    CompletionSource,
    LifecycleRun,
    MilestoneCompletion,
    StageTransition,
)

END = date(2025, 6, 30)


def _customer_base(build: Builder) -> None:
    build.account("X", "smb", lines=((date(2025, 1, 1), date(2025, 12, 31), 1000),))
    build.event("X", "onboarding_kickoff", date(2025, 1, 3), "X-u0")
    build.logins("X", date(2025, 2, 3), range(3))
    build.event("X", "onboarding_data_connected", date(2025, 2, 5), "X-u0")
    build.event("X", "onboarding_first_value", date(2025, 2, 10), "X-u0")
    build.logins("X", date(2025, 4, 1), range(10))
    build.health(date(2025, 5, 15), {"X": "red"})
    build.health(date(2025, 6, 1), {"X": "green"})

    build.account("Y", "smb", lines=((date(2024, 6, 1), date(2025, 3, 31), 1000),))
    build.complete_all("Y", date(2024, 6, 10))

    build.account(
        "Z",
        "enterprise",
        lines=(
            (date(2025, 3, 1), date(2026, 2, 28), 10_000),
            (date(2025, 5, 1), date(2026, 2, 28), 2_000),
        ),
    )
    build.complete("Z", "kickoff_held", date(2025, 3, 10), by="csm-1")
    build.flush_events()


def _snapshot(platform: Platform) -> tuple[dict[str, list[Transition]], list[tuple[object, ...]]]:
    with platform.store.session() as s:
        completions = s.execute(
            sa.select(
                MilestoneCompletion.account_id,
                MilestoneCompletion.milestone_id,
                MilestoneCompletion.source,
                MilestoneCompletion.completed_on,
                MilestoneCompletion.completed_by,
                MilestoneCompletion.condition,
            ).order_by(
                MilestoneCompletion.account_id,
                MilestoneCompletion.milestone_id,
                MilestoneCompletion.source,
            )
        ).all()
    return stored_transitions(platform), [tuple(r) for r in completions]


def test_stage_history_is_reproducible(platform: Platform, build: Builder) -> None:
    _customer_base(build)
    compute_lifecycle(platform, build.definition, END)
    history, completions = _snapshot(platform)

    assert [(t.date, t.from_stage, t.to_stage) for t in history["X"]] == [
        (date(2025, 1, 1), None, "onboarding"),
        (date(2025, 2, 1), "onboarding", "at_risk"),  # data and first users both overdue
        (date(2025, 2, 3), "at_risk", "onboarding"),  # three users active: one overdue left
        (date(2025, 2, 10), "onboarding", "adoption"),  # first value: onboarding complete
        (date(2025, 4, 1), "adoption", "value_realised"),  # ten users in 28 days
        (date(2025, 4, 29), "value_realised", "adoption"),  # the logins left the window
        (date(2025, 5, 15), "adoption", "at_risk"),  # health red
        (date(2025, 6, 1), "at_risk", "adoption"),  # health green again
    ]
    assert [(t.date, t.to_stage) for t in history["Y"]] == [
        (date(2024, 6, 1), "onboarding"),
        (date(2024, 6, 10), "adoption"),
        (date(2024, 12, 31), "renewal"),
        (date(2025, 4, 1), "churned"),
    ]
    assert [(t.date, t.to_stage) for t in history["Z"]] == [
        (date(2025, 3, 1), "onboarding"),
        (date(2025, 4, 16), "at_risk"),  # metrics (due 03-22) and data (due 04-15) overdue
    ]

    # recomputing as of past dates (each from the day after the previous run) changes nothing
    for past in (date(2025, 2, 2), date(2025, 4, 15), date(2025, 5, 31), END):
        compute_lifecycle(platform, build.definition, past)
        assert _snapshot(platform) == (history, completions)

    # recomputing a range explicitly changes nothing
    compute_lifecycle(platform, build.definition, date(2025, 5, 20), from_date=date(2025, 3, 1))
    assert _snapshot(platform) == (history, completions)

    # from an empty history, weekly runs reach the same transitions
    with platform.store.session() as s:
        s.execute(sa.delete(StageTransition))
        s.execute(sa.delete(LifecycleRun))
        s.execute(
            sa.delete(MilestoneCompletion).where(
                MilestoneCompletion.source == CompletionSource.AUTOMATIC
            )
        )
    day = date(2024, 6, 3)
    while day < END:
        compute_lifecycle(platform, build.definition, day)
        day += timedelta(days=7)
    compute_lifecycle(platform, build.definition, END)
    assert _snapshot(platform) == (history, completions)

    # manual completions (user data) survived every recompute
    manual = [c for c in completions if c[2] == CompletionSource.MANUAL]
    assert len(manual) == 6 and ("Z", "kickoff_held") in [(c[0], c[1]) for c in manual]
