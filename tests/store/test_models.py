"""The store's models keep what users give them, exactly, on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from kizuna.errors import StoreNotReady
from kizuna.store.db import Store
from kizuna.store.models import (
    Account,
    Contact,
    ContractLine,
    ContractStatus,
    SuccessRole,
    TeamMember,
    Ticket,
)


def _seed(store: Store) -> None:
    with store.session() as s:
        s.add(TeamMember(id="csm-1", name="佐藤 花子", email="hanako@example.com"))
        s.flush()  # no ORM relationships: order dependent inserts by hand
        s.add(
            Account(
                id="A1",
                name="株式会社サンプル",
                segment="enterprise",
                owner_id="csm-1",
                created_date=date(2024, 4, 1),
                attributes={"employees": 1200, "plan": "ent"},
            )
        )
        s.flush()
        s.add(Account(id="A1-jp", name="サンプル 東日本", parent_id="A1"))


def test_round_trip_keeps_unicode_json_money_and_utc(store: Store) -> None:
    _seed(store)
    jst = timezone(timedelta(hours=9))
    with store.session() as s:
        s.add(
            ContractLine(
                id="L1",
                account_id="A1",
                product="core",
                arr=Decimal("1234567.89"),
                currency="JPY",
                quantity=50,
                start_date=date(2025, 1, 1),
                end_date=date(2025, 12, 31),
            )
        )
        s.add(Ticket(id="T1", account_id="A1", opened_at=datetime(2025, 2, 1, 9, 0, tzinfo=jst)))
        s.add(Contact(id="C1", account_id="A1", name="田中", success_role=SuccessRole.EVALUATOR))
    with store.session() as s:
        line = s.get(ContractLine, "L1")
        ticket = s.get(Ticket, "T1")
        account = s.get(Account, "A1")
        contact = s.get(Contact, "C1")
        assert line is not None and ticket is not None and account is not None and contact
        assert line.arr == Decimal("1234567.89")
        assert line.status is ContractStatus.ACTIVE
        assert ticket.opened_at == datetime(2025, 2, 1, 0, 0, tzinfo=UTC)
        assert account.name == "株式会社サンプル"
        assert account.attributes == {"employees": 1200, "plan": "ent"}
        assert contact.success_role is SuccessRole.EVALUATOR
        total = s.scalar(sa.select(sa.func.sum(ContractLine.arr)))
    # exact sums in SQL too (cents on SQLite, NUMERIC on PostgreSQL)
    assert Decimal(total) in (Decimal("1234567.89"), Decimal("123456789"))


@pytest.mark.parametrize(
    ("field", "value"),
    [("account_id", "no-such-account"), ("end_date", date(2024, 12, 31))],
)
def test_database_constraints_reject_broken_rows(store: Store, field: str, value: object) -> None:
    _seed(store)
    row = {
        "id": "L9",
        "account_id": "A1",
        "product": "core",
        "arr": Decimal(10),
        "currency": "USD",
        "start_date": date(2025, 1, 1),
        "end_date": date(2025, 12, 31),
    }
    row[field] = value
    with pytest.raises(sa.exc.IntegrityError), store.session() as s:
        s.add(ContractLine(**row))


def test_unknown_enum_value_is_refused(store: Store) -> None:
    _seed(store)
    with pytest.raises(sa.exc.StatementError), store.session() as s:
        s.execute(
            sa.insert(Contact).values(id="C2", account_id="A1", name="x", success_role="boss")
        )


def test_empty_store_is_not_ready_with_a_helpful_message(tmp_path) -> None:  # type: ignore[no-untyped-def]
    empty = Store(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    with pytest.raises(StoreNotReady, match="run 'kizuna init'"):
        empty.ensure_ready()
    empty.dispose()
