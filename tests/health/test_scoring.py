"""Scoring schemes at their edges, and score assembly with renormalisation for missing data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kizuna.health.scorecard import (
    BooleanScoring,
    LinearScoring,
    PercentileScoring,
    Scorecard,
    ThresholdScoring,
)
from kizuna.health.scoring import (
    assemble,
    band_of,
    score_boolean,
    score_linear,
    score_percentile,
    score_thresholds,
)

NAN = float("nan")


def _list(a: np.ndarray) -> list[float | None]:
    return [None if math.isnan(x) else round(float(x), 9) for x in a]


def test_thresholds_a_cut_belongs_to_the_band_above() -> None:
    scheme = ThresholdScoring(scheme="thresholds", cuts=(1, 3), scores=(100, 50, 0))
    values = np.array([-5, 0, 0.999, 1, 2.5, 3, 1e9, NAN])
    assert _list(score_thresholds(values, scheme)) == [100, 100, 100, 50, 50, 0, 0, None]


def test_linear_is_clamped_and_can_run_downhill() -> None:
    up = LinearScoring(scheme="linear", worst=0.2, best=0.8)
    assert _list(score_linear(np.array([0.0, 0.2, 0.35, 0.5, 0.8, 1.0, NAN]), up)) == [
        0,
        0,
        25,
        50,
        100,
        100,
        None,
    ]
    down = LinearScoring(scheme="linear", worst=14, best=1)  # days to resolve: fewer is better
    assert _list(score_linear(np.array([20, 14, 7.5, 1, 0]), down)) == [0, 0, 50, 100, 100]


def test_boolean_scores_any_non_zero_as_true() -> None:
    scheme = BooleanScoring(scheme="boolean", true_score=100, false_score=20)
    assert _list(score_boolean(np.array([1, 0, -2, NAN]), scheme)) == [100, 20, 100, None]


def test_percentile_ranks_within_each_segment_with_ties_and_singletons() -> None:
    scheme = PercentileScoring(scheme="percentile", min_peers=1)
    values = np.array([10, 20, 20, 40, 5, 7, NAN, 3])
    segments = np.array(["smb", "smb", "smb", "smb", "ent", "ent", "ent", None], dtype=object)
    # smb: ranks 1, 2.5, 2.5, 4 of 4 -> (r-1)/3; ent: 2 valued peers; None alone -> 50
    assert _list(score_percentile(values, segments, scheme)) == [
        0,
        50,
        50,
        100,
        0,
        100,
        None,
        50,
    ]
    lower = PercentileScoring(scheme="percentile", higher_is_better=False, min_peers=1)
    assert _list(score_percentile(values, segments, lower))[:4] == [100, 50, 50, 0]


def test_percentile_needs_min_peers_with_data() -> None:
    scheme = PercentileScoring(scheme="percentile", min_peers=3)
    values = np.array([1, 2, 3, 1, 2, NAN])
    segments = np.array(["a", "a", "a", "b", "b", "b"], dtype=object)
    assert _list(score_percentile(values, segments, scheme)) == [0, 50, 100, None, None, None]


CARD = Scorecard.model_validate(
    {
        "name": "hand",
        "bands": {"yellow": 50, "green": 75},
        "groups": [
            {
                "name": "adoption",
                "weight": 3,
                "measures": [
                    {
                        "name": "seats",
                        "weight": 2,
                        "source": {"kind": "metric", "metric": "seat_utilisation"},
                        "scoring": {"scheme": "linear", "worst": 0, "best": 1},
                    },
                    {
                        "name": "breadth",
                        "weight": 1,
                        "source": {"kind": "metric", "metric": "feature_breadth_28d"},
                        "scoring": {"scheme": "linear", "worst": 0, "best": 10},
                    },
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
                        "scoring": {"scheme": "thresholds", "cuts": [1], "scores": [100, 0]},
                    }
                ],
            },
        ],
    }
)


def test_assemble_weights_groups_and_renormalises_missing_measures() -> None:
    scores = np.array(
        [
            [80.0, 50.0, 100.0],  # everything known
            [NAN, 50.0, 0.0],  # seats missing: breadth carries the whole adoption group
            [NAN, NAN, 100.0],  # adoption group empty: support carries the score
            [NAN, NAN, NAN],  # nothing known: no score
        ]
    )
    got = assemble(CARD, scores)
    # row 0: adoption = (2*80 + 50)/3 = 70; score = (3*70 + 1*100)/4 = 77.5
    # row 1: adoption = 50; score = (3*50 + 0)/4 = 37.5
    assert _list(got.score) == [77.5, 37.5, 100.0, None]
    assert [_list(r) for r in got.group_scores] == [
        [70, 100],
        [50, 0],
        [None, 100],
        [None, None],
    ]
    assert [_list(r) for r in got.weights] == [
        [0.5, 0.25, 0.25],
        [0, 0.75, 0.25],
        [0, 0, 1],
        [0, 0, 0],
    ]
    assert [_list(r) for r in got.contributions] == [
        [40, 12.5, 25],
        [0, 37.5, 0],
        [0, 0, 100],
        [0, 0, 0],
    ]
    assert list(band_of(got.score, CARD)) == ["green", "red", "green", None]


def test_band_edges() -> None:
    scores = np.array([0, 49.999, 50, 74.999, 75, 100])
    assert list(band_of(scores, CARD)) == ["red", "red", "yellow", "yellow", "green", "green"]
    assert [CARD.band(float(s)) for s in scores] == list(band_of(scores, CARD))


measure_score = st.one_of(st.just(NAN), st.floats(0, 100, allow_nan=False))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(measure_score, measure_score, measure_score), min_size=1, max_size=20))
def test_contributions_always_add_up_to_the_score(rows: list[tuple[float, float, float]]) -> None:
    got = assemble(CARD, np.array(rows, dtype=np.float64))
    for score, contributions, weights in zip(
        got.score, got.contributions, got.weights, strict=True
    ):
        if math.isnan(score):
            assert contributions.sum() == 0
            continue
        assert math.isclose(contributions.sum(), score, rel_tol=1e-12, abs_tol=1e-9)
        assert math.isclose(weights.sum(), 1.0, rel_tol=1e-12)
        assert 0 <= score <= 100 + 1e-9


@pytest.mark.parametrize(
    ("scheme", "message"),
    [
        ({"scheme": "linear", "worst": 1, "best": 1}, "'worst' and 'best' must differ"),
        ({"scheme": "thresholds", "cuts": [1, 2], "scores": [1, 2]}, "one more score than cuts"),
        ({"scheme": "thresholds", "cuts": [2, 1], "scores": [1, 2, 3]}, "strictly increasing"),
    ],
)
def test_bad_schemes_say_why(scheme: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CARD.measures[0][1].model_validate(
            {
                "name": "m",
                "weight": 1,
                "source": {"kind": "metric", "metric": "x"},
                "scoring": scheme,
            }
        )


@st.composite
def _card_and_scores(draw: st.DrawFn) -> tuple[Scorecard, np.ndarray]:
    """A random scorecard (1–4 groups of 1–4 measures, random weights) and measure scores."""
    weight = st.floats(0.01, 100, allow_nan=False)
    sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    groups = [
        {
            "name": f"g{g}",
            "weight": draw(weight),
            "measures": [
                {
                    "name": f"m{g}_{j}",
                    "weight": draw(weight),
                    "source": {"kind": "metric", "metric": "x"},
                    "scoring": {"scheme": "boolean"},
                }
                for j in range(size)
            ],
        }
        for g, size in enumerate(sizes)
    ]
    card = Scorecard.model_validate({"name": "random", "groups": groups})
    rows = draw(st.integers(1, 10))
    scores = draw(
        st.lists(
            st.lists(measure_score, min_size=sum(sizes), max_size=sum(sizes)),
            min_size=rows,
            max_size=rows,
        )
    )
    return card, np.array(scores, dtype=np.float64)


@settings(max_examples=300, deadline=None)
@given(_card_and_scores())
def test_contributions_add_up_to_the_score_for_any_scorecard(
    case: tuple[Scorecard, np.ndarray],
) -> None:
    card, scores = case
    got = assemble(card, scores)
    for row, score, contributions in zip(scores, got.score, got.contributions, strict=True):
        if np.isnan(row).all():
            assert math.isnan(score)
            continue
        assert math.isclose(contributions.sum(), score, rel_tol=1e-12, abs_tol=1e-9)
        # renormalised: the score is a weighted mean of the known measure scores
        known = row[~np.isnan(row)]
        assert known.min() - 1e-9 <= score <= known.max() + 1e-9
