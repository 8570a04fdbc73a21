"""Opportunities: what one is, who owns it, how it is opened, read and moved or reassigned.

Winning and losing are in :mod:`kizuna.revenue.closing`; the renewal
opportunities the daily run opens by itself in :mod:`kizuna.revenue.renewals`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kizuna.errors import Conflict, InvalidInput, NotFound, Problem
from kizuna.platform import Platform
from kizuna.revenue.definition import RevenueDefinition
from kizuna.store.models import Account, ContractLine, TeamMember, TeamRole
from kizuna.store.revenue_models import (
    Opportunity,
    OpportunitySource,
    OpportunityStageChange,
    OpportunityStatus,
    OpportunityType,
)


@dataclass(frozen=True, slots=True)
class StageStep:
    from_stage: str | None
    to_stage: str
    changed_on: date
    changed_by: str | None


@dataclass(frozen=True, slots=True)
class OpportunityView:
    """An opportunity as every edge shows it (probability resolved, forecast category)."""

    id: str
    account_id: str
    name: str
    type: str
    products: list[str]
    arr_change: Decimal
    arr_total: Decimal | None
    currency: str
    stage: str
    probability: float
    forecast_category: str
    weighted_arr: Decimal
    expected_close_date: date
    owner_id: str | None
    source: str
    external_id: str | None
    status: str
    closed_on: date | None
    close_reason: str | None
    renews_line_id: str | None
    line_id: str | None
    history: list[StageStep] = field(default_factory=list)


def forecast_amount(opp: Opportunity | Any) -> Decimal:
    """The ARR an opportunity brings if won: a renewal's total (the ARR kept), else the change."""
    if opp.type == OpportunityType.RENEWAL:
        return opp.arr_total if opp.arr_total is not None else opp.arr_change
    return opp.arr_change


def view_of(
    opp: Opportunity | Any, definition: RevenueDefinition, history: Sequence[StageStep] = ()
) -> OpportunityView:
    """The view of an opportunity (an ORM object or a row with the same columns)."""
    stage = definition.stage(opp.stage)
    if opp.status == OpportunityStatus.WON:
        probability, category = 1.0, "won"
    elif opp.status == OpportunityStatus.LOST:
        probability, category = 0.0, "lost"
    else:
        default = stage.probability if stage else 0.0
        probability = opp.probability if opp.probability is not None else default
        category = stage.forecast if stage else "pipeline"
    amount = forecast_amount(opp)
    return OpportunityView(
        id=opp.id,
        account_id=opp.account_id,
        name=opp.name,
        type=OpportunityType(opp.type).value,
        products=list(opp.products or []),
        arr_change=opp.arr_change,
        arr_total=opp.arr_total,
        currency=opp.currency,
        stage=opp.stage,
        probability=probability,
        forecast_category=category,
        weighted_arr=(amount * Decimal(str(probability))).quantize(Decimal("0.01")),
        expected_close_date=opp.expected_close_date,
        owner_id=opp.owner_id,
        source=OpportunitySource(opp.source).value,
        external_id=opp.external_id,
        status=OpportunityStatus(opp.status).value,
        closed_on=opp.closed_on,
        close_reason=opp.close_reason,
        renews_line_id=opp.renews_line_id,
        line_id=opp.line_id,
        history=list(history),
    )


# -- owners --------------------------------------------------------------------


class OwnerResolver:
    """Chooses a new opportunity's owner from the definition's owner table.

    ``sales`` without a named member spreads accounts over the active sales
    members by a stable hash of the account id, so an account keeps its
    account executive from one opportunity to the next.
    """

    def __init__(self, platform: Platform, definition: RevenueDefinition) -> None:
        self.definition = definition
        with platform.store.session() as s:
            members = s.execute(sa.select(TeamMember.id, TeamMember.role, TeamMember.active)).all()
        self.known = {m.id for m in members}
        self.sales = sorted(m.id for m in members if m.role == TeamRole.SALES and m.active)

    def owner(
        self, kind: OpportunityType, products: list[str], account_id: str, csm: str | None
    ) -> str | None:
        rule = self.definition.owner_rule(kind, products)
        if rule is None or rule.owner == "csm":
            return csm
        if rule.owner == "sales":
            if rule.member is not None and rule.member in self.known:
                return rule.member
            if not self.sales:
                return csm
            digest = hashlib.blake2b(account_id.encode(), digest_size=4).digest()
            return self.sales[int.from_bytes(digest) % len(self.sales)]
        return rule.owner if rule.owner in self.known else csm


