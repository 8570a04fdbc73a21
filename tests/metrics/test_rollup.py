"""The cached daily roll-up gives the same values as counting events directly.

A seeded random event set over three months is checked against a brute-force
count written out in Python (windows, distinct users, active days, last
activity, breadth, per-user rates), with the roll-up built in tiny chunks (so
distinct-user runs cross chunk boundaries), then extended by a second ingest
that also lands late events in old days (so only the affected days are rebuilt).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from kizuna.lake.ingest import ingest_records
from kizuna.metrics import cache as rollup_cache
from kizuna.metrics import compute_metrics, read_metric_values
from kizuna.metrics.definitions import parse_definitions
from kizuna.platform import Platform
from kizuna.store.models import Account

ACCOUNTS = ("a1", "a2", "a3")
EVENTS = ("login", "report_created", "export_run", "api_call")
FIRST = date(2025, 3, 1)
DAYS = 92

DEFINITIONS: dict[str, Any] = {
    "metrics": [
        {"name": "events_7d", "kind": "count", "window_days": 7},
        {"name": "logins_28d", "kind": "count", "filter": {"events": ["login"]}, "window_days": 28},
        {"name": "users_7d", "kind": "distinct_users", "window_days": 7},
        {"name": "users_28d", "kind": "distinct_users", "window_days": 28},
        {
            "name": "login_users_10d",
            "kind": "distinct_users",
            "filter": {"events": ["login"]},
            "window_days": 10,
        },
        {"name": "active_days_28d", "kind": "active_days", "window_days": 28},
        {
            "name": "rows_28d",
            "kind": "sum",
            "filter": {"events": ["export_run"]},
            "property": "rows",
            "window_days": 28,
        },
        {
            "name": "since_login",
            "kind": "days_since_last",
            "filter": {"events": ["login"]},
            "window_days": 10,
        },
        {
            "name": "breadth_28d",
            "kind": "feature_breadth",
            "features": ["report_created", "export_run", "api_call"],
            "window_days": 28,
        },
        {
            "name": "reports_per_login_user_28d",
            "kind": "per_user",
            "filter": {"events": ["report_created"]},
            "active_filter": {"events": ["login"]},
            "window_days": 28,
        },
    ]
}


def random_events(seed: int, prefix: str, n: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        # bursty users: some days busy, gaps of all lengths in between
        day = FIRST + timedelta(days=min(DAYS - 1, int(rng.expovariate(1 / 30)) % DAYS))
        at = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
            seconds=rng.randrange(86400)
        )
        event = rng.choice(EVENTS)
        out.append(
            {
                "message_id": f"{prefix}{i}",
                "account_id": rng.choice(ACCOUNTS),
                "user_id": None if rng.random() < 0.05 else f"u{rng.randrange(6)}",
                "event": event,
                "timestamp": at.isoformat(),
                "properties": {"rows": rng.randrange(100)} if event == "export_run" else None,
            }
        )
    return out


def brute_force(events: list[dict[str, Any]], as_of: date) -> dict[str, dict[str, float | None]]:
    """Every metric of DEFINITIONS, counted event by event (business timezone UTC)."""

    def day(e: dict[str, Any]) -> date:
        return datetime.fromisoformat(e["timestamp"]).date()

    def window(w: int, account: str, names: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in events
            if e["account_id"] == account
            and as_of - timedelta(days=w) < day(e) <= as_of
            and (names is None or e["event"] in names)
        ]

    def users(rows: list[dict[str, Any]]) -> int:
        return len({e["user_id"] for e in rows if e["user_id"] is not None})

    out: dict[str, dict[str, float | None]] = {}
    for account in ACCOUNTS:
        logins_10 = window(10, account, ("login",))
        login_users_28 = users(window(28, account, ("login",)))
        reports = len(window(28, account, ("report_created",)))
        out[account] = {
            "events_7d": float(len(window(7, account))),
            "logins_28d": float(len(window(28, account, ("login",)))),
            "users_7d": float(users(window(7, account))),
            "users_28d": float(users(window(28, account))),
            "login_users_10d": float(users(logins_10)),
            "active_days_28d": float(len({day(e) for e in window(28, account)})),
            "rows_28d": float(
                sum(e["properties"]["rows"] for e in window(28, account, ("export_run",)))
            ),
            "since_login": (
                float((as_of - max(day(e) for e in logins_10)).days) if logins_10 else None
            ),
            "breadth_28d": float(
                len({e["event"] for e in window(28, account) if e["event"] != "login"})
            ),
            "reports_per_login_user_28d": (
                round(reports / login_users_28, 9) if login_users_28 else None
            ),
        }
    return out


def stored(platform: Platform, as_of: date) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for row in read_metric_values(platform, as_of=as_of).to_pylist():
        value = row["value"]
        out.setdefault(row["account_id"], {})[row["metric"]] = (
            None if value is None else round(value, 9)
        )
    return out


def test_rollup_in_small_chunks_and_after_late_events_matches_brute_force(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rollup_cache, "BUILD_CHUNK_DAYS", 5)
    with platform.store.session() as session:
        session.add_all([Account(id=a, name=a.upper()) for a in ACCOUNTS])
    metrics = parse_definitions(DEFINITIONS, "test")
    first = random_events(1, "m", 1500)
    assert ingest_records(platform, first, source="test").accepted == len(first)
    dates = [FIRST + timedelta(days=d) for d in (0, 9, 27, 28, 40, 41, 55, 70, 91, 95)]
    run = compute_metrics(platform, dates, metrics)
    assert run.rollup_days_rebuilt > DAYS
    for d in dates:
        assert stored(platform, d) == brute_force(first, d), d

    # more events, many of them in old days: only days near changed partitions rebuild
    late = [e for e in random_events(2, "n", 400) if e["timestamp"] < "2025-03-20"]
    assert ingest_records(platform, late, source="test").accepted == len(late)
    run = compute_metrics(platform, dates, metrics)
    assert 0 < run.rollup_days_rebuilt < DAYS
    for d in dates:
        assert stored(platform, d) == brute_force(first + late, d), d
    # one date alone reads only the days its windows need, and agrees
    compute_metrics(platform, dates[4], metrics)
    assert stored(platform, dates[4]) == brute_force(first + late, dates[4])
