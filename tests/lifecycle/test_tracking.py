"""Onboarding tracking start, and the columnar evaluation against the day-by-day reference."""

from __future__ import annotations

import contextlib
import random
from datetime import date, timedelta

import pytest
from tests.lifecycle.conftest import MILESTONES, Builder

from kizuna.errors import InvalidInput
from kizuna.lifecycle import (
    compute_lifecycle,
    onboarding_report,
    parse_definition,
    show_account,
    stored_transitions,
    tracking_start,
)
from kizuna.lifecycle.reference import reference_evaluate
from kizuna.lifecycle.stages import evaluate_accounts
from kizuna.platform import Platform

AS_OF = date(2025, 6, 30)


def test_customers_live_before_the_lake_began_count_as_onboarded(
    platform: Platform, build: Builder
) -> None:
    build = Builder(platform, tracking_started=None)  # the shipped default: the lake decides
    build.account("legacy", lines=((date(2024, 1, 1), date(2025, 12, 31), 1000),))
    build.account("fresh", lines=((date(2025, 3, 1), date(2026, 2, 28), 1000),))
    build.logins("fresh", date(2025, 2, 1), [1])  # the lake's first event: tracking began
    build.flush_events()
    assert tracking_start(platform, build.definition) == date(2025, 2, 1)

    compute_lifecycle(platform, build.definition, AS_OF)
    history = stored_transitions(platform)
    # no milestone can be overdue for a customer who was live before tracking began
    assert [(t.date, t.to_stage, t.reason) for t in history["legacy"]] == [
        (date(2024, 1, 1), "adoption", "no earlier stage's entry rule held")
    ]
    # fresh (smb, test schedule 7/14/21/30/45): kick-off due 03-08 and metrics due 03-15 missed
    assert [(t.date, t.to_stage, t.reason) for t in history["fresh"]] == [
        (date(2025, 3, 1), "onboarding", "onboarding_complete = false (is false)"),
        (date(2025, 3, 16), "at_risk", "overdue_milestones >= 2 (is 2)"),
    ]
    legacy = show_account(platform, build.definition, "legacy", AS_OF)
    assert (legacy.onboarding_tracked, legacy.milestones, legacy.time_to_value_days) == (
        False,
        [],
        None,
    )
    fresh = show_account(platform, build.definition, "fresh", AS_OF)
    assert fresh.onboarding_tracked is True
    assert [(m.id, m.due, m.status) for m in fresh.milestones] == [
        ("kickoff_held", date(2025, 3, 8), "overdue"),
        ("success_metrics_agreed", date(2025, 3, 15), "overdue"),
        ("data_connected", date(2025, 3, 22), "overdue"),
        ("first_users_active", date(2025, 3, 31), "overdue"),
        ("first_value", date(2025, 4, 15), "overdue"),
    ]

    report = onboarding_report(platform, build.definition, date(2024, 1, 1), AS_OF, AS_OF)
    assert (report.tracking_started, report.untracked_accounts) == (date(2025, 2, 1), 1)
    assert [a.account_id for a in report.accounts] == ["fresh"]

    with pytest.raises(InvalidInput) as err:
        build.complete("legacy", "kickoff_held", date(2024, 1, 5))
    assert err.value.problems[0].message == (
        "onboarding is not tracked for legacy: it became a customer on 2024-01-01, before "
        "tracking began on 2025-02-01, so it counts as onboarded"
    )


def test_tracking_started_in_the_definition_overrides_the_lake(
    platform: Platform, build: Builder
) -> None:
    build = Builder(platform, tracking_started=date(2023, 6, 1))
    build.account("legacy", lines=((date(2024, 1, 1), date(2025, 12, 31), 1000),))
    build.logins("legacy", date(2025, 2, 1), [1])
    build.flush_events()
    compute_lifecycle(platform, build.definition, AS_OF)
    # tracked: its onboarding never happened (kick-off due 01-08, metrics due 01-15: two
    # overdue from 01-16)
    assert [(t.date, t.to_stage) for t in stored_transitions(platform)["legacy"]] == [
        (date(2024, 1, 1), "onboarding"),
        (date(2024, 1, 16), "at_risk"),
    ]


def test_circular_milestones_are_refused() -> None:
    data = {
        "stages": [{"id": "adoption", "name": "Adoption"}],
        "onboarding": {
            "templates": [
                {
                    "segments": ["*"],
                    "milestones": [
                        {
                            "id": "a",
                            "name": "A",
                            "due_days": 1,
                            "owner": "vendor",
                            "activation": True,
                            "complete_when": {"all": [{"milestone": "b", "done": True}]},
                        },
                        {
                            "id": "b",
                            "name": "B",
                            "due_days": 2,
                            "owner": "vendor",
                            "first_value": True,
                            "complete_when": {"all": [{"milestone": "a", "done": True}]},
                        },
                    ],
                }
            ]
        },
    }
    with pytest.raises(InvalidInput) as err:
        parse_definition(data)
    assert [p.message for p in err.value.problems] == [
        "milestones depend on each other in a circle: a -> b -> a"
    ]