# -- create, read ----------------------------------------------------------------


def _new_id(session: Any, prefix: str) -> str:
    count = session.execute(sa.select(sa.func.count()).select_from(Opportunity)).scalar_one()
    n = count + 1
    while session.get(Opportunity, f"{prefix}-{n:06d}") is not None:
        n += 1
    return f"{prefix}-{n:06d}"


def create_opportunity(
    platform: Platform,
    definition: RevenueDefinition,
    *,
    account_id: str,
    type: OpportunityType,
    arr_change: Decimal,
    expected_close_date: date,
    products: Sequence[str] = (),
    arr_total: Decimal | None = None,
    currency: str | None = None,
    stage: str | None = None,
    probability: float | None = None,
    owner_id: str | None = None,
    source: OpportunitySource = OpportunitySource.MANUAL,
    name: str | None = None,
    renews_line_id: str | None = None,
    opportunity_id: str | None = None,
    created_by: str | None = None,
    on: date | None = None,
) -> OpportunityView:
    """Open an opportunity; its owner comes from the owner table unless given."""
    problems = []
    stage = stage or definition.first_stage
    st = definition.stage(stage)
    if st is None:
        problems.append(
            Problem(
                f"unknown stage {stage!r}; stages: {', '.join(s.id for s in definition.pipeline)}",
                field="stage",
            )
        )
    elif st.outcome != "open":
        problems.append(Problem(f"a new opportunity cannot start {st.outcome}", field="stage"))
    if probability is not None and not 0 <= probability <= 1:
        problems.append(Problem("probability must be between 0 and 1", field="probability"))
    if type == OpportunityType.DOWNSELL and arr_change > 0:
        problems.append(Problem("a downsell's ARR change must be ≤ 0", field="arr_change"))
    if type in (OpportunityType.UPSELL, OpportunityType.CROSS_SELL) and arr_change < 0:
        problems.append(Problem(f"an {type.value}'s ARR change must be ≥ 0", field="arr_change"))
    if problems:
        raise InvalidInput("invalid opportunity", problems)
    on = on or platform.today()
    with platform.store.session() as s:
        account = s.get(Account, account_id)
        if account is None:
            raise NotFound(f"no account {account_id}")
        if owner_id is not None and s.get(TeamMember, owner_id) is None:
            raise InvalidInput(
                "invalid opportunity", [Problem(f"no team member {owner_id}", field="owner_id")]
            )
        if renews_line_id is not None:
            line = s.get(ContractLine, renews_line_id)
            if line is None or line.account_id != account_id:
                raise InvalidInput(
                    "invalid opportunity",
                    [Problem(f"no contract line {renews_line_id} of {account_id}", field="line")],
                )
            taken = s.execute(
                sa.select(Opportunity.id).where(Opportunity.renews_line_id == renews_line_id)
            ).scalar()
            if taken is not None:
                raise Conflict(f"line {renews_line_id} already has renewal opportunity {taken}")
        owner = owner_id or OwnerResolver(platform, definition).owner(
            type, list(products), account_id, account.owner_id
        )
        opp_id = opportunity_id or _new_id(s, "OPP")
        if s.get(Opportunity, opp_id) is not None:
            raise Conflict(f"opportunity {opp_id} already exists")
        opp = Opportunity(
            id=opp_id,
            account_id=account_id,
            name=name or f"{account.name} — {type.value.replace('_', '-')}",
            type=type,
            products=list(products),
            arr_change=arr_change,
            arr_total=arr_total,
            currency=(currency or platform.settings.reporting_currency).upper(),
            stage=stage,
            probability=probability,
            expected_close_date=expected_close_date,
            owner_id=owner,
            source=source,
            status=OpportunityStatus.OPEN,
            renews_line_id=renews_line_id,
            attributes={},
        )
        s.add(opp)
        s.add(
            OpportunityStageChange(
                opportunity_id=opp_id,
                from_stage=None,
                to_stage=stage,
                changed_on=on,
                changed_by=created_by,
            )
        )
        s.flush()
        return view_of(opp, definition, [StageStep(None, stage, on, created_by)])


