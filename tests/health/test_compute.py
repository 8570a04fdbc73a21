"""Health as of a date on the hand-built base: whole results, roll-up, trend, recompute."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from tests.health.conftest import AS_OF, write_metrics

from kizuna.health import (
    compute_health,
    explain_account,
    list_health,
    read_snapshot,
    roll_up,
)
from kizuna.health.scorecard import Scorecard, ScorecardSet
from kizuna.health.snapshots import snapshot_dates, snapshot_path
from kizuna.platform import Platform

CARD = Scorecard.model_validate(
    {
        "name": "hand",
        "groups": [
            {
                "name": "usage",
                "weight": 2,
                "measures": [
                    {
                        "name": "logins",
                        "weight": 1,
                        "source": {"kind": "metric", "metric": "logins_28d"},
                        "scoring": {"scheme": "linear", "worst": 0, "best": 20},
                    }
                ],
            },
            {
                "name": "support",
                "weight": 1,
                "measures": [
                    {
                        "name": "open_tickets",
                        "weight": 1,
                        "source": {"kind": "tickets", "fact": "open"},
                        "scoring": {"scheme": "thresholds", "cuts": [1, 3], "scores": [100, 50, 0]},
                    }
                ],
            },
            {
                "name": "voice",
                "weight": 1,
                "measures": [
                    {
                        "name": "nps",
                        "weight": 1,
                        "source": {"kind": "survey", "survey": "nps", "aggregate": "nps",
                                   "window_days": 365},
                        "scoring": {"scheme": "linear", "worst": -100, "best": 100},
                    },
                    {
                        "name": "csm",
                        "weight": 1,
                        "source": {"kind": "manual_sentiment"},
                        "scoring": {"scheme": "linear", "worst": 1, "best": 5},
                    },
                ],
            },
        ],
    }
)  # fmt: skip
CARDS = ScorecardSet(scorecards=(CARD,))


def _r(value: Any) -> Any:
    """Round floats (deeply) so hand-computed expectations compare exactly."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _r(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_r(v) for v in value]
    return value


def _measure(
    group: str,
    name: str,
    source: str,
    scheme: str,
    raw: float | None,
    score: float | None,
    weight: float,
    eff: float,
) -> dict[str, Any]:
    return {
        "group": group, "name": name, "source": source, "scheme": scheme, "raw_value": raw,
        "score": score, "weight": weight, "effective_weight": eff,
        "contribution": 0.0 if score is None else eff * score, "missing": score is None,
    }  # fmt: skip


def test_scores_of_the_hand_built_base(customer_base: Platform) -> None:
    run = compute_health(customer_base, AS_OF, CARDS)
    assert (run.accounts, run.scored, run.bands, run.notes) == (
        5,
        5,
        {"red": 1, "yellow": 2, "green": 2},
        [],
    )
    table = read_snapshot(customer_base.settings, AS_OF)
    assert table is not None
    rows = {r["account_id"]: r for r in table.to_pylist()}
    summary = {a: (r["method"], _r(r["score"]), r["band"], r["missing"]) for a, r in rows.items()}
    # A1: logins 15 -> 75; 2 open -> 50; NPS 33.3 -> 66.7, CSM 4 -> 75: voice 70.83
    #     score = (2*75 + 50 + 70.8333) / 4 = 67.7083
    # A2: no NPS, no sentiment: voice group skipped -> (2*25 + 100) / 3 = 50
    # C1: 100, 100, voice = CSM 3 -> 50: (200 + 100 + 50) / 4 = 87.5
    # C2: logins 2 -> 10: (20 + 100) / 3 = 40
    # P : roll-up of C1 (ARR 30k) and C2 (10k): 0.75 * 87.5 + 0.25 * 40 = 75.625
    assert summary == {
        "A1": ("scorecard", 67.708333, "yellow", []),
        "A2": ("scorecard", 50.0, "yellow", ["nps", "csm"]),
        "C1": ("scorecard", 87.5, "green", ["nps"]),
        "C2": ("scorecard", 40.0, "red", ["nps", "csm"]),
        "P": ("roll-up", 75.625, "green", []),
    }
    a1 = rows["A1"]
    assert _r(a1["groups"]) == [
        {"name": "usage", "weight": 2.0, "effective_weight": 0.5, "score": 75.0},
        {"name": "support", "weight": 1.0, "effective_weight": 0.25, "score": 50.0},
        {"name": "voice", "weight": 1.0, "effective_weight": 0.25, "score": 70.833333},
    ]
    assert _r(a1["measures"]) == _r(
        [
            _measure("usage", "logins", "metric", "linear", 15.0, 75.0, 1.0, 0.5),
            _measure("support", "open_tickets", "tickets", "thresholds", 2.0, 50.0, 1.0, 0.25),
            _measure("voice", "nps", "survey", "linear", 100 / 3, 200 / 3, 1.0, 0.125),
            _measure("voice", "csm", "manual_sentiment", "linear", 4.0, 75.0, 1.0, 0.125),
        ]
    )
    assert _r(rows["A2"]["measures"]) == _r(
        [
            _measure("usage", "logins", "metric", "linear", 5.0, 25.0, 1.0, 2 / 3),
            _measure("support", "open_tickets", "tickets", "thresholds", 0.0, 100.0, 1.0, 1 / 3),
            _measure("voice", "nps", "survey", "linear", None, None, 1.0, 0.0),
            _measure("voice", "csm", "manual_sentiment", "linear", None, None, 1.0, 0.0),
        ]
    )
    assert _r(rows["P"]["children"]) == [
        {"account_id": "C1", "arr": 30000.0, "effective_weight": 0.75, "score": 87.5,
         "contribution": 65.625},
        {"account_id": "C2", "arr": 10000.0, "effective_weight": 0.25, "score": 40.0,
         "contribution": 10.0},
    ]  # fmt: skip
    for row in rows.values():
        parts = row["children"] if row["method"] == "roll-up" else row["measures"]
        assert sum(p["contribution"] for p in parts) == pytest.approx(row["score"], abs=1e-9)


