"""A hand-built book for the actions tests, as of 2025-06-30 (the fixed clock's day).

* A1 (enterprise, owner T1): ARR 120k, line ends 2025-09-30 (renewal 2025-10-01, 93 days),
  health red 30 (was 50 thirty days earlier), an NPS detractor 10 days ago, an open urgent ticket,
  evaluator E1 last met 60 days ago, seat utilisation 0.95 (0.80 thirty days ago),
  in stage "adoption" since 2025-03-01.
* A2 (mid-market, owner T1): ARR 30k, renews 2026-03-31, health green 80 (was 78),
  a promoter answer, the evaluator met 10 days ago, seat utilisation 0.5.
* A3 (smb, owner T2): ARR 5k, renews 2025-07-31, health yellow 55 (no earlier snapshot),
  no evaluator contact, a closed high ticket.
* A4 (smb, no owner): no contract (ARR 0), no health.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes
from email.policy import default
from typing import Any

import pyarrow as pa
import pytest
from aiosmtpd.controller import Controller

from kizuna.health.snapshots import SNAPSHOT_SCHEMA, write_snapshot
from kizuna.metrics.store import write_values
from kizuna.platform import Platform
from kizuna.store.lifecycle_models import StageTransition
from kizuna.store.models import (
    Account,
    Activity,
    ActivityKind,
    Contact,
    ContractLine,
    SuccessRole,
    SurveyKind,
    SurveyResponse,
    TeamMember,
    TeamRole,
    Ticket,
    TicketPriority,
    TicketStatus,
)

AS_OF = date(2025, 6, 30)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def health(platform: Platform, day: date, rows: dict[str, tuple[float, str]]) -> None:
    data = [
        {"account_id": a, "as_of": day, "name": a, "segment": None, "parent_id": None,
         "scorecard": "default", "method": "scorecard", "arr": None, "score": s, "band": b,
         "missing": [], "groups": [], "measures": [], "children": []}
        for a, (s, b) in rows.items()
    ]  # fmt: skip
    write_snapshot(platform.settings, day, pa.Table.from_pylist(data, schema=SNAPSHOT_SCHEMA))


def metrics(platform: Platform, day: date, values: dict[str, dict[str, float]]) -> None:
    names = sorted(values)
    accounts = sorted({a for v in values.values() for a in v})
    table = pa.table(
        {
            "as_of": pa.array([day] * len(accounts), pa.date32()),
            "account_id": accounts,
            **{m: pa.array([values[m].get(a) for a in accounts], pa.float64()) for m in names},
        }
    )
    write_values(platform.settings.home, table, names)


@pytest.fixture
def book(platform: Platform) -> Platform:
    """The platform with the book above loaded."""
    with platform.store.session() as s:
        s.add_all(
            [
                TeamMember(id="T1", name="Aiko Sato", email="t1@v.example", role=TeamRole.CSM),
                TeamMember(id="T2", name="Ben Ito", email="t2@v.example", role=TeamRole.CSM),
            ]
        )
        s.flush()
        s.add_all(
            [
                Account(id="A1", name="Alpha", segment="enterprise", owner_id="T1",
                        attributes={"plan": "enterprise", "employees": 900}),
                Account(id="A2", name="Beta", segment="mid-market", owner_id="T1",
                        attributes={"plan": "business"}),
                Account(id="A3", name="Gamma", segment="smb", owner_id="T2"),
                Account(id="A4", name="Delta", segment="smb"),
            ]
        )  # fmt: skip
        s.flush()
        s.add_all(
            [
                ContractLine(id="L1", account_id="A1", product="core", arr=Decimal(120000),
                             currency="USD", quantity=100, start_date=date(2024, 10, 1),
                             end_date=date(2025, 9, 30)),
                ContractLine(id="L2", account_id="A2", product="core", arr=Decimal(30000),
                             currency="USD", quantity=20, start_date=date(2025, 4, 1),
                             end_date=date(2026, 3, 31)),
                ContractLine(id="L3", account_id="A3", product="core", arr=Decimal(5000),
                             currency="USD", quantity=5, start_date=date(2024, 8, 1),
                             end_date=date(2025, 7, 31)),
                Contact(id="E1", account_id="A1", name="Eva", success_role=SuccessRole.EVALUATOR),
                Contact(id="P1", account_id="A1", name="Pat", success_role=SuccessRole.PROMOTER),
                Contact(id="E2", account_id="A2", name="Emi",
                        success_role=SuccessRole.FINAL_EVALUATOR),
                Contact(id="P3", account_id="A3", name="Pia", success_role=SuccessRole.PROMOTER),
            ]
        )  # fmt: skip
        s.flush()
        s.add_all(
            [
                SurveyResponse(id="S1", account_id="A1", kind=SurveyKind.NPS, score=3,
                               answered_at=at(AS_OF - timedelta(days=10))),
                SurveyResponse(id="S0", account_id="A1", kind=SurveyKind.NPS, score=2,
                               answered_at=at(AS_OF - timedelta(days=100))),
                SurveyResponse(id="S2", account_id="A2", kind=SurveyKind.NPS, score=9,
                               answered_at=at(AS_OF - timedelta(days=5))),
                Ticket(id="K1", account_id="A1", opened_at=at(AS_OF - timedelta(days=3)),
                       priority=TicketPriority.URGENT, status=TicketStatus.OPEN),
                Ticket(id="K2", account_id="A1", opened_at=at(AS_OF - timedelta(days=3)),
                       priority=TicketPriority.NORMAL, status=TicketStatus.OPEN),
                Ticket(id="K3", account_id="A3", opened_at=at(AS_OF - timedelta(days=20)),
                       closed_at=at(AS_OF - timedelta(days=2)), priority=TicketPriority.HIGH,
                       status=TicketStatus.CLOSED),
                Activity(id="V1", account_id="A1", kind=ActivityKind.MEETING, author_id="T1",
                         activity_date=AS_OF - timedelta(days=60), contact_id="E1"),
                Activity(id="V2", account_id="A1", kind=ActivityKind.CALL, author_id="T1",
                         activity_date=AS_OF - timedelta(days=5), contact_id="P1"),
                Activity(id="V3", account_id="A2", kind=ActivityKind.CALL, author_id="T1",
                         activity_date=AS_OF - timedelta(days=10), contact_id="E2"),
                StageTransition(account_id="A1", transition_date=date(2025, 3, 1),
                                from_stage="onboarding", to_stage="adoption", reason="r"),
                StageTransition(account_id="A2", transition_date=date(2025, 4, 1),
                                from_stage=None, to_stage="onboarding", reason="r"),
            ]
        )  # fmt: skip
    health(platform, AS_OF - timedelta(days=30), {"A1": (50.0, "yellow"), "A2": (78.0, "green")})
    health(
        platform,
        AS_OF,
        {"A1": (30.0, "red"), "A2": (80.0, "green"), "A3": (55.0, "yellow")},
    )
    metrics(platform, AS_OF - timedelta(days=30), {"seat_utilisation_28d": {"A1": 0.8, "A2": 0.5}})
    metrics(
        platform,
        AS_OF,
        {"seat_utilisation_28d": {"A1": 0.95, "A2": 0.5, "A3": 0.2}},
    )
    return platform


class Mailbox:
    """A real SMTP server's inbox (aiosmtpd handler): every message received, parsed."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    """An SMTP server on a free local port for the test, and its inbox."""
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()