def get_opportunity(
    platform: Platform, definition: RevenueDefinition, opportunity_id: str
) -> OpportunityView:
    """One opportunity with its stage history (oldest first)."""
    with platform.store.session() as s:
        opp = s.get(Opportunity, opportunity_id)
        if opp is None:
            raise NotFound(f"no opportunity {opportunity_id}")
        steps = s.execute(
            sa.select(OpportunityStageChange)
            .where(OpportunityStageChange.opportunity_id == opportunity_id)
            .order_by(OpportunityStageChange.id)
        ).scalars()
        history = [StageStep(c.from_stage, c.to_stage, c.changed_on, c.changed_by) for c in steps]
        return view_of(opp, definition, history)


def list_opportunities(
    platform: Platform,
    definition: RevenueDefinition,
    *,
    status: str | None = None,
    type: str | None = None,
    owner: str | None = None,
    account_id: str | None = None,
    account_owner: str | None = None,
    close_from: date | None = None,
    close_to: date | None = None,
    limit: int | None = None,
) -> list[OpportunityView]:
    """Opportunities by expected close date; ``account_owner`` limits to a CSM's book."""
    q = sa.select(Opportunity)
    if status is not None:
        q = q.where(Opportunity.status == status)
    if type is not None:
        q = q.where(Opportunity.type == type)
    if owner is not None:
        q = q.where(Opportunity.owner_id == owner)
    if account_id is not None:
        q = q.where(Opportunity.account_id == account_id)
    if account_owner is not None:
        q = q.join(Account, Account.id == Opportunity.account_id).where(
            Account.owner_id == account_owner
        )
    if close_from is not None:
        q = q.where(Opportunity.expected_close_date >= close_from)
    if close_to is not None:
        q = q.where(Opportunity.expected_close_date <= close_to)
    q = q.order_by(Opportunity.expected_close_date, Opportunity.id)
    if limit is not None:
        q = q.limit(limit)
    with platform.store.session() as s:
        return [view_of(o, definition) for o in s.execute(q).scalars()]


# -- pipeline moves ------------------------------------------------------------


def open_for_update(s: Any, opportunity_id: str) -> Opportunity:
    """The open opportunity in session ``s`` (NotFound; Conflict once closed)."""
    opp = s.get(Opportunity, opportunity_id)
    if opp is None:
        raise NotFound(f"no opportunity {opportunity_id}")
    if opp.status != OpportunityStatus.OPEN:
        raise Conflict(f"opportunity {opportunity_id} is already {opp.status.value}")
    return opp


def record_stage(s: Any, opp: Opportunity, stage: str, on: date, by: str | None) -> None:
    """Move ``opp`` to ``stage`` and keep the change in its history."""
    if opp.stage == stage:
        return
    s.add(
        OpportunityStageChange(
            opportunity_id=opp.id,
            from_stage=opp.stage,
            to_stage=stage,
            changed_on=on,
            changed_by=by,
        )
    )
    opp.stage = stage


def move_stage(
    platform: Platform,
    definition: RevenueDefinition,
    opportunity_id: str,
    stage: str,
    *,
    on: date | None = None,
    by: str | None = None,
) -> OpportunityView:
    """Move an open opportunity to another open stage (kept in its history)."""
    st = definition.stage(stage)
    if st is None or st.outcome != "open":
        raise InvalidInput(
            "invalid stage",
            [
                Problem(
                    f"{stage!r} is not an open stage of the pipeline; win or lose it", field="stage"
                )
            ],
        )
    with platform.store.session() as s:
        opp = open_for_update(s, opportunity_id)
        record_stage(s, opp, stage, on or platform.today(), by)
        s.flush()
        return view_of(opp, definition)


def reassign(
    platform: Platform,
    definition: RevenueDefinition,
    opportunity_id: str,
    owner_id: str,
) -> OpportunityView:
    """Give an open opportunity to another active team member (a CSM or an account
    executive); the owner table chose the first one, people may choose the next."""
    with platform.store.session() as s:
        member = s.get(TeamMember, owner_id)
        if member is None or not member.active:
            raise InvalidInput(
                "invalid owner", [Problem(f"no active team member {owner_id}", field="owner_id")]
            )
        opp = open_for_update(s, opportunity_id)
        opp.owner_id = owner_id
        s.flush()
        return view_of(opp, definition)