def test_roll_up_goes_bottom_up_and_weighs_by_subtree_arr() -> None:
    import numpy as np

    nan = float("nan")
    # G <- P1 <- (K1, K2); G <- K3; K4 has no score; P2 has only unscored K4
    ids = np.array(["G", "P1", "K1", "K2", "K3", "K4", "P2"], dtype=object)
    parents = np.array([None, "G", "P1", "P1", "G", "P2", None], dtype=object)
    arr = np.array([0, 0, 100, 300, 0, 50, 0], dtype=np.float64)
    scores = np.array([nan, nan, 80, 40, 90, nan, 99], dtype=np.float64)
    got = roll_up(ids, parents, arr, scores)
    assert sorted(got) == ["G", "P1"]  # P2's only child has no score: no roll-up
    assert got["P1"].score == pytest.approx(0.25 * 80 + 0.75 * 40)  # 50
    # G: P1 weighs its subtree ARR 400, K3 has ARR 0 -> P1 carries all of G
    assert got["G"].score == pytest.approx(50)
    assert [c["account_id"] for c in got["G"].children] == ["K3", "P1"]
    # no ARR at all among the scored children: equal weights
    flat = roll_up(
        np.array(["Q", "A", "B"], dtype=object),
        np.array([None, "Q", "Q"], dtype=object),
        np.zeros(3),
        np.array([nan, 60, 20], dtype=np.float64),
    )
    assert flat["Q"].score == pytest.approx(40)


def test_trend_explains_the_change_with_top_movers(customer_base: Platform) -> None:
    earlier = date(2025, 6, 23)
    write_metrics(customer_base.settings, earlier, {"logins_28d": {"A1": 19, "A2": 5}})
    compute_health(customer_base, earlier, CARDS)
    compute_health(customer_base, AS_OF, CARDS)
    got = explain_account(customer_base.settings, "A1")
    assert got["as_of"] == AS_OF
    # On 23 June: logins 19 -> 95; 2 open -> 50; NPS of 9, 3 and 5 (inside 365 days
    # then) = -33.3 -> 33.3; CSM 2 (not expired yet) -> 25: score 67.2917.
    # Contributions then -> now: logins 47.5 -> 37.5, nps 4.1667 -> 8.3333,
    # csm 3.125 -> 9.375, tickets 12.5 -> 12.5.
    assert _r(got["trend"]) == {
        "7d": {
            "as_of": earlier,
            "score": 67.291667,
            "change": 0.416667,
            "top_movers": [
                {"measure": "usage.logins", "group": "usage", "was": 47.5, "now": 37.5,
                 "change": -10.0},
                {"measure": "voice.csm", "group": "voice", "was": 3.125, "now": 9.375,
                 "change": 6.25},
                {"measure": "voice.nps", "group": "voice", "was": 4.166667, "now": 8.333333,
                 "change": 4.166667},
            ],
        },
        "30d": {"as_of": date(2025, 5, 31), "score": None, "change": None, "top_movers": []},
    }  # fmt: skip
    assert _r(got["history"]) == [
        {"as_of": earlier, "score": 67.291667, "band": "yellow"},
        {"as_of": AS_OF, "score": 67.708333, "band": "yellow"},
    ]
    assert (got["score"], got["band"], got["scorecard"]) == (
        pytest.approx(67.708333),
        "yellow",
        "hand",
    )
    # the roll-up explains itself by its children
    parent = explain_account(customer_base.settings, "P", AS_OF)
    assert parent["method"] == "roll-up" and parent["measures"] == []
    assert [c["account_id"] for c in parent["children"]] == ["C1", "C2"]


