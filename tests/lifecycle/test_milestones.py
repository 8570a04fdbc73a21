"""Automatic milestone completion and overdue detection on hand-built accounts."""

from __future__ import annotations

from datetime import date

from tests.lifecycle.conftest import Builder

from kizuna.lifecycle import MilestoneStatus, show_account
from kizuna.platform import Platform

AS_OF = date(2025, 6, 30)


def test_milestones_complete_automatically_from_activities_and_events(
    platform: Platform, build: Builder
) -> None:
    build.account("auto", "smb", lines=((date(2025, 3, 1), date(2026, 2, 28), 1000),))
    build.activity("auto", date(2025, 3, 2), "Kick-off meeting with the customer")
    build.event("auto", "onboarding_kickoff", date(2025, 3, 3), "auto-u0")
    build.event("auto", "onboarding_data_connected", date(2025, 3, 20), "auto-u0")
    build.logins("auto", date(2025, 3, 30), [1, 2])
    build.logins("auto", date(2025, 4, 6), [3])  # window 03-31..04-06 holds one user
    build.logins("auto", date(2025, 4, 10), [1, 2])  # window 04-04..04-10 holds three
    build.flush_events()

    shown = show_account(platform, build.definition, "auto", AS_OF)

    def status(**kw: object) -> MilestoneStatus:
        base: dict[str, object] = {
            "source": "automatic",
            "completed_by": None,
            "first_value": False,
            "activation": False,
            "overdue": False,
        }
        return MilestoneStatus(**{**base, **kw})  # type: ignore[arg-type]

    assert shown.milestones == [
        status(
            id="kickoff_held",
            name="Kick-off held",
            owner="vendor",
            due=date(2025, 3, 8),
            done=date(2025, 3, 2),
            status="done",
            days_late=0,
            condition="activities meeting 'kick-off' (since start) >= 1 (is 1)",
        ),
        status(
            id="success_metrics_agreed",
            name="Success metrics and baselines agreed",
            owner="vendor",
            due=date(2025, 3, 15),
            done=date(2025, 3, 3),
            status="done",
            days_late=0,
            condition="count of onboarding_kickoff (since start) >= 1 (is 1)",
        ),
        status(
            id="data_connected",
            name="Data connected",
            owner="customer",
            due=date(2025, 3, 22),
            done=date(2025, 3, 20),
            status="done",
            days_late=0,
            condition="count of onboarding_data_connected (since start) >= 1 (is 1)",
        ),
        status(
            id="first_users_active",
            name="First users active",
            owner="customer",
            due=date(2025, 3, 31),
            done=date(2025, 4, 10),
            status="done_late",
            days_late=10,
            condition="distinct_users of login (7d) >= 3 (is 3)",
            activation=True,
        ),
        status(
            id="first_value",
            name="First value reached",
            owner="customer",
            due=date(2025, 4, 15),
            done=None,
            status="overdue",
            overdue=True,
            days_late=76,
            source=None,
            condition=None,
            first_value=True,
        ),
    ]
    assert shown.time_to_value_days is None


def test_ten_active_users_within_seven_days_closes_first_users_active(
    platform: Platform, build: Builder
) -> None:
    start = date(2025, 3, 1)
    for account_id, second_day in (("ent-a", date(2025, 4, 7)), ("ent-b", date(2025, 4, 8))):
        build.account(account_id, "enterprise", lines=((start, date(2026, 2, 28), 50_000),))
        build.logins(account_id, date(2025, 4, 1), range(6))
        build.logins(account_id, second_day, range(6, 10))
    build.flush_events()

    def first_users(account_id: str) -> tuple[date | None, str]:
        shown = show_account(platform, build.definition, account_id, AS_OF)
        m = next(m for m in shown.milestones if m.id == "first_users_active")
        return m.done, m.status

    # 04-01..04-07 is seven days: ten users; 04-02..04-08 holds only four of them
    assert first_users("ent-a") == (date(2025, 4, 7), "done")
    assert first_users("ent-b") == (None, "overdue")  # enterprise: due 60 days after start


def test_a_milestone_is_overdue_from_the_day_after_its_due_date(
    platform: Platform, build: Builder
) -> None:
    build.account("late", "smb", lines=((date(2025, 6, 1), date(2026, 5, 31), 1000),))
    build.complete("late", "kickoff_held", date(2025, 6, 10), by="Aiko Sato")

    def view(day: date) -> list[tuple[str, str, int | None]]:
        shown = show_account(platform, build.definition, "late", day)
        return [(m.id, m.status, m.days_late) for m in shown.milestones]

    assert view(date(2025, 6, 8)) == [  # kick-off due 06-08, done 06-10: open on its due day
        ("kickoff_held", "open", None),
        ("success_metrics_agreed", "open", None),
        ("data_connected", "open", None),
        ("first_users_active", "open", None),
        ("first_value", "open", None),
    ]
    assert view(date(2025, 6, 16)) == [
        ("kickoff_held", "done_late", 2),
        ("success_metrics_agreed", "overdue", 1),
        ("data_connected", "open", None),
        ("first_users_active", "open", None),
        ("first_value", "open", None),
    ]
    shown = show_account(platform, build.definition, "late", date(2025, 6, 16))
    kickoff = shown.milestones[0]
    assert (kickoff.source, kickoff.completed_by) == ("manual", "Aiko Sato")


def test_manual_completion_before_the_condition_wins(platform: Platform, build: Builder) -> None:
    build.account("both", "smb", lines=((date(2025, 3, 1), date(2026, 2, 28), 1000),))
    build.event("both", "onboarding_data_connected", date(2025, 3, 20), "both-u0")
    build.flush_events()
    build.complete("both", "data_connected", date(2025, 3, 12), by="csm-7")
    shown = show_account(platform, build.definition, "both", AS_OF)
    data = next(m for m in shown.milestones if m.id == "data_connected")
    assert (data.done, data.source, data.completed_by) == (date(2025, 3, 12), "manual", "csm-7")
