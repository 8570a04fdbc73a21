"""A small hand-built book of accounts for the UI tests, and logged-in clients.

Four accounts owned by two CSMs, with contacts, contracts, tickets, surveys,
activities and health snapshots written through the health package's own
snapshot writer, so every number a page shows is known in advance.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from kizuna.auth.users import add_user
from kizuna.health.snapshots import SNAPSHOT_SCHEMA, write_snapshot
from kizuna.metrics.store import write_values
from kizuna.platform import Platform
from kizuna.store.models import (
    Account,
    Activity,
    Contact,
    ContractLine,
    SurveyResponse,
    TeamRole,
    Ticket,
)
from kizuna.web import create_standalone_app

PASSWORD = "correct-horse-battery"
TODAY = date(2025, 6, 30)
USERS = {
    "ada": ("Ada Admin", "ada@example.com", TeamRole.ADMIN),
    "carl": ("Carl CSM", "carl@example.com", TeamRole.CSM),
    "cora": ("Cora CSM", "cora@example.com", TeamRole.CSM),
    "vic": ("Vic Viewer", "vic@example.com", TeamRole.VIEWER),
}
# id, name, segment, region, owner, ARR, contract start, end
ACCOUNTS = [
    (
        "acme",
        "Acme Corp",
        "enterprise",
        "APAC",
        "carl",
        "120000",
        date(2024, 9, 1),
        date(2025, 8, 31),
    ),
    ("bolt", "Bolt Ltd", "smb", "EMEA", "carl", "8000", date(2025, 1, 1), date(2025, 12, 31)),
    (
        "cirrus",
        "Cirrus KK",
        "mid-market",
        "APAC",
        "cora",
        "40000",
        date(2024, 11, 1),
        date(2025, 10, 31),
    ),
    ("delta", "Delta Inc", "smb", "AMER", "cora", "6000", date(2024, 7, 1), date(2026, 6, 30)),
]
# account -> (score, band) today, and 30 days earlier
HEALTH = {
    "acme": ((38.0, "red"), (71.0, "yellow")),
    "bolt": ((82.0, "green"), (80.0, "green")),
    "cirrus": ((64.0, "yellow"), (66.0, "yellow")),
    "delta": ((45.0, "red"), (48.0, "red")),
}


def _measures(score: float) -> list[dict[str, object]]:
    # Two measures, weights 0.6 / 0.4, whose contributions add up to the score.
    usage_score = min(100.0, score * 1.2)
    nps_score = (score - 0.6 * usage_score) / 0.4
    return [
        {
            "group": "adoption",
            "name": "weekly_active_users",
            "source": "metric:wau",
            "scheme": "linear",
            "raw_value": score / 2,
            "score": usage_score,
            "weight": 0.6,
            "effective_weight": 0.6,
            "contribution": 0.6 * usage_score,
            "missing": False,
        },
        {
            "group": "sentiment",
            "name": "nps",
            "source": "survey:nps",
            "scheme": "thresholds",
            "raw_value": 7.0,
            "score": nps_score,
            "weight": 0.4,
            "effective_weight": 0.4,
            "contribution": 0.4 * nps_score,
            "missing": False,
        },
    ]


def write_health(platform: Platform) -> None:
    """Health snapshots for today, 7 and 30 days earlier (7 days earlier = halfway)."""
    for offset in (30, 7, 0):
        day = TODAY - timedelta(days=offset)
        rows = []
        for aid, name, segment, *_ in ACCOUNTS:
            (now, band_now), (then, band_then) = HEALTH[aid]
            score = now if offset == 0 else then if offset == 30 else (now + then) / 2
            band = band_now if offset == 0 else band_then
            rows.append(
                {
                    "account_id": aid,
                    "as_of": day,
                    "name": name,
                    "segment": segment,
                    "parent_id": None,
                    "scorecard": "default",
                    "method": "scorecard",
                    "arr": 0.0,
                    "score": score,
                    "band": band,
                    "missing": [],
                    "groups": [],
                    "measures": _measures(score),
                    "children": [],
                }
            )
        write_snapshot(platform.settings, day, pa.Table.from_pylist(rows, schema=SNAPSHOT_SCHEMA))


def write_metrics(platform: Platform) -> None:
    """Weekly active users of every account on the three health dates (metrics' own writer)."""
    days = [TODAY - timedelta(days=d) for d in (30, 7, 0)]
    wide = pa.table(
        {
            "as_of": pa.array([d for d in days for _ in ACCOUNTS], pa.date32()),
            "account_id": [a[0] for _ in days for a in ACCOUNTS],
            "weekly_active_users": [float(10 * i + n) for i in range(3) for n in range(4)],
        }
    )
    write_values(platform.settings.home, wide, ["weekly_active_users"])


def seed_book(platform: Platform) -> None:
    for member_id, (name, email, role) in USERS.items():
        add_user(
            platform, member_id=member_id, name=name, email=email, role=role, password=PASSWORD
        )
    with platform.store.session() as s:
        for aid, name, segment, region, owner, *_ in ACCOUNTS:
            s.add(Account(id=aid, name=name, segment=segment, region=region, owner_id=owner))
        s.flush()
        for aid, _, _, _, _, arr, start, end in ACCOUNTS:
            s.add(
                ContractLine(
                    id=f"{aid}-l1",
                    account_id=aid,
                    product="core",
                    arr=Decimal(arr),
                    currency="USD",
                    start_date=start,
                    end_date=end,
                )
            )
        s.add_all(
            [
                Contact(
                    id="acme-c1",
                    account_id="acme",
                    name="Aiko Sato",
                    title="CIO",
                    success_role="evaluator",
                ),
                Contact(
                    id="acme-c2",
                    account_id="acme",
                    name="Ken Ito",
                    title="Ops lead",
                    success_role="end_user",
                ),
                Contact(id="bolt-c1", account_id="bolt", name="Bea Bolt", success_role="promoter"),
                Contact(id="bolt-c2", account_id="bolt", name="Bob Bolt", success_role="evaluator"),
            ]
        )
        s.add(
            Ticket(
                id="t1",
                account_id="acme",
                subject="Login fails for SSO users",
                opened_at=datetime(2025, 6, 20, 9, tzinfo=UTC),
                priority="urgent",
                status="open",
            )
        )
        s.add(
            SurveyResponse(
                id="s1",
                account_id="acme",
                kind="nps",
                score=3,
                comment="Too slow",
                answered_at=datetime(2025, 6, 10, 8, tzinfo=UTC),
            )
        )
        s.add(
            Activity(
                id="a1",
                account_id="acme",
                kind="meeting",
                author_id="carl",
                activity_date=date(2025, 6, 25),
                text="Quarterly review: renewal at risk",
            )
        )
    write_health(platform)
    write_metrics(platform)


@pytest.fixture
def web_platform(platform: Platform) -> Platform:
    """The book on the parametrised store (SQLite and PostgreSQL), cookies over plain HTTP."""
    settings = platform.settings.model_copy(update={"cookie_secure": False})
    web = Platform(settings=settings, store=platform.store, clock=platform.clock)
    seed_book(web)
    return web


@pytest.fixture
def client(web_platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_standalone_app(web_platform, background=False)) as c:
        yield c


def login(client: TestClient, member_id: str) -> None:
    """Log ``client`` in as ``member_id`` through the login form."""
    response = client.post(
        "/ui/login",
        data={"email": USERS[member_id][1], "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)
