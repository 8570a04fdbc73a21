"""An incremental evaluation (milestones settled before the range read from the store, only
the stages evaluated from the range on) gives what a whole-history evaluation gives."""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from tests.lifecycle.conftest import Builder
from tests.lifecycle.test_reproducible import END, _customer_base

from kizuna.lake.layout import LakeLayout
from kizuna.lake.reader import committed_parts
from kizuna.lifecycle import compute_lifecycle, stored_transitions
from kizuna.lifecycle.book import attach_usage, load_book
from kizuna.lifecycle.definitions import LifecycleDefinition, MilestoneDefinition, Rule
from kizuna.lifecycle.grid import Known, evaluate_book, first_day_read, settled_accounts
from kizuna.lifecycle.state import STATE_FILE, advances_from, fingerprint, lake_digest
from kizuna.platform import Platform
from kizuna.store.lifecycle_models import (
    CompletionSource,
    LifecycleRun,
    MilestoneCompletion,
    StageTransition,
)


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


def _twice_connected(definition: LifecycleDefinition) -> LifecycleDefinition:
    """``definition`` with "data connected" needing two connections since the contract start
    (a count since the start whose days before an incremental grid must be carried in)."""

    def milestone(m: MilestoneDefinition) -> MilestoneDefinition:
        if m.id != "data_connected" or m.complete_when is None:
            return m
        rule = Rule(all=tuple(c.model_copy(update={"gte": 2}) for c in m.complete_when.conditions))
        return m.model_copy(update={"complete_when": rule})

    templates = tuple(
        t.model_copy(update={"milestones": tuple(milestone(m) for m in t.milestones)})
        for t in definition.onboarding.templates
    )
    onboarding = definition.onboarding.model_copy(update={"templates": templates})
    return definition.model_copy(update={"onboarding": onboarding})


def _open_onboarding(build: Builder) -> None:
    """Accounts whose onboarding is still open on the days the runs advance from."""
    _customer_base(build)
    build.definition = _twice_connected(build.definition)
    # connected once in February, again in May: completes in May, "(is 2)"
    build.account("W", "smb", lines=((date(2025, 1, 1), date(2025, 12, 31), 1000),))
    build.event("W", "onboarding_kickoff", date(2025, 1, 5), "W-u0")
    build.event("W", "onboarding_data_connected", date(2025, 2, 20), "W-u0")
    build.logins("W", date(2025, 3, 1), range(4))
    build.event("W", "onboarding_data_connected", date(2025, 5, 12), "W-u1")
    build.logins("W", date(2025, 5, 20), range(12))
    # never onboarded: every milestone open for the whole range
    build.account("V", "smb", lines=((date(2024, 12, 1), date(2025, 11, 30), 500),))
    build.logins("V", date(2025, 4, 2), range(2))
    build.activity("V", date(2025, 5, 3), "success metrics agreed with the sponsor")
    build.flush_events()


def _runs(
    platform: Platform, definition: LifecycleDefinition, first: date
) -> tuple[dict[str, tuple[date, str | None]], dict[str, Known]]:
    """What a run from ``first`` reads of the one before: stages the day before, and the
    automatic completions dated before ``first``."""
    before = first - timedelta(days=1)
    history = stored_transitions(platform, until=before)
    starts = {a: (first, h[-1].to_stage) for a, h in history.items() if h}
    known: dict[str, Known] = {}
    with platform.store.session() as s:
        for a, m, day, condition in s.execute(
            sa.select(
                MilestoneCompletion.account_id,
                MilestoneCompletion.milestone_id,
                MilestoneCompletion.completed_on,
                MilestoneCompletion.condition,
            ).where(
                MilestoneCompletion.source == CompletionSource.AUTOMATIC,
                MilestoneCompletion.completed_on < first,
            )
        ):
            known.setdefault(a, {})[m] = (day, condition)
    return starts, known


