"""A hand-built account with a success plan, metric values, tickets, a contract and activities.

``acme`` (Acme Corp / アクメ株式会社 in Japanese documents' plan title) has a plan
2025-01-01 → 2025-07-01 with:

* KGI ``tickets`` (manual, lower is better): baseline 100 → target 50, check-in 70 on 2025-06-01;
* KPI ``logins`` bound to metric ``logins_28d``: baseline 10 → target 110; values 30 on
  2025-03-31, 60 on 2025-05-31, 80 on 2025-06-28;
* KPI ``hours`` (manual): baseline 0 → target 10, check-in 4 on 2025-06-20.

Marker strings are planted where a customer must never see them: the CSM's
health sentiment comment, an internal note's text, and another account ``rival``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from kizuna.metrics.store import write_values
from kizuna.plans import import_plan_data
from kizuna.platform import Platform
from kizuna.store.health_models import ManualSentiment
from kizuna.store.models import (
    Account,
    Activity,
    ActivityKind,
    Contact,
    ContractLine,
    ContractStatus,
    SuccessRole,
    TeamMember,
    Ticket,
    TicketPriority,
    TicketStatus,
)

START, END = date(2025, 1, 1), date(2025, 7, 1)
AS_OF = date(2025, 6, 30)
SECRET_NOTE = "MARKER-INTERNAL-NOTE-7731"
HEALTH_MARKER = "MARKER-HEALTH-SENTIMENT-2207"
RIVAL_NAME = "MARKER-RIVAL-ACCOUNT-5519"
SHARED_ACTION = "Roll out the weekly report to the sales team"


def kpi(
    key: str,
    name: str,
    unit: str,
    direction: str,
    baseline: float,
    target: float,
    metric: str | None = None,
    checkins: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "key": key,
        "name": name,
        "unit": unit,
        "direction": direction,
        "baseline": baseline,
        "baseline_date": START,
        "target": target,
        "target_date": END,
        "evaluation_method": None,
        "metric": metric,
        "checkins": checkins or [],
    }


def plan_data(language: str = "en") -> dict[str, Any]:
    return {
        "kizuna_plan": 1,
        "id": "p1",
        "account_id": "acme",
        "template": "enterprise_high_touch",
        "title": "Acme success plan" if language == "en" else "アクメ成果支援計画書",
        "language": language,
        "state": "active",
        "start_date": START,
        "end_date": END,
        "owner_id": "carl",
        "closed_on": None,
        "previous_plan_id": None,
        "vendor_roles": [{"role": "csm", "member_id": "carl", "name": None}],
        "checklist": [
            {
                "label": "Kick-off held",
                "failure_pattern": "No evaluator named",
                "done": True,
                "done_on": date(2025, 1, 10),
                "note": None,
            }
        ],
        "issues": [
            {
                "business_issue": "Reporting takes two days",
                "problem": "Manual exports",
                "solution": "Scheduled reports",
                "benefit": "Same-day numbers",
            }
        ],
        "kgi": kpi(
            "tickets",
            "Support tickets per month",
            "tickets",
            "lower",
            100.0,
            50.0,
            checkins=[{"value": 70.0, "date": date(2025, 6, 1), "by": "Pat", "note": None}],
        ),
        "initiatives": [
            {
                "key": "reporting",
                "name": "Scheduled reporting",
                "purpose": "Faster numbers",
                "approach": None,
                "extent": None,
                "impact": 5,
                "difficulty": 2,
                "tie_break": None,
                "order_override": None,
                "kpis": [
                    kpi(
                        "logins",
                        "Weekly logins",
                        "logins",
                        "higher",
                        10.0,
                        110.0,
                        metric="logins_28d",
                    )
                ],
            },
            {
                "key": "api",
                "name": "API integration",
                "purpose": None,
                "approach": None,
                "extent": None,
                "impact": 3,
                "difficulty": 4,
                "tie_break": None,
                "order_override": None,
                "kpis": [
                    kpi(
                        "hours",
                        "Hours saved",
                        "hours",
                        "higher",
                        0.0,
                        10.0,
                        checkins=[
                            {"value": 4.0, "date": date(2025, 6, 20), "by": "Pat", "note": None}
                        ],
                    )
                ],
            },
        ],
        "milestones": [
            {
                "name": "Kick-off",
                "due_date": date(2025, 1, 14),
                "state": "done",
                "done_on": date(2025, 1, 10),
            },
            {
                "name": "Reports live",
                "due_date": date(2025, 6, 15),
                "state": "done",
                "done_on": date(2025, 6, 12),
            },
            {
                "name": "API in production",
                "due_date": date(2025, 7, 20),
                "state": "open",
                "done_on": None,
            },
        ],
        "meetings": [
            {
                "id": "ms-eval",
                "name": "Monthly review",
                "cadence": "monthly",
                "audience": "evaluator",
                "first_date": date(2025, 1, 31),
                "last_date": None,
            },
        ],
    }


def seed(platform: Platform, language: str = "en") -> None:
    with platform.store.session() as s:
        if s.get(TeamMember, "carl") is None:
            s.add(TeamMember(id="carl", name="Carl CSM", email="carl@example.com"))
        s.flush()
        if s.get(Account, "acme") is None:
            s.add(Account(id="acme", name="Acme Corp", segment="enterprise", owner_id="carl"))
        s.add(Account(id="rival", name=RIVAL_NAME, segment="enterprise", owner_id="carl"))
        s.flush()
        s.add(ManualSentiment(account_id="acme", value=1, comment=HEALTH_MARKER, author="carl"))
        s.add(
            Contact(
                id="eve",
                account_id="acme",
                name="Eve Evaluator",
                success_role=SuccessRole.EVALUATOR,
            )
        )
        s.add(
            Contact(
                id="pat", account_id="acme", name="Pat Promoter", success_role=SuccessRole.PROMOTER
            )
        )
        s.add(
            ContractLine(
                id="doc-c1",
                account_id="acme",
                product="Kizuna Pro",
                arr=Decimal("120000"),
                currency="USD",
                quantity=50,
                start_date=date(2025, 1, 1),
                end_date=date(2025, 12, 31),
                status=ContractStatus.ACTIVE,
            )
        )
        for i, (opened, closed) in enumerate(
            [
                (datetime(2025, 4, 10, 9, tzinfo=UTC), datetime(2025, 4, 10, 19, tzinfo=UTC)),
                (datetime(2025, 5, 2, 9, tzinfo=UTC), datetime(2025, 5, 4, 9, tzinfo=UTC)),
                (datetime(2025, 6, 20, 9, tzinfo=UTC), None),
            ]
        ):
            s.add(
                Ticket(
                    id=f"doc-t{i}",
                    account_id="acme",
                    subject=f"ticket {i}",
                    opened_at=opened,
                    closed_at=closed,
                    priority=TicketPriority.HIGH if i == 2 else TicketPriority.NORMAL,
                    status=TicketStatus.OPEN if closed is None else TicketStatus.SOLVED,
                    csat=5 if i == 0 else (3 if i == 1 else None),
                )
            )
        s.add(
            Activity(
                id="doc-a1",
                account_id="acme",
                kind=ActivityKind.MEETING,
                activity_date=date(2025, 5, 30),
                text="Monthly review",
                meeting_series_id=None,
            )
        )
        s.add(
            Activity(
                id="doc-a2",
                account_id="acme",
                kind=ActivityKind.NOTE,
                activity_date=date(2025, 6, 10),
                text=SHARED_ACTION,
                shared_with_customer=True,
            )
        )
        s.add(
            Activity(
                id="doc-a3",
                account_id="acme",
                kind=ActivityKind.NOTE,
                activity_date=date(2025, 6, 11),
                text=SECRET_NOTE,
            )
        )
        s.add(
            Activity(
                id="doc-a4",
                account_id="rival",
                kind=ActivityKind.NOTE,
                activity_date=date(2025, 6, 11),
                text=RIVAL_NAME,
            )
        )
    import_plan_data(platform, plan_data(language))
    rows = [
        (date(2025, 3, 31), 30.0, 20.0, 3.0, 0.4),
        (date(2025, 5, 31), 60.0, 30.0, 4.0, 0.6),
        (date(2025, 6, 28), 80.0, 35.0, 5.0, 0.7),
    ]
    wide = pa.table(
        {
            "as_of": pa.array([r[0] for r in rows for _ in (1, 2)], pa.date32()),
            "account_id": [a for _ in rows for a in ("acme", "rival")],
            "logins_28d": pa.array([r[1] for r in rows for _ in (1, 2)], pa.float64()),
            "active_users_28d": pa.array([r[2] for r in rows for _ in (1, 2)], pa.float64()),
            "feature_breadth_28d": pa.array([r[3] for r in rows for _ in (1, 2)], pa.float64()),
            "seat_utilisation_28d": pa.array([r[4] for r in rows for _ in (1, 2)], pa.float64()),
        }
    )
    write_values(
        platform.settings.home,
        wide,
        ["logins_28d", "active_users_28d", "feature_breadth_28d", "seat_utilisation_28d"],
    )