#: Every kind of subject and comparison, milestones reading each other both ways.
RICH = {
    "stages": [
        {
            "id": "churned",
            "name": "Churned",
            "entry": {"all": [{"fact": "has_contract", "eq": False}]},
        },
        {
            "id": "at_risk",
            "name": "At risk",
            "entry": {
                "any": [
                    {"health": "band", "in": ["red"]},
                    {"health": "score", "lt": 30},
                    {"metric": "logins_7d", "lt": 2},
                    {"fact": "overdue_milestones", "gte": 2},
                ]
            },
        },
        {
            "id": "onboarding",
            "name": "Onboarding",
            "entry": {"all": [{"fact": "onboarding_complete", "eq": False}]},
        },
        {
            "id": "renewal",
            "name": "Renewal",
            "entry": {
                "all": [
                    {"fact": "days_to_renewal", "lte": 60},
                    {"health": "band", "ne": "red"},
                ]
            },
        },
        {
            "id": "expansion",
            "name": "Expansion",
            "entry": {
                "any": [
                    {"fact": "arr_growth", "gt": 0.1},
                    {"fact": "arr", "gte": 2500},
                ]
            },
        },
        {
            "id": "value_realised",
            "name": "Value realised",
            "entry": {
                "all": [
                    {"fact": "days_since_first_value", "gte": 20},
                    {
                        "events": {
                            "names": ["login"],
                            "measure": "distinct_users",
                            "window_days": 14,
                        },
                        "gte": 3,
                    },
                    {"fact": "milestones_done", "eq": 4},
                ]
            },
        },
        {
            "id": "engaged",
            "name": "Engaged",
            "entry": {
                "all": [
                    {"events": {"names": ["login", "report"], "window_days": 5}, "gte": 4},
                    {"fact": "days_since_contract_start", "gt": 40},
                ]
            },
        },
        {"id": "adoption", "name": "Adoption"},
    ],
    "onboarding": {
        "templates": [
            {
                "segments": ["*"],
                "milestones": [
                    {
                        "id": "kickoff",
                        "name": "Kick-off",
                        "due_days": 5,
                        "owner": "vendor",
                        "complete_when": {
                            "any": [
                                {
                                    "activity": {"kind": "meeting", "text_contains": "KICK"},
                                    "gte": 1,
                                },
                                {"milestone": "connected", "done": True},
                            ]
                        },
                    },
                    {
                        "id": "connected",
                        "name": "Connected",
                        "due_days": 15,
                        "owner": "customer",
                        "activation": True,
                        "complete_when": {"all": [{"events": {"names": ["connect"]}, "gte": 1}]},
                    },
                    {
                        "id": "users",
                        "name": "Users",
                        "due_days": 25,
                        "owner": "customer",
                        "complete_when": {
                            "all": [
                                {
                                    "events": {"names": ["login"], "measure": "distinct_users"},
                                    "gte": 4,
                                },
                                {"milestone": "kickoff", "done": True},
                            ]
                        },
                    },
                    {
                        "id": "value",
                        "name": "Value",
                        "due_days": 40,
                        "owner": "customer",
                        "first_value": True,
                        "complete_when": {
                            "all": [
                                {"events": {"names": ["report"], "window_days": 10}, "gte": 3},
                                {"fact": "days_since_contract_start", "gte": 10},
                            ]
                        },
                    },
                    {
                        "id": "steady",
                        "name": "Steady",
                        "due_days": 70,
                        "owner": "customer",
                        "complete_when": {"all": [{"fact": "days_since_first_value", "gte": 15}]},
                    },
                ],
            }
        ]
    },
}


def _random_book(build: Builder, seed: int) -> None:
    rng = random.Random(seed)
    base = date(2025, 1, 1)
    manual: list[tuple[str, str, date]] = []
    for n in range(14):
        account_id = f"R{n:02d}"
        start = base + timedelta(days=rng.randint(-120, 120))
        lines = [
            (start, start + timedelta(days=rng.randint(60, 300)), rng.choice([1000, 1500.5, 900]))
        ]
        if rng.random() < 0.5:
            extra = start + timedelta(days=rng.randint(0, 100))
            lines.append(
                (extra, extra + timedelta(days=rng.randint(30, 200)), rng.choice([300, 0.1, 1100]))
            )
        build.account(account_id, rng.choice(["smb", "enterprise"]), lines=tuple(lines))
        for _ in range(rng.randint(0, 160)):
            day = start + timedelta(days=rng.randint(-20, 200))
            if day < base - timedelta(days=60):
                continue  # the lake begins 60 days after the first contracts: some untracked
            event = rng.choice(["login", "login", "login", "report", "report", "connect"])
            user = rng.choice([None, *[f"{account_id}-u{u}" for u in range(6)]])
            build.event(account_id, event, day, user)
        if rng.random() < 0.6:
            text = rng.choice(["Kick-off call", "kick-off", "weekly sync"])
            build.activity(account_id, start + timedelta(days=rng.randint(0, 20)), text)
        if rng.random() < 0.4:
            manual.append(
                (account_id, rng.choice(MILESTONES), start + timedelta(rng.randint(-3, 30)))
            )
        for k in range(rng.randint(0, 3)):
            snap = start + timedelta(days=rng.randint(0, 150))
            build.health(snap, {account_id: rng.choice(["red", "green", "green", "yellow"])})
            build.metric(snap, "logins_7d", {account_id: float(rng.randint(0, 5))})
            del k
    build.flush_events()
    for account_id, milestone, day in manual:
        with contextlib.suppress(InvalidInput):  # a customer before tracking began
            build.complete(account_id, milestone, day)


@pytest.mark.parametrize("seed", [1, 2])
def test_columnar_evaluation_equals_the_day_by_day_reference(
    platform: Platform, build: Builder, seed: int
) -> None:
    build = Builder(platform, tracking_started=None)
    _random_book(build, seed)
    for definition in (build.definition, parse_definition(RICH)):
        # the default journey's milestone ids are unknown to RICH: completions are its own
        got = evaluate_accounts(platform, definition, AS_OF)
        want = reference_evaluate(platform, definition, AS_OF)
        assert list(got) == list(want)
        for account_id, res in want.items():
            assert got[account_id].schedule == res.schedule, account_id
            assert got[account_id].completions == res.completions, account_id
            assert got[account_id].transitions == res.transitions, account_id
