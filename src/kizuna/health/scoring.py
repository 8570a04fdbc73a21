"""Scoring schemes and score assembly, as pure functions over NumPy arrays.

Raw values arrive as float arrays with NaN for "no data". Every scheme maps a
raw value to a measure score in [0, 100] and keeps NaN as NaN, so a missing
measure stays missing (it is skipped and the weights renormalised, never
counted as zero).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from kizuna.health.scorecard import (
    BooleanScoring,
    LinearScoring,
    PercentileScoring,
    Scorecard,
    Scoring,
    ThresholdScoring,
)

FloatArray = npt.NDArray[np.float64]


def score_thresholds(values: FloatArray, scheme: ThresholdScoring) -> FloatArray:
    """Step bands: the score of the band the value falls in (a cut belongs to the band above)."""
    cuts = np.asarray(scheme.cuts, dtype=np.float64)
    scores = np.asarray(scheme.scores, dtype=np.float64)
    idx = np.searchsorted(cuts, np.nan_to_num(values), side="right")
    return np.where(np.isnan(values), np.nan, scores[idx])


def score_linear(values: FloatArray, scheme: LinearScoring) -> FloatArray:
    """0 at ``worst``, 100 at ``best``, linear in between, clamped outside the range."""
    fraction = (values - scheme.worst) / (scheme.best - scheme.worst)
    return np.clip(fraction, 0.0, 1.0) * 100.0


def score_boolean(values: FloatArray, scheme: BooleanScoring) -> FloatArray:
    """``true_score`` for any non-zero value, ``false_score`` for zero."""
    return np.where(
        np.isnan(values), np.nan, np.where(values != 0, scheme.true_score, scheme.false_score)
    )


def score_percentile(
    values: FloatArray, peer_groups: npt.NDArray[np.object_], scheme: PercentileScoring
) -> FloatArray:
    """Percentile rank (0–100) of each value among the values of its peer group.

    Parameters
    ----------
    values
        Raw values, NaN where the account has none (it is then neither scored
        nor counted as a peer).
    peer_groups
        The peer group of each account (its segment; ``None`` is a group too).
    scheme
        ``higher_is_better`` flips the rank; groups with fewer than ``min_peers``
        valued accounts give NaN.

    Returns
    -------
    ``100 * (r - 1) / (n - 1)`` where ``r`` is the average 1-based rank among the
    ``n`` valued peers (ties share it), and 50 when ``n == 1``.
    """
    groups = pd.Series(peer_groups, dtype=object).fillna("\x00none")
    series = pd.Series(values)
    grouped = series.groupby(groups.to_numpy(), sort=False)
    ranks = grouped.rank(method="average").to_numpy(dtype=np.float64)
    counts = grouped.transform("count").to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(counts > 1, (ranks - 1.0) / (counts - 1.0) * 100.0, 50.0)
    if not scheme.higher_is_better:
        pct = 100.0 - pct
    return np.where(np.isnan(values) | (counts < scheme.min_peers), np.nan, pct)


def score_measure(
    values: FloatArray, scheme: Scoring, peer_groups: npt.NDArray[np.object_]
) -> FloatArray:
    """Dispatch ``values`` to the measure's scheme."""
    values = np.asarray(values, dtype=np.float64)
    if isinstance(scheme, ThresholdScoring):
        return score_thresholds(values, scheme)
    if isinstance(scheme, LinearScoring):
        return score_linear(values, scheme)
    if isinstance(scheme, BooleanScoring):
        return score_boolean(values, scheme)
    return score_percentile(values, peer_groups, scheme)


@dataclass(frozen=True)
class ScoreMatrix:
    """Scores of ``n`` accounts on one scorecard's ``m`` measures and ``k`` groups.

    ``weights`` are the effective weights after renormalising for missing
    measures (rows sum to 1 where the account has any data, else 0), so
    ``contributions = weights * measure_scores`` and its row sums are ``score``.
    """

    measure_scores: FloatArray  # (n, m), NaN = missing
    weights: FloatArray  # (n, m)
    contributions: FloatArray  # (n, m)
    group_scores: FloatArray  # (n, k), NaN = no data in the group
    score: FloatArray  # (n,), NaN = no data at all


def assemble(card: Scorecard, measure_scores: FloatArray) -> ScoreMatrix:
    """Combine measure scores into group scores and the 0–100 score.

    Within a group a measure's share is its weight over the summed weights of
    the group's measures *with data*; across groups likewise with group
    weights. A measure without data therefore gets weight 0 and the others
    share its weight in proportion to their own.
    """
    pairs = card.measures
    group_names = [g.name for g in card.groups]
    group_of = np.array([group_names.index(group.name) for group, _ in pairs])
    measure_w = np.array([meas.weight for _, meas in pairs], dtype=np.float64)
    group_w = np.array([g.weight for g in card.groups], dtype=np.float64)

    present = ~np.isnan(measure_scores)
    filled = np.where(present, measure_scores, 0.0)
    present_w = present * measure_w  # (n, m): a measure's weight where it has data
    n, k = len(measure_scores), len(group_names)
    group_wsum = np.zeros((n, k))
    group_total = np.zeros((n, k))
    # a few groups: column sums per group, no BLAS (threads fight on a busy machine)
    for g in range(k):
        cols = group_of == g
        group_wsum[:, g] = present_w[:, cols].sum(axis=1)
        group_total[:, g] = (filled[:, cols] * present_w[:, cols]).sum(axis=1)
    group_present = group_wsum > 0
    safe_wsum = np.where(group_present, group_wsum, 1.0)
    group_scores = np.where(group_present, group_total / safe_wsum, np.nan)
    active_group_w = group_present * group_w  # (n, k)
    total_group_w = active_group_w.sum(axis=1)
    group_share = active_group_w / np.where(total_group_w > 0, total_group_w, 1.0)[:, None]
    # each measure's share of its group, times its group's share of the score
    weights = present_w / safe_wsum[:, group_of] * group_share[:, group_of]
    contributions = weights * filled
    # Rounded to 1e-9 so a score that is 50 by hand is not 49.99999999999999 and red
    # by a rounding error; contributions still add up to it within 1e-9.
    score = np.where(total_group_w > 0, np.round(contributions.sum(axis=1), 9), np.nan)
    return ScoreMatrix(
        measure_scores=np.where(present, measure_scores, np.nan),
        weights=weights,
        contributions=contributions,
        group_scores=group_scores,
        score=score,
    )


def band_of(scores: FloatArray, card: Scorecard) -> npt.NDArray[np.object_]:
    """Vectorised :meth:`Scorecard.band`."""
    out = np.full(scores.shape, None, dtype=object)
    ok = ~np.isnan(scores)
    out[ok & (scores < card.bands.yellow)] = "red"
    out[ok & (scores >= card.bands.yellow) & (scores < card.bands.green)] = "yellow"
    out[ok & (scores >= card.bands.green)] = "green"
    return out
