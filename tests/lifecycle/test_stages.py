"""Each stage rule of the default journey on hand-built accounts (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
from datetime import date

from tests.lifecycle.conftest import Builder

from kizuna.lifecycle import compute_lifecycle, show_account, stored_transitions
from kizuna.platform import Platform

AS_OF = date(2025, 6, 30)
YEAR_2025 = (date(2025, 1, 1), date(2025, 12, 31), 1000)


def _stages(platform: Platform, build: Builder) -> dict[str, tuple[str, str]]:
    compute_lifecycle(platform, build.definition, AS_OF)
    out = {}
    for account_id, history in stored_transitions(platform).items():
        out[account_id] = (history[-1].to_stage, history[-1].reason)
    return out


def test_each_stage_rule_of_the_default_journey(platform: Platform, build: Builder) -> None:
    build.account("churned", lines=((date(2024, 1, 1), date(2024, 12, 31), 1000),))
    build.complete_all("churned", date(2024, 1, 20))

    build.account("red", lines=(YEAR_2025,))
    build.complete_all("red", date(2025, 1, 20))
    build.health(date(2025, 6, 29), {"red": "red", "green": "green"})

    # smb due offsets 7/14/21/30/45 days: two overdue on 05-16, the day it turns at risk
    build.account("slipping", lines=((date(2025, 5, 1), date(2026, 4, 30), 1000),))

    build.account("new", lines=((date(2025, 6, 25), date(2026, 6, 24), 1000),))

    build.account("renewing", lines=((date(2024, 8, 1), date(2025, 7, 31), 1000),))
    build.complete_all("renewing", date(2024, 8, 20))

    build.account("growing", lines=(YEAR_2025, (date(2025, 4, 1), date(2025, 12, 31), 500)))
    build.complete_all("growing", date(2025, 1, 20))

    build.account("green", lines=(YEAR_2025,))
    build.complete_all("green", date(2025, 2, 1))
    build.logins("green", date(2025, 6, 20), range(10))

    build.account("adopting", lines=(YEAR_2025,))
    build.complete_all("adopting", date(2025, 2, 1))
    build.logins("adopting", date(2025, 6, 20), range(9))
    build.logins("adopting", date(2025, 5, 1), range(9, 20))  # outside the 28-day window

    build.account("prospect", lines=((date(2025, 7, 15), date(2026, 7, 14), 1000),))
    build.flush_events()

    assert _stages(platform, build) == {
        "churned": ("churned", "was_customer = true (is true); has_contract = false (is false)"),
        "red": ("at_risk", "health band in [red] (is red)"),
        "slipping": ("at_risk", "overdue_milestones >= 2 (is 2)"),
        "new": ("onboarding", "onboarding_complete = false (is false)"),
        "renewing": ("renewal", "days_to_renewal <= 90 (is 90)"),
        "growing": ("expansion", "arr_growth > 0 (is 0.5)"),
        "green": (
            "value_realised",
            "days_since_first_value >= 30 (is 139); distinct_users of login (28d) >= 10 (is 10)",
        ),
        "adopting": ("adoption", "no earlier stage's entry rule held"),
    }


def test_show_reports_stage_since_time_in_stage_and_history(
    platform: Platform, build: Builder
) -> None:
    build.account("acme", lines=((date(2024, 8, 1), date(2025, 7, 31), 1000),))
    build.complete("acme", "kickoff_held", date(2024, 8, 5))
    build.complete("acme", "success_metrics_agreed", date(2024, 8, 5))
    build.complete("acme", "data_connected", date(2024, 8, 12))
    build.complete("acme", "first_users_active", date(2024, 8, 20))
    build.complete("acme", "first_value", date(2024, 9, 1))
    compute_lifecycle(platform, build.definition, AS_OF)

    shown = show_account(platform, build.definition, "acme", AS_OF)
    assert (shown.stage, shown.stage_name, shown.since, shown.days_in_stage) == (
        "renewal",
        "Renewal",
        date(2025, 5, 2),
        59,
    )
    assert [(t.date, t.from_stage, t.to_stage) for t in shown.history] == [
        (date(2024, 8, 1), None, "onboarding"),
        (date(2024, 9, 1), "onboarding", "adoption"),
        (date(2025, 5, 2), "adoption", "renewal"),  # 90 days before 2025-07-31
    ]
    assert shown.time_to_value_days == 31
    assert shown.onboarding_planned == date(2024, 9, 15)
    assert shown.onboarding_finished == date(2024, 9, 1)


def test_every_customer_has_exactly_one_stage_every_day(platform: Platform, build: Builder) -> None:
    build.account("a", lines=((date(2025, 1, 1), date(2025, 3, 31), 100),))
    build.account("b", lines=((date(2025, 2, 1), date(2026, 1, 31), 100),))
    build.complete_all("b", date(2025, 2, 3))
    compute_lifecycle(platform, build.definition, AS_OF)
    for history in stored_transitions(platform).values():
        days = [t.date for t in history]
        assert days == sorted(set(days))  # one transition per day at most
        assert all(t.from_stage != t.to_stage for t in history)
        assert all(a.to_stage == b.from_stage for a, b in itertools.pairwise(history))
