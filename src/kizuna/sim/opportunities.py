"""The demo's deal history: the closed renewal and upsell opportunities of the window.

The simulator writes contract lines, not deals. So that the renewal centre's
accuracy, the close rate and the bookings have a history on the demo, every
line that ended in the simulated window gets a renewal opportunity closed on its
end date — won when a line of the same account and product follows it within
31 days (the renewal rule), else lost —, and every renewal that grew ARR gets a
won upsell for the difference on the renewal's start. Stages move through the
default pipeline on the way. Open renewals ahead are left to the daily run.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import sqlalchemy as sa

from kizuna.platform import Platform
from kizuna.store.models import Account, ContractLine, ContractStatus
from kizuna.store.revenue_models import (
    Opportunity,
    OpportunitySource,
    OpportunityStageChange,
    OpportunityStatus,
    OpportunityType,
)

_PATH = ("qualify", "proposal", "negotiation", "commit")
_REASONS = ("budget cut", "moved to a competitor", "project cancelled", "no adoption")


def simulate_opportunities(platform: Platform, start: date, end: date, seed: int = 0) -> int:
    """Closed opportunities for lines that ended in ``[start, end)``; returns how many."""
    rng = np.random.default_rng(seed + 18)
    cl = ContractLine
    with platform.store.session() as s:
        lines = s.execute(
            sa.select(
                cl.id,
                cl.account_id,
                cl.product,
                cl.arr,
                cl.currency,
                cl.start_date,
                cl.end_date,
                Account.owner_id,
            )
            .join(Account, Account.id == cl.account_id)
            .where(cl.status != ContractStatus.CANCELLED, cl.arr > 0)
            .order_by(cl.account_id, cl.product, cl.start_date)
        ).all()
        taken = set(s.execute(sa.select(Opportunity.id)).scalars())
    by_key: dict[tuple[str, str], list[Any]] = {}
    for ln in lines:
        by_key.setdefault((ln.account_id, ln.product), []).append(ln)
    opps: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []

    def add(opp: dict[str, Any], opened: date, closed: date, won: bool) -> None:
        # over several years a renewed line and a renewed mid-term expansion can share
        # the same successor: its upsell is booked once
        if opp["id"] in taken:
            return
        taken.add(opp["id"])
        opps.append(opp)
        path = _PATH[: int(rng.integers(1, len(_PATH) + 1))]
        span = max((closed - opened).days, 1)
        previous = None
        for i, stage in enumerate(path):
            steps.append(
                {
                    "opportunity_id": opp["id"],
                    "from_stage": previous,
                    "to_stage": stage,
                    "changed_on": opened + timedelta(days=span * i // len(path)),
                    "changed_by": None,
                }
            )
            previous = stage
        steps.append(
            {
                "opportunity_id": opp["id"],
                "from_stage": previous,
                "to_stage": "closed_won" if won else "closed_lost",
                "changed_on": closed,
                "changed_by": None,
            }
        )

    for (account_id, product), chain in by_key.items():
        for i, ln in enumerate(chain):
            if not start <= ln.end_date < end:
                continue
            nxt = next(
                (
                    n
                    for n in chain[i + 1 :]
                    if ln.start_date < n.start_date <= ln.end_date + timedelta(days=31)
                ),
                None,
            )
            won = nxt is not None
            nxt_id = nxt.id if nxt is not None else None
            delta = (nxt.arr - ln.arr) if nxt is not None else Decimal(0)
            opened = ln.end_date - timedelta(days=120)
            base = {
                "account_id": account_id,
                "products": [product],
                "currency": ln.currency,
                "probability": None,
                "owner_id": ln.owner_id,
                "source": OpportunitySource.AUTOMATIC,
                "external_id": None,
                "attributes": {},
                "line_id": nxt_id,
            }
            add(
                {
                    **base,
                    "id": f"REN-{ln.id}"[:64],
                    "name": f"Renewal of {product} ({ln.end_date})",
                    "type": OpportunityType.RENEWAL,
                    "arr_change": delta,
                    "arr_total": ln.arr,
                    "stage": "closed_won" if won else "closed_lost",
                    "expected_close_date": ln.end_date,
                    "renews_line_id": ln.id,
                    "status": OpportunityStatus.WON if won else OpportunityStatus.LOST,
                    "closed_on": ln.end_date,
                    "close_reason": None if won else _REASONS[int(rng.integers(0, len(_REASONS)))],
                },
                opened,
                ln.end_date,
                won,
            )
            if nxt is not None and delta > 0:
                add(
                    {
                        **base,
                        "id": f"UP-{nxt.id}"[:64],
                        "name": f"Expansion of {product}",
                        "type": OpportunityType.UPSELL,
                        "arr_change": nxt.arr - ln.arr,
                        "arr_total": nxt.arr,
                        "stage": "closed_won",
                        "expected_close_date": nxt.start_date,
                        "renews_line_id": None,
                        "status": OpportunityStatus.WON,
                        "closed_on": nxt.start_date,
                        "close_reason": None,
                        "line_id": nxt.id,
                        "source": OpportunitySource.MANUAL,
                    },
                    nxt.start_date - timedelta(days=60),
                    nxt.start_date,
                    True,
                )
    with platform.store.session() as s:
        for i in range(0, len(opps), 2000):
            s.execute(sa.insert(Opportunity), opps[i : i + 2000])
        for i in range(0, len(steps), 5000):
            s.execute(sa.insert(OpportunityStageChange), steps[i : i + 5000])
    return len(opps)
