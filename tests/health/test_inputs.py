"""Every source kind as of a date: only data known that day counts; window edges hold."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from tests.health.conftest import AS_OF

from kizuna.health.inputs import gather_inputs, source_key
from kizuna.health.scorecard import Scorecard, ScorecardSet
from kizuna.platform import Platform
from kizuna.settings import Settings

SOURCES = {
    "logins": {"kind": "metric", "metric": "logins_28d"},
    "open_urgent": {"kind": "tickets", "fact": "open"},
    "opened_urgent_90d": {"kind": "tickets", "fact": "opened", "window_days": 90},
    "days_to_resolve": {
        "kind": "tickets",
        "fact": "mean_days_to_resolve",
        "priorities": ["low", "normal", "high", "urgent"],
    },
    "ticket_csat": {
        "kind": "tickets",
        "fact": "mean_csat",
        "priorities": ["low", "normal", "high", "urgent"],
    },
    "nps": {"kind": "survey", "survey": "nps", "aggregate": "nps", "window_days": 365},
    "nps_count": {"kind": "survey", "survey": "nps", "aggregate": "count", "window_days": 365},
    "csat": {"kind": "survey", "survey": "csat", "aggregate": "mean"},
    "sentiment": {"kind": "manual_sentiment"},
    "days_to_renewal": {"kind": "contract", "fact": "days_to_renewal"},
    "arr": {"kind": "contract", "fact": "arr"},
    "seats": {"kind": "contract", "fact": "seats"},
    "tenure": {"kind": "contract", "fact": "tenure_days"},
    "fit": {
        "kind": "fit",
        "criteria": [
            {"field": "industry", "in": ["software"]},
            {"field": "attributes.employees", "min": 50},
        ],
    },
}

CARD = Scorecard.model_validate(
    {
        "name": "all_sources",
        "groups": [
            {
                "name": "everything",
                "weight": 1,
                "measures": [
                    {
                        "name": name,
                        "weight": 1,
                        "source": source,
                        "scoring": {"scheme": "linear", "worst": 0, "best": 1},
                    }
                    for name, source in SOURCES.items()
                ],
            }
        ],
    }
)

N = None
# accounts in scope, sorted: A1, A2, C1, C2, P   (X churned, F not created yet)
EXPECTED = {
    "logins": [15, 5, 20, 2, N],
    # T1 open; T2 closed only after the date; T3 closed; T4 low; T5 opened after the date
    "open_urgent": [2, 0, 0, 0, 0],
    "opened_urgent_90d": [3, 0, 0, 0, 0],
    # A1: T3 took 10 days; A2: T7 1 day, T8 2 days; T6 closed before the 90-day window
    "days_to_resolve": [10, 1.5, N, N, N],
    "ticket_csat": [4, 3.5, N, N, N],
    # A1 answers in the window: 10 (23:59:59 on the date), 9, 3 -> 2/3 - 1/3
    "nps": [100 / 3, N, N, N, N],
    "nps_count": [3, 0, 0, 0, 0],
    "csat": [N, 3, N, N, N],
    # A1: newest entry expired the day before, the older one still counts;
    # A2's is entered after the date; C1's expires on the date itself (still counts)
    "sentiment": [4, N, 3, N, N],
    "days_to_renewal": [184, 243, 0, 335, N],
    "arr": [12000, 6000, 30000, 10000, N],  # the cancelled line does not count
    "seats": [10, 5, N, 20, N],
    "tenure": [180, 121, 364, 29, N],
    # C2's employee count is not a number: unknown, not a miss; P meets industry only
    "fit": [1, 0, 1, N, 1],
}


def _values(inputs, name: str) -> list[float | None]:  # type: ignore[no-untyped-def]
    raw = inputs.values[source_key(CARD.measures[list(SOURCES).index(name)][1].source)]
    return [None if math.isnan(v) else round(float(v), 9) for v in raw]


def test_every_source_as_of_the_date(customer_base: Platform) -> None:
    inputs = gather_inputs(customer_base, AS_OF, ScorecardSet(scorecards=(CARD,)))
    assert list(inputs.accounts.ids) == ["A1", "A2", "C1", "C2", "P"]
    assert list(inputs.accounts.arr) == [12000, 6000, 30000, 10000, 0]
    got = {name: _values(inputs, name) for name in SOURCES}
    expected = {
        name: [None if v is None else round(float(v), 9) for v in values]
        for name, values in EXPECTED.items()
    }
    assert got == expected
    assert inputs.notes == []


def test_business_timezone_decides_the_day(customer_base: Platform) -> None:
    # 2025-06-30T23:59:59Z is already 1 July in Tokyo: that NPS answer no longer counts,
    # and the Tokyo day of 30 June ends at 15:00 UTC.
    tokyo = Platform(
        settings=Settings(
            home=customer_base.settings.home,
            database_url=customer_base.store.url,
            timezone="Asia/Tokyo",
        ),
        store=customer_base.store,
        clock=customer_base.clock,
    )
    inputs = gather_inputs(tokyo, AS_OF, ScorecardSet(scorecards=(CARD,)))
    assert _values(inputs, "nps")[0] == 0.0  # 9 and 3: one promoter, one detractor
    assert _values(inputs, "nps_count")[0] == 2


def test_missing_metric_values_are_a_note_not_an_error(customer_base: Platform) -> None:
    day = date(2025, 6, 1)
    inputs = gather_inputs(customer_base, day, ScorecardSet(scorecards=(CARD,)))
    assert np.isnan(inputs.values[source_key(CARD.measures[0][1].source)]).all()
    assert inputs.notes == [
        "no metric values computed as of 2025-06-01: run 'kizuna metrics compute "
        "--as-of 2025-06-01'; metric measures count as missing"
    ]


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_sources_have_a_stable_key(name: str) -> None:
    source = CARD.measures[list(SOURCES).index(name)][1].source
    assert source_key(source) == source_key(type(source).model_validate(SOURCES[name]))


def test_a_book_without_any_parent_account(customer_base: Platform) -> None:
    from kizuna.store.models import Account

    # pandas 3 hands out read-only arrays for all-null columns: this used to crash
    with customer_base.store.session() as s:
        for child in ("C1", "C2"):
            s.get(Account, child).parent_id = None  # type: ignore[union-attr]
    inputs = gather_inputs(customer_base, AS_OF, ScorecardSet(scorecards=(CARD,)))
    assert list(inputs.accounts.ids) == ["A1", "A2", "C1", "C2", "P"]
    assert list(inputs.accounts.parent_ids) == [None] * 5
