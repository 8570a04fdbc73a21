"""A hand-built customer base for health tests, and metric values in the metrics layout.

As of 2025-06-30 (the fixed clock's day, business timezone UTC):

* A1, A2 (smb) and C1, C2 (enterprise, children of P) have active contract lines;
  P has no lines (a parent); X churned in 2024 and F is created after the date,
  so neither is scored.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from kizuna.health.inputs import METRIC_SCHEMA, metric_values_path
from kizuna.lake.layout import atomic_write_parquet
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.health_models import ManualSentiment
from kizuna.store.models import (
    Account,
    ContractLine,
    ContractStatus,
    SurveyKind,
    SurveyResponse,
    Ticket,
    TicketPriority,
)

AS_OF = date(2025, 6, 30)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def write_metrics(
    settings: Settings, day: date, values: dict[str, dict[str, float | None]]
) -> None:
    """Write ``{metric: {account: value}}`` where the metrics engine keeps ``day``'s values."""
    rows = [
        {"account_id": account, "as_of": day, "metric": metric, "value": value}
        for metric, by_account in values.items()
        for account, value in by_account.items()
    ]
    table = pa.Table.from_pylist(rows, schema=METRIC_SCHEMA)
    atomic_write_parquet(table, metric_values_path(settings, day), sort=False)


def _line(
    id_: str, account: str, start: str, end: str, arr: int, qty: int | None, **kw: object
) -> ContractLine:
    return ContractLine(
        id=id_,
        account_id=account,
        product="core",
        arr=Decimal(arr),
        currency="USD",
        quantity=qty,
        start_date=date.fromisoformat(start),
        end_date=date.fromisoformat(end),
        **kw,
    )


def _ticket(
    id_: str, account: str, priority: str, opened: str, closed: str | None, csat: int | None = None
) -> Ticket:
    return Ticket(
        id=id_,
        account_id=account,
        priority=TicketPriority(priority),
        opened_at=at(opened),
        closed_at=at(closed) if closed else None,
        csat=csat,
    )


def _answer(id_: str, account: str, kind: str, score: int, when: str) -> SurveyResponse:
    return SurveyResponse(
        id=id_, account_id=account, kind=SurveyKind(kind), score=score, answered_at=at(when)
    )


@pytest.fixture
def customer_base(platform: Platform) -> Platform:
    """The hand-built customer base in the parametrised store (SQLite and PostgreSQL)."""
    with platform.store.session() as s:
        s.add_all(
            [
                Account(id="P", name="Parent Co", segment="enterprise", industry="software"),
                Account(id="A1", name="Alpha", segment="smb", industry="software",
                        attributes={"employees": 100}),
                Account(id="A2", name="Beta", segment="smb", industry="retail",
                        attributes={"employees": 10}),
                Account(id="C1", name="Child One", segment="enterprise", industry="software"),
                Account(id="C2", name="Child Two", segment="enterprise",
                        attributes={"employees": "many"}),
                Account(id="X", name="Gone", segment="smb"),
                Account(id="F", name="Future", segment="smb", created_date=date(2025, 7, 15)),
            ]
        )  # fmt: skip
        s.flush()
        for child in ("C1", "C2"):
            s.get(Account, child).parent_id = "P"  # type: ignore[union-attr]
        s.add_all(
            [
                _line("L1", "A1", "2025-01-01", "2025-12-31", 12000, 10),
                _line("L2", "A2", "2025-03-01", "2026-02-28", 6000, 5),
                _line("L2c", "A2", "2025-03-01", "2026-02-28", 99000, 50,
                      status=ContractStatus.CANCELLED),
                _line("L3", "C1", "2024-07-01", "2025-06-30", 30000, None),
                _line("L4", "C2", "2025-06-01", "2026-05-31", 10000, 20),
                _line("L5", "X", "2024-01-01", "2024-12-31", 5000, 5),
                _ticket("T1", "A1", "high", "2025-06-01T09:00", None),
                _ticket("T2", "A1", "urgent", "2025-05-01T09:00", "2025-07-02T09:00"),
                _ticket("T3", "A1", "high", "2025-06-10T00:00", "2025-06-20T00:00", csat=4),
                _ticket("T4", "A1", "low", "2025-06-29T09:00", None),
                _ticket("T5", "A1", "high", "2025-07-01T09:00", None),
                _ticket("T6", "C1", "normal", "2025-03-01T12:00", "2025-03-03T12:00", csat=2),
                _ticket("T7", "A2", "low", "2025-06-01T00:00", "2025-06-02T00:00", csat=5),
                _ticket("T8", "A2", "low", "2025-06-03T00:00", "2025-06-05T00:00", csat=2),
                _answer("S1", "A1", "nps", 10, "2025-06-30T23:59:59"),
                _answer("S2", "A1", "nps", 9, "2025-01-01T10:00"),
                _answer("S3", "A1", "nps", 3, "2024-12-01T10:00"),
                _answer("S4", "A1", "nps", 5, "2024-06-30T12:00"),
                _answer("S5", "A1", "nps", 0, "2025-07-01T00:00"),
                _answer("S6", "A2", "csat", 4, "2025-06-01T10:00"),
                _answer("S7", "A2", "csat", 2, "2025-06-02T10:00"),
                ManualSentiment(account_id="A1", value=4, author="kim",
                                entered_at=at("2025-05-01T10:00")),
                ManualSentiment(account_id="A1", value=2, author="kim", comment="exec left",
                                entered_at=at("2025-06-01T10:00"), expires_on=date(2025, 6, 29)),
                ManualSentiment(account_id="A2", value=5, author="kim",
                                entered_at=at("2025-07-01T10:00")),
                ManualSentiment(account_id="C1", value=3, author="lee",
                                entered_at=at("2025-06-30T10:00"), expires_on=AS_OF),
            ]
        )  # fmt: skip
    write_metrics(
        platform.settings,
        AS_OF,
        {
            "logins_28d": {"A1": 15, "A2": 5, "C1": 20, "C2": 2, "X": 50},
            "other_metric": {"A1": 1},
        },
    )
    return platform
