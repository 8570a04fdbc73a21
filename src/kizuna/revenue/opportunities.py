"""Opportunities: create, move through the pipeline, win, lose; renewals opened automatically.

Contract lines stay the truth for ARR. Winning a renewal does not change ARR by
itself: the renewing line arrives with the billing import and is *linked*
(:func:`link_won_renewals`, matched by account, product and dates). Only with
the ``opportunity_creates_lines`` setting (teams without a billing feed) does a
won opportunity create its line. Losing records the reason and date; the churn
the ledger shows comes from the lines ending unrenewed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kizuna.errors import Conflict, InvalidInput, NotFound, Problem
from kizuna.platform import Platform
from kizuna.revenue.definition import RevenueDefinition
from kizuna.store.models import Account, ContractLine, ContractStatus, TeamMember, TeamRole
from kizuna.store.revenue_models import (
    Opportunity,
    OpportunitySource,
    OpportunityStageChange,
    OpportunityStatus,
    OpportunityType,
)

#: Days after a line's end within which its renewing line may start and still be linked.
LINK_GRACE_DAYS = 30


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


@dataclass(frozen=True, slots=True)
class RenewalRun:
    """What :func:`open_renewals` did as of a date."""

    as_of: date
    lead_days: int
    dry: bool
    opened: int
    linked: int
    opportunity_ids: list[str] = field(default_factory=list)


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


def _open_opportunity(s: Any, opportunity_id: str) -> Opportunity:
    opp = s.get(Opportunity, opportunity_id)
    if opp is None:
        raise NotFound(f"no opportunity {opportunity_id}")
    if opp.status != OpportunityStatus.OPEN:
        raise Conflict(f"opportunity {opportunity_id} is already {opp.status.value}")
    return opp


def _record_stage(s: Any, opp: Opportunity, stage: str, on: date, by: str | None) -> None:
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
        opp = _open_opportunity(s, opportunity_id)
        _record_stage(s, opp, stage, on or platform.today(), by)
        s.flush()
        return view_of(opp, definition)


def _renewal_candidate(s: Any, opp: Opportunity) -> ContractLine | None:
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
        opp = _open_opportunity(s, opportunity_id)
        _record_stage(s, opp, definition.won_stage.id, on, by)
        opp.status = OpportunityStatus.WON
        opp.closed_on = on
        opp.close_reason = reason
        line = _renewal_candidate(s, opp) if opp.type == OpportunityType.RENEWAL else None
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
        opp = _open_opportunity(s, opportunity_id)
        _record_stage(s, opp, definition.lost_stage.id, on, by)
        opp.status = OpportunityStatus.LOST
        opp.closed_on = on
        opp.close_reason = reason.strip()
        s.flush()
        return view_of(opp, definition)


# -- automatic renewals ------------------------------------------------------------


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
            line = _renewal_candidate(s, opp)
            if line is not None:
                opp.line_id = line.id
                if line.renews_line_id is None:
                    line.renews_line_id = opp.renews_line_id
                linked += 1
    return linked


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
