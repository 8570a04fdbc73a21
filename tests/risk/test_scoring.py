"""Scoring outputs: one row per account with ARR, expected ARR, band and drivers; history."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from tests.risk.conftest import build_base

from kizuna.errors import ConfigError
from kizuna.platform import Platform
from kizuna.risk import RiskConfig, load_model, read_scores, risk_scores_as_of, score, train
from kizuna.risk.registry import check_features
from kizuna.risk.report import account_risk
from kizuna.risk.scores import score_dates
from kizuna.risk.vocab import BANDS

AS_OF = date(2025, 6, 30)


def test_train_then_score(platform: Platform) -> None:
    truth = build_base(platform, n=150)
    result = train(platform, AS_OF, RiskConfig(n_boot=50))
    model = load_model(platform.settings)
    assert model.version == result.version
    assert model.meta["training_window"]["first_observation"] == "2024-10-31"
    assert model.meta["config"]["lead_days"] == 90
    run = score(platform, AS_OF)
    table = read_scores(platform.settings, AS_OF)
    assert table is not None
    rows = table.to_pylist()
    live = sorted(a for a, t in truth.items() if t["outcome"] != "churned")
    assert [r["account_id"] for r in rows] == live
    assert run.accounts == len(live)
    depth = model.meta["contraction_depth"]
    for r in rows:
        expected = r["arr_up"] * (1 - r["probability"]) * (1 - r["contraction_probability"] * depth)
        assert r["expected_renewal_arr"] == pytest.approx(expected)
        floor = {b: f for b, f in BANDS}
        assert r["probability"] >= floor[r["band"]]
        assert r["renewal_date"] == truth[r["account_id"]]["renewal"].replace(year=2026)  # type: ignore[union-attr]
        sizes = [abs(d["contribution"]) for d in r["drivers"]]
        assert len(sizes) == 5 and sizes == sorted(sizes, reverse=True)
    assert run.arr_at_risk == pytest.approx(
        sum(r["arr_up"] for r in rows) - sum(r["expected_renewal_arr"] for r in rows), abs=0.05
    )
    # low engagement -> higher risk, on average
    p = np.array([r["probability"] for r in rows])
    e = np.array([truth[r["account_id"]]["e"] for r in rows])
    assert p[e < 0.5].mean() > p[e >= 0.5].mean()
    # history and the frame for rules
    score(platform, date(2025, 5, 31))
    assert score_dates(platform.settings) == [date(2025, 5, 31), AS_OF]
    shown = account_risk(platform.settings, live[0], None, "en")
    assert [h["as_of"] for h in shown["history"]] == [date(2025, 5, 31), AS_OF]
    frame = risk_scores_as_of(platform, date(2025, 6, 15))
    assert set(frame["as_of"]) == {date(2025, 5, 31)}
    assert set(frame.columns) >= {"account_id", "probability", "band", "expected_renewal_arr"}
    assert risk_scores_as_of(platform, date(2025, 1, 1)).empty
    # loading checks the features and the file
    with pytest.raises(ConfigError, match="expects features"):
        check_features(model, [f for f in model.features if f != "arr"])
    folder = platform.settings.home / "risk" / "models" / model.version
    (folder / "model.joblib").write_bytes(b"tampered")
    with pytest.raises(ConfigError, match="digest"):
        load_model(platform.settings)
