"""A small hand-built customer base and event set for metric tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from kizuna.lake.ingest import ingest_records
from kizuna.platform import Platform
from kizuna.store.models import Account, ContractLine, ContractStatus

AS_OF = date(2025, 6, 30)

# Every metric kind, with windows and filters, used by the hand-worked tests.
DEFINITIONS: dict[str, Any] = {
    "metrics": [
        {"name": "events_28d", "kind": "count", "window_days": 28},
        {"name": "logins_28d", "kind": "count", "filter": {"events": ["login"]}, "window_days": 28},
        {"name": "logins_7d", "kind": "count", "filter": {"events": ["login"]}, "window_days": 7},
        {"name": "active_users_28d", "kind": "distinct_users", "window_days": 28},
        {"name": "active_days_28d", "kind": "active_days", "window_days": 28},
        {
            "name": "rows_exported_28d",
            "kind": "sum",
            "filter": {"events": ["export_run"]},
            "property": "rows",
            "window_days": 28,
        },
        {
            "name": "big_exports_28d",
            "kind": "count",
            "filter": {"events": ["export_run"], "where": {"rows": {"gte": 1000}}},
            "window_days": 28,
        },
        {"name": "events_per_user_28d", "kind": "per_user", "window_days": 28},
        {
            "name": "reports_per_user_28d",
            "kind": "per_user",
            "filter": {"events": ["report_created"]},
            "window_days": 28,
        },
        {"name": "seat_share_28d", "kind": "seat_share", "window_days": 28},
        {
            "name": "breadth_28d",
            "kind": "feature_breadth",
            "features": ["report_created", "export_run", "dashboard_viewed"],
            "window_days": 28,
        },
        {
            "name": "days_since_login",
            "kind": "days_since_last",
            "filter": {"events": ["login"]},
            "window_days": 90,
        },
        {"name": "tenure", "kind": "tenure"},
        {
            "name": "logins_per_day",
            "kind": "ratio",
            "numerator": "logins_28d",
            "denominator": "active_days_28d",
        },
        {"name": "events_change", "kind": "pct_change", "of": "events_28d", "days_earlier": 28},
    ]
}


def event(
    mid: str, account: str, user: str | None, name: str, ts: str, **props: Any
) -> dict[str, Any]:
    return {
        "message_id": mid,
        "account_id": account,
        "user_id": user,
        "event": name,
        "timestamp": ts,
        "properties": props or None,
    }


EVENTS = [
    event("e1", "acme", "u1", "login", "2025-06-30T23:59:59Z"),  # on D: in
    event("e2", "acme", "u2", "login", "2025-06-03T00:00:00Z"),  # 27 days before D: in
    event("e3", "acme", "u1", "login", "2025-06-02T23:59:59Z"),  # exactly 28 days before: out
    event("e4", "acme", "u3", "login", "2025-07-01T00:00:00Z"),  # after D: never counts
    event("e5", "acme", "u1", "export_run", "2025-06-20T10:00:00Z", rows=1200),
    event("e6", "acme", "u2", "export_run", "2025-06-25T10:00:00Z", rows="300"),
    event("e7", "acme", "u2", "report_created", "2025-06-25T11:00:00Z"),
    event("e8", "acme", "u1", "page_view", "2025-06-25T12:00:00Z", duration_s=31),
    event("e9", "acme", "u1", "login", "2025-06-01T08:00:00Z"),  # in D-28's window only
    event("b1", "beta", "u9", "login", "2025-06-29T12:00:00Z"),
    event("b2", "beta", None, "api_call", "2025-06-29T13:00:00Z"),
]


def seed(platform: Platform) -> None:
    """Three accounts (gamma has nothing), contracts, and the events above."""
    with platform.store.session() as session:
        session.add_all(
            [
                Account(id="acme", name="Acme"),
                Account(id="beta", name="Beta"),
                Account(id="gamma", name="Gamma"),
            ]
        )
        session.flush()
        session.add_all(
            [
                ContractLine(
                    id="acme-1",
                    account_id="acme",
                    product="core",
                    arr=Decimal("12000"),
                    currency="USD",
                    quantity=10,
                    start_date=date(2024, 7, 1),
                    end_date=date(2025, 6, 30),
                ),
                ContractLine(
                    id="acme-2",
                    account_id="acme",
                    product="core",
                    arr=Decimal("6000"),
                    currency="USD",
                    quantity=5,
                    start_date=date(2025, 7, 1),
                    end_date=date(2026, 6, 30),
                ),
                ContractLine(
                    id="beta-1",
                    account_id="beta",
                    product="core",
                    arr=Decimal("1000"),
                    currency="USD",
                    quantity=4,
                    start_date=date(2025, 1, 1),
                    end_date=date(2025, 12, 31),
                    status=ContractStatus.CANCELLED,
                ),
                ContractLine(
                    id="beta-2",
                    account_id="beta",
                    product="addon",
                    arr=Decimal("500"),
                    currency="USD",
                    quantity=2,
                    start_date=date(2025, 3, 2),
                    end_date=date(2026, 3, 1),
                ),
            ]
        )
    report = ingest_records(platform, EVENTS, source="test")
    assert (report.accepted, report.quarantined) == (len(EVENTS), 0)
