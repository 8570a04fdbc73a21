"""A small builder for hand-made ARR ledgers in the (parametrised) store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from kizuna.platform import Platform
from kizuna.retention import Ledger, LedgerFilters
from kizuna.store.models import Account, ContractLine, ContractStatus, FxRate, TeamMember


class Book:
    """Collects accounts, contract lines and fx rates, writes them, opens ledgers."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.rows: list[Any] = []
        self._ledgers: list[Ledger] = []
        self._n = 0

    def account(self, account_id: str, *, parent: str | None = None, **kw: Any) -> str:
        self.rows.append(Account(id=account_id, name=account_id.upper(), parent_id=parent, **kw))
        return account_id

    def owner(self, member_id: str) -> str:
        self.rows.append(TeamMember(id=member_id, name=member_id))
        return member_id

    def line(
        self,
        account_id: str,
        start: str,
        end: str,
        arr: str | int,
        *,
        product: str = "core",
        currency: str = "USD",
        status: ContractStatus = ContractStatus.ACTIVE,
        line_id: str | None = None,
        renews: str | None = None,
    ) -> str:
        self._n += 1
        line_id = line_id or f"L{self._n}"
        self.rows.append(
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

    def rate(self, currency: str, valid_from: str, rate: float) -> None:
        self.rows.append(
            FxRate(currency=currency, valid_from=date.fromisoformat(valid_from), rate=rate)
        )

    def save(self) -> None:
        # Owners, accounts (parents before children, as added), lines, rates.
        order = {TeamMember: 0, Account: 1, ContractLine: 2, FxRate: 3}
        rows = sorted(self.rows, key=lambda r: order[type(r)])
        with self.platform.store.session() as session:
            for row in rows:
                session.add(row)
                session.flush()
        self.rows = []

    def ledger(self, *, rollup: bool = True, **filters: str) -> Ledger:
        if self.rows:
            self.save()
        ledger = Ledger.load(
            self.platform.store,
            self.platform.settings,
            filters=LedgerFilters(**filters),
            rollup=rollup,
        )
        self._ledgers.append(ledger)
        return ledger

    def close(self) -> None:
        for ledger in self._ledgers:
            ledger.close()


@pytest.fixture
def book(platform: Platform) -> Iterator[Book]:
    b = Book(platform)
    yield b
    b.close()


def d(text: str) -> date:
    return date.fromisoformat(text)


def money(text: str | int) -> Decimal:
    return Decimal(str(text)).quantize(Decimal("0.01"))
