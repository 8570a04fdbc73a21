"""Evaluation figures against hand-computed values, and contributions that add up."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kizuna.risk.evaluation import (
    auc,
    bootstrap,
    brier,
    calibration_table,
    decile_rates,
    top_decile_lift,
)
from kizuna.risk.model import ChurnModel


def test_auc_by_hand() -> None:
    y = np.array([1, 0, 1, 0, 0])
    s = np.array([0.9, 0.8, 0.4, 0.3, 0.4])
    # pairs (pos, neg): (0.9 > all 3) = 3; (0.4: > 0.3, = 0.4 half, < 0.8) = 1.5 -> 4.5 / 6
    assert auc(y, s) == pytest.approx(0.75)
    assert auc(np.array([1, 1]), np.array([0.1, 0.2])) is None


def test_lift_brier_calibration_by_hand() -> None:
    y = np.array([1] + [0] * 9 + [1] + [0] * 9)  # 2 churned of 20: rate 0.1
    p = np.linspace(1, 0, 20)  # the first is riskiest; the top tenth = 2 rows
    assert top_decile_lift(y, p) == pytest.approx(0.5 / 0.1)
    assert brier(np.array([1, 0]), np.array([0.75, 0.25])) == pytest.approx(0.0625)
    table = calibration_table(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.7, 0.9]), bins=2)
    assert table == [
        {"bin": 1, "n": 2, "mean_predicted": pytest.approx(0.15), "observed_rate": 0.0},
        {"bin": 2, "n": 2, "mean_predicted": pytest.approx(0.8), "observed_rate": 1.0},
    ]


def test_bootstrap_interval_brackets_the_point_and_pairs_the_difference() -> None:
    rng = np.random.default_rng(0)
    y = rng.random(400) < 0.3
    good = y + rng.normal(0, 0.6, 400)
    weak = y + rng.normal(0, 2.0, 400)
    out = bootstrap(y, {"model": good, "health": weak}, n_boot=200)
    for name in ("model", "health"):
        assert out[name]["ci_low"] < out[name]["auc"] < out[name]["ci_high"]
    assert out["difference"]["auc"] == pytest.approx(out["model"]["auc"] - out["health"]["auc"])
    assert out["difference"]["ci_low"] > 0  # clearly better on the same resamples


def test_decile_rates() -> None:
    values = np.array([*range(20), np.nan, np.nan])
    y = np.array([0] * 18 + [1, 1] + [1, 0])
    rows = decile_rates(values, y)
    assert len(rows) == 11
    assert rows[-2] == {"decile": 10, "low": 18.0, "high": 19.0, "n": 2, "churn_rate": 1.0}
    assert rows[-1] == {"decile": None, "low": None, "high": None, "n": 2, "churn_rate": 0.5}


@pytest.mark.parametrize("kind", ["logistic", "lightgbm"])
def test_contributions_add_up_to_the_raw_log_odds(kind: str) -> None:
    rng = np.random.default_rng(1)
    n = 600
    usage = rng.lognormal(2, 1, n)
    frame = pd.DataFrame(
        {
            "m:usage": usage,
            "m:usage_twin": usage * 1.5 + rng.normal(0, 0.1, n),  # grouped with m:usage
            "tickets": rng.poisson(2, n).astype(float),
            "segment": rng.choice(["smb", "ent"], n),
        }
    )
    frame.loc[::7, "tickets"] = np.nan
    y = rng.random(n) < 1 / (1 + np.exp(np.log(usage) - 2))
    model = ChurnModel(kind, {"C": 1.0, "n_estimators": 30}).fit(frame, y)
    assert model.prep.groups[0] == ["m:usage", "m:usage_twin"]
    assert "m:usage" in model.prep.logged
    contrib, keys = model.contributions(frame)
    assert keys[0] == "m:usage" and "m:usage_twin" not in keys and "segment" in keys
    raw = model.raw_proba(frame)
    logit = np.log(raw / (1 - raw))
    if kind == "logistic":
        est = model.estimator
        base = est.intercept_[0] + float(np.dot(est.coef_[0], model.centre_))
    else:
        base = model.estimator.predict_proba(model._inputs(frame), pred_contrib=True)[:, -1]
    np.testing.assert_allclose(contrib.sum(axis=1) + base, logit, rtol=1e-6, atol=1e-6)


def test_capped_keeps_a_fixed_subset_of_the_rows() -> None:
    from kizuna.risk.training import capped

    mask = np.arange(100) % 2 == 0
    assert capped(mask, 60) is mask
    kept = capped(mask, 10)
    assert kept.sum() == 10 and not (kept & ~mask).any()
    assert (capped(mask, 10) == kept).all()
