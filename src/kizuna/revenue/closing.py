"""Closing an opportunity: won (the renewing line linked, or created) or lost (why, when).

Contract lines stay the truth for ARR. Winning a renewal does not change ARR by
itself: the renewing line arrives with the billing import and is *linked*
(:func:`link_won_renewals`, matched by account, product and dates). Only with
the ``opportunity_creates_lines`` setting (teams without a billing feed) does a
won opportunity create its line. Losing records the reason and date; the churn
the ledger shows comes from the lines ending unrenewed.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kizuna.errors import InvalidInput, Problem
from kizuna.platform import Platform
from kizuna.revenue.definition import RevenueDefinition
from kizuna.revenue.opportunities import (
    OpportunityView,
    open_for_update,
    record_stage,
    view_of,
)
from kizuna.store.models import ContractLine, ContractStatus
from kizuna.store.revenue_models import Opportunity, OpportunityStatus, OpportunityType

#: Days after a line's end within which its renewing line may start and still be linked.
LINK_GRACE_DAYS = 30


def renewal_candidate(s: Any, opp: Opportunity) -> ContractLine | None:
    """The imported line that renews ``opp``'s line: same account and product, starting
    after the old line started and by ``LINK_GRACE_DAYS`` after its end; the linked one
    (``renews_line_id``) first, then the earliest start."""
    if opp.renews_line_id is None:
        return None
    old = s.get(ContractLine, opp.renews_line_id)
    if old is None:
        return None
    linked = (
        s.execute(
            sa.select(ContractLine)
            .where(ContractLine.renews_line_id == old.id)
            .order_by(ContractLine.start_date, ContractLine.id)
        )
        .scalars()
        .first()
    )
    if linked is not None:
        return linked
    return (
        s.execute(
            sa.select(ContractLine)
            .where(
                ContractLine.account_id == old.account_id,
                ContractLine.product == old.product,
                ContractLine.id != old.id,
                ContractLine.start_date > old.start_date,
                ContractLine.end_date > old.end_date,
                ContractLine.start_date <= old.end_date + timedelta(days=LINK_GRACE_DAYS + 1),
                ContractLine.renews_line_id.is_(None),
                ContractLine.status != ContractStatus.CANCELLED,
            )
            .order_by(ContractLine.start_date, ContractLine.id)
        )
        .scalars()
        .first()
    )


def _one_year_after(start: date) -> date:
    try:
        return start.replace(year=start.year + 1) - timedelta(days=1)
    except ValueError:  # 29 February
        return start.replace(year=start.year + 1, day=28)


def _create_line(s: Any, opp: Opportunity, on: date) -> ContractLine | None:
    """The line a won opportunity books when there is no billing feed."""
    if opp.type == OpportunityType.RENEWAL:
        old = s.get(ContractLine, opp.renews_line_id) if opp.renews_line_id else None
        if old is None:
            return None
        start = old.end_date + timedelta(days=1)
        arr = opp.arr_total if opp.arr_total is not None else old.arr + opp.arr_change
        product, currency, renews = old.product, old.currency, old.id
    else:
        if opp.arr_change <= 0 or not opp.products:
            return None  # a downsell shows as a smaller renewal line, not a negative one
        start, arr, product, currency, renews = (
            on,
            opp.arr_change,
            opp.products[0],
            opp.currency,
            None,
        )
    line = ContractLine(
        id=f"{opp.id}-line",
        account_id=opp.account_id,
        product=product,
        arr=max(arr, Decimal("0")),
        currency=currency,
        start_date=start,
        end_date=_one_year_after(start),
        status=ContractStatus.ACTIVE if start <= on else ContractStatus.PENDING,
        renews_line_id=renews,
    )
    s.add(line)
    return line


def win(
    platform: Platform,
    definition: RevenueDefinition,
    opportunity_id: str,
    *,
    on: date | None = None,
    by: str | None = None,
    reason: str | None = None,
) -> OpportunityView:
    """Mark an opportunity won on ``on``: link its renewing line, or (setting) create it."""
    on = on or platform.today()
    with platform.store.session() as s:
        opp = open_for_update(s, opportunity_id)
        record_stage(s, opp, definition.won_stage.id, on, by)
        opp.status = OpportunityStatus.WON
        opp.closed_on = on
        opp.close_reason = reason
        line = renewal_candidate(s, opp) if opp.type == OpportunityType.RENEWAL else None
        if line is None and platform.settings.opportunity_creates_lines:
            line = _create_line(s, opp, on)
        if line is not None:
            opp.line_id = line.id
            if opp.type == OpportunityType.RENEWAL and line.renews_line_id is None:
                line.renews_line_id = opp.renews_line_id
        s.flush()
        return view_of(opp, definition)


def lose(
    platform: Platform,
    definition: RevenueDefinition,
    opportunity_id: str,
    *,
    reason: str,
    on: date | None = None,
    by: str | None = None,
) -> OpportunityView:
    """Mark an opportunity lost on ``on`` with why (contract lines are left as they are)."""
    if not reason or not reason.strip():
        raise InvalidInput(
            "a lost opportunity needs a reason", [Problem("required", field="reason")]
        )
    on = on or platform.today()
    with platform.store.session() as s:
        opp = open_for_update(s, opportunity_id)
        record_stage(s, opp, definition.lost_stage.id, on, by)
        opp.status = OpportunityStatus.LOST
        opp.closed_on = on
        opp.close_reason = reason.strip()
        s.flush()
        return view_of(opp, definition)


def link_won_renewals(platform: Platform) -> int:
    """Link won renewal opportunities to renewing lines that have arrived since."""
    linked = 0
    with platform.store.session() as s:
        waiting = s.execute(
            sa.select(Opportunity).where(
                Opportunity.type == OpportunityType.RENEWAL,
                Opportunity.status == OpportunityStatus.WON,
                Opportunity.line_id.is_(None),
                Opportunity.renews_line_id.is_not(None),
            )
        ).scalars()
        for opp in waiting:
            line = renewal_candidate(s, opp)
            if line is not None:
                opp.line_id = line.id
                if line.renews_line_id is None:
                    line.renews_line_id = opp.renews_line_id
                linked += 1
    return linked
