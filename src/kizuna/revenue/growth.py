"""The growth plan of an account (seed 003's account plan, named apart from the success plan).

What sales and CS plan together, as of a date:

* products owned — the account's counted contract lines in force, with ARR;
* whitespace — products of the catalogue (every product seen in contract lines)
  the account does not own, each with its *typical ARR*: the mean ARR of that
  product's lines among accounts of the same segment (all accounts when none of
  the segment owns it);
* expansion potential — the sum of the whitespace's typical ARR;
* the buying centre — contacts with a success role (evaluator, promoter, ...);
* open opportunities, and the CS view: health, and plan status and churn risk
  from the :class:`~kizuna.revenue.forecast.RenewalContextSource` s given.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from kizuna.errors import NotFound
from kizuna.platform import Platform
from kizuna.revenue.context import RenewalContext, RenewalContextSource, merge_contexts
from kizuna.revenue.definition import RevenueDefinition
from kizuna.revenue.opportunities import OpportunityView, list_opportunities
from kizuna.store.models import Account, Contact, ContractLine, ContractStatus, SuccessRole

_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class OwnedProduct:
    product: str
    arr: Decimal
    currency: str
    lines: int
    renewal_date: date


@dataclass(frozen=True, slots=True)
class Whitespace:
    product: str
    typical_arr: Decimal | None
    owners_in_segment: int


@dataclass(frozen=True, slots=True)
class BuyingCentreMember:
    contact_id: str
    name: str
    title: str | None
    email: str | None
    success_role: str


@dataclass(frozen=True, slots=True)
class GrowthPlan:
    account_id: str
    name: str
    segment: str | None
    as_of: date
    owned: list[OwnedProduct]
    whitespace: list[Whitespace]
    expansion_potential: Decimal
    buying_centre: list[BuyingCentreMember]
    open_opportunities: list[OpportunityView]
    cs_view: RenewalContext = field(default_factory=RenewalContext)


def growth_plan(
    platform: Platform,
    definition: RevenueDefinition,
    account_id: str,
    *,
    as_of: date,
    context: Sequence[RenewalContextSource] = (),
) -> GrowthPlan:
    """The growth plan of ``account_id`` as of ``as_of`` (see the module docstring)."""
    cl = ContractLine
    counted = sa.and_(cl.status != ContractStatus.CANCELLED, cl.arr > 0)
    with platform.store.session() as s:
        account = s.get(Account, account_id)
        if account is None:
            raise NotFound(f"no account {account_id}")
        name, segment = account.name, account.segment
        lines = s.execute(
            sa.select(cl.product, cl.arr, cl.currency, cl.end_date).where(
                cl.account_id == account_id, counted, cl.start_date <= as_of, cl.end_date >= as_of
            )
        ).all()
        catalogue = s.execute(
            sa.select(
                cl.product,
                Account.segment,
                sa.func.count(sa.distinct(cl.account_id)),
                sa.func.sum(cl.arr),
                sa.func.count(),
            )
            .join(Account, Account.id == cl.account_id)
            .where(counted)
            .group_by(cl.product, Account.segment)
        ).all()
        contacts = s.execute(
            sa.select(Contact)
            .where(Contact.account_id == account_id, Contact.success_role != SuccessRole.OTHER)
            .order_by(Contact.success_role, Contact.name)
        ).scalars()
        centre = [
            BuyingCentreMember(c.id, c.name, c.title, c.email, SuccessRole(c.success_role).value)
            for c in contacts
        ]
    owned_by: dict[str, list[tuple[Decimal, str, date]]] = defaultdict(list)
    for product, arr, currency, end in lines:
        owned_by[product].append((arr, currency, end))
    owned = [
        OwnedProduct(
            product=p,
            arr=sum((a for a, _, _ in rows), start=Decimal("0.00")),
            currency=rows[0][1],
            lines=len(rows),
            renewal_date=min(e for _, _, e in rows),
        )
        for p, rows in sorted(owned_by.items())
    ]
    per_segment: dict[str, dict[str | None, tuple[int, Decimal, int]]] = defaultdict(dict)
    for product, seg, owners, total, n in catalogue:
        per_segment[product][seg] = (int(owners), Decimal(total or 0), int(n))
    whitespace = []
    for product in sorted(per_segment):
        if product in owned_by:
            continue
        mine = per_segment[product].get(segment)
        if mine is None:
            n = sum(v[2] for v in per_segment[product].values())
            total = sum((v[1] for v in per_segment[product].values()), start=Decimal(0))
            owners = 0
        else:
            owners, total, n = mine
        typical = (total / n).quantize(_CENT) if n else None
        whitespace.append(Whitespace(product, typical, owners))
    opps = list_opportunities(platform, definition, status="open", account_id=account_id)
    cs = merge_contexts(context, [account_id], as_of).get(account_id, RenewalContext())
    return GrowthPlan(
        account_id=account_id,
        name=name,
        segment=segment,
        as_of=as_of,
        owned=owned,
        whitespace=whitespace,
        expansion_potential=sum(
            (w.typical_arr for w in whitespace if w.typical_arr is not None), start=Decimal("0.00")
        ),
        buying_centre=centre,
        open_opportunities=opps,
        cs_view=cs,
    )
