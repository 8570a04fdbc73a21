"""Renewal opportunities opened by themselves before contract lines end (the daily run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from kizuna.platform import Platform
from kizuna.revenue.closing import link_won_renewals
from kizuna.revenue.definition import RevenueDefinition
from kizuna.revenue.opportunities import OwnerResolver
from kizuna.store.models import Account, ContractLine, ContractStatus
from kizuna.store.revenue_models import (
    Opportunity,
    OpportunitySource,
    OpportunityStageChange,
    OpportunityStatus,
    OpportunityType,
)


@dataclass(frozen=True, slots=True)
class RenewalRun:
    """What :func:`open_renewals` did as of a date."""

    as_of: date
    lead_days: int
    dry: bool
    opened: int
    linked: int
    opportunity_ids: list[str] = field(default_factory=list)


def open_renewals(platform: Platform, definition: RevenueDefinition, as_of: date) -> RenewalRun:
    """Open a renewal opportunity for every line ending within the lead time of ``as_of``.

    A line qualifies when it counts (not cancelled, ARR > 0), ends in
    ``[as_of, as_of + renewal_lead_days]``, has no renewal opportunity yet and no
    line renewing it. A run as of a past date (a backfill) opens nothing: an
    opportunity is work for people today, not history. Won renewals waiting for
    their line are linked on the way.
    """
    lead = definition.renewal_lead_days
    if as_of < platform.today():
        return RenewalRun(as_of=as_of, lead_days=lead, dry=True, opened=0, linked=0)
    linked = link_won_renewals(platform)
    cl = ContractLine.__table__.c
    renewed = sa.select(ContractLine.renews_line_id).where(ContractLine.renews_line_id.is_not(None))
    has_opp = sa.select(Opportunity.renews_line_id).where(Opportunity.renews_line_id.is_not(None))
    q = (
        sa.select(
            cl.id,
            cl.account_id,
            cl.product,
            cl.arr,
            cl.currency,
            cl.end_date,
            Account.name,
            Account.owner_id,
        )
        .join(Account, Account.id == cl.account_id)
        .where(
            cl.status != ContractStatus.CANCELLED.value,
            cl.arr > 0,
            cl.end_date >= as_of,
            cl.end_date <= as_of + timedelta(days=lead),
            cl.id.not_in(renewed),
            cl.id.not_in(has_opp),
        )
        .order_by(cl.end_date, cl.id)
    )
    resolver = OwnerResolver(platform, definition)
    stage = definition.first_stage
    with platform.store.session() as s:
        due = s.execute(q).all()
        opps, steps = [], []
        for r in due:
            opp_id = f"REN-{r.id}"[:64]
            owner = resolver.owner(OpportunityType.RENEWAL, [r.product], r.account_id, r.owner_id)
            opps.append(
                {
                    "id": opp_id,
                    "account_id": r.account_id,
                    "name": f"{r.name} — renewal of {r.product} ({r.end_date})",
                    "type": OpportunityType.RENEWAL,
                    "products": [r.product],
                    "arr_change": Decimal("0"),
                    "arr_total": r.arr,
                    "currency": r.currency,
                    "stage": stage,
                    "probability": None,
                    "expected_close_date": r.end_date,
                    "owner_id": owner,
                    "source": OpportunitySource.AUTOMATIC,
                    "external_id": None,
                    "status": OpportunityStatus.OPEN,
                    "renews_line_id": r.id,
                    "attributes": {},
                }
            )
            steps.append(
                {
                    "opportunity_id": opp_id,
                    "from_stage": None,
                    "to_stage": stage,
                    "changed_on": as_of,
                    "changed_by": None,
                }
            )
        taken = set()
        if opps:
            ids = [o["id"] for o in opps]
            for i in range(0, len(ids), 1000):
                taken |= set(
                    s.execute(
                        sa.select(Opportunity.id).where(Opportunity.id.in_(ids[i : i + 1000]))
                    ).scalars()
                )
            opps = [o for o in opps if o["id"] not in taken]
            steps = [st for st in steps if st["opportunity_id"] not in taken]
        for i in range(0, len(opps), 2000):
            s.execute(sa.insert(Opportunity), opps[i : i + 2000])
            s.execute(sa.insert(OpportunityStageChange), steps[i : i + 2000])
    return RenewalRun(
        as_of=as_of,
        lead_days=lead,
        dry=False,
        opened=len(opps),
        linked=linked,
        opportunity_ids=[o["id"] for o in opps],
    )
