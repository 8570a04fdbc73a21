"""History features: levels, trends and spreads over the month ends stored up to ``t``."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from kizuna.health.snapshots import SNAPSHOT_SCHEMA, write_snapshot
from kizuna.metrics.store import write_values
from kizuna.platform import Platform
from kizuna.risk.features import FeatureSource
from kizuna.risk.vocab import label
from kizuna.store.models import Account

T = date(2025, 1, 31)
MONTHS = [date(2024, 8, 31), date(2024, 9, 30), date(2024, 10, 31), date(2024, 11, 30),
          date(2024, 12, 31), T]  # fmt: skip
LATER = date(2025, 2, 28)


def _store(platform: Platform) -> None:
    with platform.store.session() as s:
        s.add_all(Account(id=a, name=a) for a in ("A", "B", "C"))
    logins = {
        "A": [10, 20, 30, 40, 50, 60],  # rising by 10 a month
        "B": [None, None, 9, None, 7, 5],  # three stored values, Nov and before Oct missing
        "C": [None, None, None, None, 4, 4],  # two values: no trend, no spread
    }
    rows = [
        {"as_of": day, "account_id": account, "logins_28d": float(v)}
        for account, values in logins.items()
        for day, v in zip(MONTHS, values, strict=True)
        if v is not None
    ]
    # a later month end is stored too: it must never reach the features of T
    rows += [{"as_of": LATER, "account_id": a, "logins_28d": 1000.0} for a in logins]
    write_values(platform.settings.home, pa.Table.from_pylist(rows), ["logins_28d"])
    for day, score in zip([*MONTHS, LATER], [80, 70, 60, 50, 40, 30, 0], strict=True):
        snapshot = pa.Table.from_pylist(
            [{"account_id": "A", "as_of": day, "score": float(score)}], schema=SNAPSHOT_SCHEMA
        )
        write_snapshot(platform.settings, day, snapshot)


def test_history_features_of_hand_built_months(sqlite_platform: Platform) -> None:
    platform = sqlite_platform
    _store(platform)
    source = FeatureSource(platform)
    index = pd.Index(["A", "B", "C"], name="account_id")
    got = source.history(T, index, ["m:logins_28d", "health_score"])
    a, b, c = (got.loc[x] for x in "ABC")
    assert (a["avg3:m:logins_28d"], a["avg6:m:logins_28d"]) == (50, 35)
    assert a["trend6:m:logins_28d"] == pytest.approx(10)
    assert a["std6:m:logins_28d"] == pytest.approx(np.std([10, 20, 30, 40, 50, 60]))
    # B: 5 on T, 7 one month before, 9 three months before (months back 0, 1, 3)
    assert (b["avg3:m:logins_28d"], b["avg6:m:logins_28d"]) == (6, 7)
    assert b["trend6:m:logins_28d"] == pytest.approx(np.polyfit([0, -1, -3], [5, 7, 9], 1)[0])
    assert c["avg6:m:logins_28d"] == 4
    assert np.isnan(c["trend6:m:logins_28d"]) and np.isnan(c["std6:m:logins_28d"])
    # health: falling by 10 a month; its low and its value three month ends before T
    assert a["trend6:health_score"] == pytest.approx(-10)
    assert (a["min6:health_score"], a["ago3:health_score"]) == (30, 60)
    assert np.isnan(b["min6:health_score"]) and np.isnan(b["ago3:health_score"])
    assert got["history_months"].to_dict() == {"A": 6.0, "B": 3.0, "C": 2.0}


def test_history_features_have_labels_in_both_languages() -> None:
    assert label("trend6:health_score") == "Health score: 6-month trend"
    assert label("avg6:m:logins_28d", "ja") == "直近28日のログイン数（6か月平均）"
    assert label("ago3:health_score", "ja") == "3か月前のヘルススコア"
