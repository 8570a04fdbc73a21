"""Hand-built accounts, contract lines, team members and opportunities for revenue tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kizuna.health.snapshots import SNAPSHOT_SCHEMA, write_snapshot
from kizuna.platform import Platform
from kizuna.revenue import RevenueDefinition, load_definition
from kizuna.store.models import (
    Account,
    ContractLine,
    ContractStatus,
    FxRate,
    SurveyKind,
    SurveyResponse,
    TeamMember,
    TeamRole,
    Ticket,
    TicketStatus,
)


class Book:
    """Writes a hand-built book into a platform's store and snapshot folders."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.definition: RevenueDefinition = load_definition()
        self._n = 0

    def add(self, *rows: Any) -> None:
        with self.platform.store.session() as s:
            for row in rows:
                s.add(row)
                s.flush()

    def member(self, member_id: str, role: TeamRole = TeamRole.CSM) -> str:
        self.add(TeamMember(id=member_id, name=member_id.upper(), role=role))
        return member_id

    def account(
        self, account_id: str, segment: str = "smb", owner: str | None = None, **kw: Any
    ) -> str:
        self.add(
            Account(
                id=account_id, name=f"Account {account_id}", segment=segment, owner_id=owner, **kw
            )
        )
        return account_id

    def line(
        self,
        account_id: str,
        start: str,
        end: str,
        arr: int | str,
        *,
        product: str = "core",
        line_id: str | None = None,
        status: ContractStatus = ContractStatus.ACTIVE,
        renews: str | None = None,
        currency: str = "USD",
    ) -> str:
        self._n += 1
        line_id = line_id or f"{account_id}-L{self._n}"
        self.add(
            ContractLine(
                id=line_id,
                account_id=account_id,
                product=product,
                arr=Decimal(str(arr)),
                currency=currency,
                start_date=date.fromisoformat(start),
                end_date=date.fromisoformat(end),
                status=status,
                renews_line_id=renews,
            )
        )
        return line_id

    def fx(self, currency: str, valid_from: str, rate: float) -> None:
        self.add(FxRate(currency=currency, valid_from=date.fromisoformat(valid_from), rate=rate))

    def nps(self, account_id: str, day: str, score: int) -> None:
        self._n += 1
        self.add(
            SurveyResponse(
                id=f"s{self._n}",
                account_id=account_id,
                kind=SurveyKind.NPS,
                score=score,
                answered_at=datetime.fromisoformat(day + "T10:00:00").replace(tzinfo=UTC),
            )
        )

    def ticket(
        self, account_id: str, opened: str, closed: str | None, status: TicketStatus
    ) -> None:
        self._n += 1
        self.add(
            Ticket(
                id=f"t{self._n}",
                account_id=account_id,
                opened_at=datetime.fromisoformat(opened + "T09:00:00").replace(tzinfo=UTC),
                closed_at=(
                    datetime.fromisoformat(closed + "T09:00:00").replace(tzinfo=UTC)
                    if closed
                    else None
                ),
                status=status,
            )
        )

    def health(self, as_of: str, rows: dict[str, tuple[float, str, float | None]]) -> None:
        """Snapshot rows: account → (score, band, adoption group score)."""
        day = date.fromisoformat(as_of)
        table = pa.Table.from_pylist(
            [
                {
                    "account_id": a,
                    "as_of": day,
                    "score": score,
                    "band": band,
                    "groups": (
                        [
                            {
                                "name": "adoption",
                                "weight": 30.0,
                                "effective_weight": 30.0,
                                "score": adopt,
                            },
                            {
                                "name": "support",
                                "weight": 20.0,
                                "effective_weight": 20.0,
                                "score": 50.0,
                            },
                        ]
                        if adopt is not None
                        else []
                    ),
                }
                for a, (score, band, adopt) in rows.items()
            ],
            schema=SNAPSHOT_SCHEMA,
        )
        write_snapshot(self.platform.settings, day, table)

    def metric(self, as_of: str, metric: str, values: dict[str, float]) -> None:
        day = date.fromisoformat(as_of)
        folder = self.platform.settings.home / "metrics" / f"as_of={as_of}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "values.parquet"
        table = pa.table(
            {
                "account_id": list(values),
                "as_of": [day] * len(values),
                "metric": [metric] * len(values),
                "value": [float(v) for v in values.values()],
            }
        )
        if path.exists():
            table = pa.concat_tables([pq.read_table(path), table.cast(pq.read_schema(path))])
        pq.write_table(table, path)


@pytest.fixture
def book(platform: Platform) -> Book:
    return Book(platform)