def test_list_by_band_with_changes(customer_base: Platform) -> None:
    earlier = date(2025, 6, 23)
    write_metrics(customer_base.settings, earlier, {"logins_28d": {"A1": 19, "A2": 5}})
    compute_health(customer_base, earlier, CARDS)
    compute_health(customer_base, AS_OF, CARDS)
    got = _r(list_health(customer_base.settings, band="yellow"))
    assert got == {
        "as_of": AS_OF,
        "band": "yellow",
        "segment": None,
        "count": 2,
        "accounts": [
            {"account_id": "A2", "name": "Beta", "segment": "smb", "scorecard": "hand",
             "method": "scorecard", "arr": 6000.0, "score": 50.0, "band": "yellow",
             "missing": ["nps", "csm"], "change_7d": 0.0, "change_30d": None},
            {"account_id": "A1", "name": "Alpha", "segment": "smb", "scorecard": "hand",
             "method": "scorecard", "arr": 12000.0, "score": 67.708333, "band": "yellow",
             "missing": [], "change_7d": 0.416667, "change_30d": None},
        ],
    }  # fmt: skip
    assert [r["account_id"] for r in list_health(customer_base.settings)["accounts"]] == [
        "C2",
        "A2",
        "A1",
        "P",
        "C1",
    ]


def test_recomputing_a_date_replaces_its_snapshot(customer_base: Platform) -> None:
    compute_health(customer_base, AS_OF, CARDS)
    write_metrics(customer_base.settings, AS_OF, {"logins_28d": {"A1": 20}})
    compute_health(customer_base, AS_OF, CARDS)
    assert snapshot_dates(customer_base.settings) == [AS_OF]
    folder = snapshot_path(customer_base.settings, AS_OF).parent
    assert sorted(p.name for p in folder.iterdir()) == ["health.parquet"]
    table = read_snapshot(customer_base.settings, AS_OF, columns=["account_id", "score"])
    assert table is not None and table.num_rows == 5
    scores = dict(zip(table["account_id"].to_pylist(), table["score"].to_pylist(), strict=True))
    # A1 logins 20 -> 100: (200 + 50 + 70.8333) / 4
    assert scores["A1"] == pytest.approx(80.208333)


def test_a_slightly_older_snapshot_stands_in_for_the_30_day_baseline(
    customer_base: Platform,
) -> None:
    # weekly snapshots: none exactly 30 days back (31 May), 27 May is the newest before it
    write_metrics(customer_base.settings, date(2025, 5, 27), {"logins_28d": {"A1": 10}})
    compute_health(customer_base, date(2025, 5, 27), CARDS)
    compute_health(customer_base, AS_OF, CARDS)
    got = explain_account(customer_base.settings, "A1", AS_OF)
    # 27 May: logins 10 -> 50; T2 open -> 50; NPS of 9, 3, 5 -> 33.3; CSM 4 -> 75:
    # (2*50 + 50 + 54.1667) / 4 = 51.0417
    assert _r(got["trend"]["30d"]) == {
        "as_of": date(2025, 5, 27),
        "score": 51.041667,
        "change": 16.666667,
        "top_movers": [
            {"measure": "usage.logins", "group": "usage", "was": 25.0, "now": 37.5,
             "change": 12.5},
            {"measure": "voice.nps", "group": "voice", "was": 4.166667, "now": 8.333333,
             "change": 4.166667},
        ],
    }  # fmt: skip
    listed = list_health(customer_base.settings, AS_OF)["accounts"]
    assert {r["account_id"]: _r(r["change_30d"]) for r in listed}["A1"] == 16.666667