def test_open_onboarding_evaluated_from_the_range_equals_its_whole_history(
    platform: Platform, build: Builder
) -> None:
    _open_onboarding(build)
    definition = build.definition
    used: set[str] = set()
    for first in (date(2025, 3, 20), date(2025, 5, 1), date(2025, 5, 15), END):
        # the previous run through the day before: its completions are all of them
        compute_lifecycle(platform, definition, first - timedelta(days=1))
        starts, known = _runs(platform, definition, first)
        whole = evaluate_book(load_book(platform, definition, END), definition, starts)
        # the incremental read: the usage from the first day needed on, counts since the
        # contract start carried in from the roll-up's prefix table
        book = load_book(platform, definition, END, with_usage=False)
        since, open_rows, _ = first_day_read(book, definition, starts, known, pending=True)
        anchors = book.contract_starts()
        attach_usage(
            platform, definition, book, since, {int(i): int(anchors[i]) for i in open_rows}
        )
        trimmed = evaluate_book(book, definition, starts, known, pending=True)
        assert trimmed == whole
        assert since is not None and since > date(2025, 1, 1).toordinal()
        used |= settled_accounts(book, definition, starts, known, pending=True) - (
            settled_accounts(book, definition, starts, known)
        )
    assert {"W", "V"} <= used  # open onboarding advanced from the range, not re-evaluated
    completed = whole["W"].completions["data_connected"]
    assert completed.done_on == date(2025, 5, 12)
    assert "(is 2)" in (completed.condition or "")


def test_a_changed_definition_or_a_late_event_starts_over_with_the_same_results(
    platform: Platform, build: Builder
) -> None:
    _open_onboarding(build)
    definition = build.definition
    day = date(2025, 5, 14)
    compute_lifecycle(platform, definition, day)
    book = load_book(platform, definition, day)
    tz = platform.settings.tz
    lake = lake_digest(committed_parts(LakeLayout(platform.settings.lake_dir)), day, tz)
    state_digest = fingerprint(book, definition, lake, day)
    assert advances_from(platform.settings.home, day, state_digest)
    # an edited definition: the run through ``day`` no longer counts as built on
    edited = definition.model_copy(
        update={
            "stages": (
                definition.stages[0].model_copy(update={"name": "Lost"}),
                *definition.stages[1:],
            )
        }
    )
    assert fingerprint(book, edited, lake, day) != state_digest
    # a late event for a day already evaluated changes the roll-up's chain hash
    build.event("V", "onboarding_data_connected", date(2025, 4, 30), "V-u9")
    build.flush_events()
    late = load_book(platform, definition, END)
    parts = committed_parts(LakeLayout(platform.settings.lake_dir))
    assert fingerprint(late, definition, lake_digest(parts, day, tz), day) != state_digest
    # the next day's events landing do not
    assert lake_digest(parts, day - timedelta(days=20), tz) == lake_digest(
        [p for p in parts if p.event_date <= day - timedelta(days=20)], day - timedelta(days=20), tz
    )
    # starts over: every account from its contract start
    assert compute_lifecycle(platform, definition, END).advanced == 0
    advanced = (stored_transitions(platform), _completions(platform))
    _reset(platform)
    compute_lifecycle(platform, definition, END)
    assert (stored_transitions(platform), _completions(platform)) == advanced


def test_a_run_killed_before_its_state_was_recorded_resumes_with_the_same_results(
    platform: Platform, build: Builder
) -> None:
    _open_onboarding(build)
    definition = build.definition
    days = [date(2025, 3, 31), date(2025, 4, 30), date(2025, 5, 13), END]
    runs = [compute_lifecycle(platform, definition, day) for day in days[:-1]]
    assert [r.advanced for r in runs] == [0, 5, 5]  # after the first: all five accounts
    # killed after the store's commit, before the state file was replaced
    (platform.settings.home / STATE_FILE).unlink()
    assert compute_lifecycle(platform, definition, END).advanced == 0
    resumed = (stored_transitions(platform), _completions(platform))
    _reset(platform)
    for day in days:
        compute_lifecycle(platform, definition, day)
    assert (stored_transitions(platform), _completions(platform)) == resumed
    _reset(platform)
    compute_lifecycle(platform, definition, END)
    assert (stored_transitions(platform), _completions(platform)) == resumed


def _completions(platform: Platform) -> list[tuple[object, ...]]:
    with platform.store.session() as s:
        return sorted(
            tuple(r)
            for r in s.execute(
                sa.select(
                    MilestoneCompletion.account_id,
                    MilestoneCompletion.milestone_id,
                    MilestoneCompletion.source,
                    MilestoneCompletion.completed_on,
                    MilestoneCompletion.condition,
                )
            )
        )


def _reset(platform: Platform) -> None:
    """Forget every lifecycle run (the next one evaluates from each contract start)."""
    with platform.store.session() as s:
        s.execute(sa.delete(LifecycleRun))
        s.execute(sa.delete(StageTransition))
        s.execute(
            sa.delete(MilestoneCompletion).where(
                MilestoneCompletion.source == CompletionSource.AUTOMATIC
            )
        )
    (platform.settings.home / STATE_FILE).unlink(missing_ok=True)
