"""Time to value, activation rate and on-time rate, computed by hand."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from tests.lifecycle.conftest import Builder

from kizuna.errors import InvalidInput
from kizuna.lifecycle import onboarding_report, time_to_value
from kizuna.lifecycle.onboarding import OnboardingSummary, Rate, TimeToValue
from kizuna.platform import Platform

JAN_1 = date(2025, 1, 1)


def _day(n: int) -> date:
    return JAN_1 + timedelta(days=n)


def test_onboarding_report_by_hand(platform: Platform, build: Builder) -> None:
    year = (JAN_1, date(2025, 12, 31), 1000)
    # days after contract start: kickoff, metrics, data, first users (activation), first value
    plans = {
        "A": (1, 1, 3, 5, 10),  # finished day 10: on time (planned day 45)
        "B": (1, 1, 4, 25, 20),  # finished day 25: on time
        "C": (1, 1, 50, 35, 40),  # finished day 50: late; activated after the 30-day window
        "D": (2, None, None, None, None),  # never finishes
    }
    for account_id, days in plans.items():
        build.account(account_id, "smb", lines=(year,))
        for milestone, n in zip(
            (
                "kickoff_held",
                "success_metrics_agreed",
                "data_connected",
                "first_users_active",
                "first_value",
            ),
            days,
            strict=True,
        ):
            if n is not None:
                build.complete(account_id, milestone, _day(n))
    build.account("E", "enterprise", lines=((date(2025, 6, 20), date(2026, 6, 19), 9000),))
    build.account("F", "smb", lines=((date(2024, 12, 15), date(2025, 12, 14), 1000),))

    report = onboarding_report(
        platform, build.definition, JAN_1, date(2025, 6, 30), date(2025, 6, 30)
    )

    smb = OnboardingSummary(
        accounts=4,
        # reached 10, 20, 40: median 20; quartiles interpolate 10..20 and 20..40
        time_to_value=TimeToValue(3, 1, 20.0, 15.0, 30.0, 10, 40),
        activation=Rate(eligible=4, hits=2, rate=0.5),  # A day 5, B day 25; C day 35; D never
        on_time=Rate(eligible=4, hits=2, rate=0.5),  # A, B on time; C late; D never
    )
    # E started 06-20: activation window and planned date still open, so not counted
    enterprise = OnboardingSummary(
        accounts=1,
        time_to_value=TimeToValue(0, 1, None, None, None, None, None),
        activation=Rate(0, 0, None),
        on_time=Rate(0, 0, None),
    )
    assert report.overall == OnboardingSummary(
        accounts=5,
        time_to_value=TimeToValue(3, 2, 20.0, 15.0, 30.0, 10, 40),
        activation=Rate(4, 2, 0.5),
        on_time=Rate(4, 2, 0.5),
    )
    assert report.by_segment == {"enterprise": enterprise, "smb": smb}
    assert report.by_cohort == {"2025-01": smb, "2025-06": enterprise}
    assert [
        (a.account_id, a.time_to_value_days, a.activated_in_window, a.finished_on, a.on_time)
        for a in report.accounts
    ] == [
        ("A", 10, True, _day(10), True),
        ("B", 20, True, _day(25), True),
        ("C", 40, False, _day(50), False),
        ("D", None, False, None, False),
        ("E", None, None, None, None),
    ]


def test_time_to_value_of_one_and_of_none() -> None:
    assert time_to_value([12], 0) == TimeToValue(1, 0, 12.0, 12.0, 12.0, 12, 12)
    assert time_to_value([], 3) == TimeToValue(0, 3, None, None, None, None, None)
    assert time_to_value([1, 2, 3, 4], 0) == TimeToValue(4, 0, 2.5, 1.75, 3.25, 1, 4)


def test_report_period_problems_are_all_reported(platform: Platform, build: Builder) -> None:
    with pytest.raises(InvalidInput) as err:
        onboarding_report(
            platform, build.definition, date(2025, 6, 1), date(2025, 1, 1), date(2025, 5, 1)
        )
    assert [p.field for p in err.value.problems] == ["to", "as_of"]
