"""A signal planted only after the observation date never reaches the features."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pyarrow as pa
from tests.risk.conftest import build_base

from kizuna.lake.layout import EVENT_SCHEMA, LakeLayout, atomic_write_parquet
from kizuna.metrics import compute_metrics, load_definitions
from kizuna.platform import Platform
from kizuna.risk.derived import suggest_metrics
from kizuna.risk.service import compute_derived
from kizuna.risk.training import RiskConfig, build_dataset
from kizuna.store.models import (
    ContractLine,
    SurveyKind,
    SurveyResponse,
    Ticket,
    TicketPriority,
)

T = date(2025, 1, 31)
PLANTED = [f"T{i:04d}" for i in range(10)]


def _features(platform: Platform) -> pd.DataFrame:
    compute_metrics(platform, [T, date(2024, 12, 31), date(2024, 11, 30)])
    derived = suggest_metrics(platform.settings.lake_dir, load_definitions(None)).metrics
    # the derived set is fixed before planting (a new event type would add columns)
    compute_derived(platform, [T, date(2024, 12, 31), date(2024, 11, 30)], derived)
    data = build_dataset(platform, [T], RiskConfig())
    return data.features.set_index(data.meta["account_id"]).sort_index()


def _plant(platform: Platform) -> None:
    after = datetime(2025, 2, 1, 0, 30, tzinfo=UTC)  # the first minute of the next day
    rows: dict[str, list[object]] = {k: [] for k in EVENT_SCHEMA.names}
    for account in PLANTED:
        for k in range(500):
            rows["message_id"].append(f"planted-{account}-{k}")
            rows["account_id"].append(account)
            rows["user_id"].append(f"{account}-u9")
            rows["event"].append("widget_opened")
            rows["timestamp"].append(after + timedelta(seconds=k))
            rows["properties"].append(None)
    layout = LakeLayout(platform.settings.lake_dir)
    atomic_write_parquet(
        pa.table(rows, schema=EVENT_SCHEMA),
        layout.partition_dir(after.date()) / "part-planted-000000.parquet",
    )
    with platform.store.session() as s:
        for i, account in enumerate(PLANTED):
            s.add(
                Ticket(
                    id=f"PT{i}",
                    account_id=account,
                    priority=TicketPriority.URGENT,
                    opened_at=after,
                    closed_at=after + timedelta(days=1),
                    csat=1,
                )
            )
            s.add(
                SurveyResponse(
                    id=f"PS{i}", account_id=account, kind=SurveyKind.NPS, score=0, answered_at=after
                )
            )
            s.add(
                ContractLine(
                    id=f"PL{i}",
                    account_id=account,
                    product="extra",
                    arr=Decimal(99999),
                    currency="USD",
                    quantity=500,
                    start_date=date(2025, 2, 1),
                    end_date=date(2026, 1, 31),
                )
            )


def test_planted_after_the_date_changes_no_feature(platform: Platform) -> None:
    build_base(platform, n=40)
    before = _features(platform)
    _plant(platform)
    after = _features(platform)
    assert list(after.columns) == list(before.columns)
    pd.testing.assert_frame_equal(after, before)
    # and the planted data is really there: the same features one day later see it
    data = build_dataset(platform, [date(2025, 2, 1)], RiskConfig())
    late = data.features.set_index(data.meta["account_id"])
    assert (late.loc[PLANTED, "open_urgent_tickets"] >= 1).all()
    assert (late.loc[PLANTED, "arr"] >= 99999).all()
