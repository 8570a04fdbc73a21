"""Support and survey features equal what health's own gatherers compute for the same date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np

from kizuna.health.inputs import GATHERERS, AccountFrame, _Reader
from kizuna.platform import Platform
from kizuna.risk.features import SOURCES, FeatureSource
from kizuna.store.models import (
    Account,
    SurveyKind,
    SurveyResponse,
    Ticket,
    TicketPriority,
)


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_support_features_equal_the_health_gatherers(platform: Platform) -> None:
    rng = np.random.default_rng(5)
    t = date(2025, 3, 31)
    ids = [f"S{i:02d}" for i in range(12)]
    priorities = list(TicketPriority)
    with platform.store.session() as s:
        s.add_all(Account(id=a, name=a) for a in ids)
        s.flush()
        for k in range(300):
            account = ids[int(rng.integers(0, 11))]  # the last account has none
            opened = _at(t - timedelta(days=int(rng.integers(-5, 120))), int(rng.integers(0, 24)))
            closed = opened + timedelta(hours=int(rng.integers(1, 400)))
            s.add(
                Ticket(
                    id=f"K{k}",
                    account_id=account,
                    priority=priorities[int(rng.integers(0, 4))],
                    opened_at=opened,
                    closed_at=None if rng.random() < 0.3 else closed,
                )
            )
            s.add(
                SurveyResponse(
                    id=f"V{k}",
                    account_id=account,
                    kind=SurveyKind.NPS if rng.random() < 0.6 else SurveyKind.CSAT,
                    score=int(rng.integers(0, 11)) if k % 2 else int(rng.integers(1, 6)),
                    answered_at=_at(t - timedelta(days=int(rng.integers(-20, 400))), 23),
                )
            )
    bulk = FeatureSource(platform)
    support = bulk.support(t)
    order = bulk.index.get_indexer(ids)
    reader = _Reader(platform, t)
    frame = AccountFrame(
        ids=np.array(ids, dtype=object),
        names=np.array(ids, dtype=object),
        segments=np.full(len(ids), None, dtype=object),
        parent_ids=np.full(len(ids), None, dtype=object),
        arr=np.zeros(len(ids)),
        fields=None,  # type: ignore[arg-type]
    )
    for name, source in SOURCES.items():
        expected = GATHERERS[source.kind](reader, source, frame)
        np.testing.assert_allclose(support[name][order], expected, err_msg=name)
    assert support["tickets_opened_90d"][order][-1] == 0
    assert np.isnan(support["nps_365d"][order][-1])
