"""Opportunity work on behalf of a caller: who may read and change what, and the audit trail.

The API and the UI both call these, so a write is checked and recorded the same
way whichever edge it came through. Reads follow the caller's scope (a CSM
limited to their own book sees their accounts' opportunities; another book's is
"not found", and the denial is audited). Writes are allowed to admins, managers,
the CSM who owns the account and ``sales`` members (account executives); each is
recorded in the audit log under ``opportunities`` with the action ``create``,
``stage``, ``won``, ``lost`` or ``owner``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kizuna.auth.audit import record_audit
from kizuna.auth.policy import Caller, can_read
from kizuna.customers.service import authorise_account
from kizuna.errors import NotFound
from kizuna.platform import Platform
from kizuna.revenue.closing import lose, win
from kizuna.revenue.definition import definition_for
from kizuna.revenue.opportunities import (
    OpportunityView,
    create_opportunity,
    get_opportunity,
    move_stage,
    reassign,
)
from kizuna.store.models import Account, TeamMember, TeamRole
from kizuna.store.revenue_models import OpportunitySource, OpportunityType

#: Team roles that may own an opportunity (the owner choices a form offers).
OWNER_ROLES = (TeamRole.CSM, TeamRole.SALES, TeamRole.MANAGER)


@dataclass(frozen=True, slots=True)
class OwnerChoice:
    """A team member who may own an opportunity, with the label the UI shows."""

    id: str
    name: str
    role: str


def owner_choices(platform: Platform) -> list[OwnerChoice]:
    """Active CSMs, account executives and managers, by name."""
    with platform.store.session() as s:
        rows = s.execute(
            sa.select(TeamMember.id, TeamMember.name, TeamMember.role)
            .where(TeamMember.active.is_(True), TeamMember.role.in_(OWNER_ROLES))
            .order_by(TeamMember.name, TeamMember.id)
        ).all()
    return [OwnerChoice(r.id, r.name, TeamRole(r.role).value) for r in rows]


def _account_owner(platform: Platform, account_id: str) -> str | None:
    with platform.store.session() as s:
        account = s.get(Account, account_id)
        if account is None:
            raise NotFound(f"no account {account_id}")
        return account.owner_id


def readable_opportunity(
    platform: Platform, caller: Caller, opportunity_id: str
) -> OpportunityView:
    """The opportunity with its history, if the caller may read its account (else 404)."""
    view = get_opportunity(platform, definition_for(platform.settings.home), opportunity_id)
    if not can_read(caller, _account_owner(platform, view.account_id)):
        record_audit(
            platform,
            caller,
            action="read",
            resource="opportunities",
            resource_id=opportunity_id,
            account_id=view.account_id,
            allowed=False,
            detail="outside the caller's book",
        )
        raise NotFound(f"no opportunity {opportunity_id}")
    return view


def authorise_write(platform: Platform, caller: Caller, account_id: str, what: str) -> None:
    """Admins, managers, sales members and the owning CSM may change opportunities."""
    if caller.principal.role is TeamRole.SALES:
        if not can_read(caller, _account_owner(platform, account_id)):
            raise NotFound(f"no account {account_id}")
        return
    authorise_account(platform, caller, account_id, f"opportunities/{what}", write=True)


def _audit(
    platform: Platform, caller: Caller, action: str, view: OpportunityView, detail: str
) -> None:
    record_audit(
        platform,
        caller,
        action=action,
        resource="opportunities",
        resource_id=view.id,
        account_id=view.account_id,
        detail=detail,
    )


def open_as(
    platform: Platform,
    caller: Caller,
    *,
    account_id: str,
    type: OpportunityType,
    expected_close_date: date,
    arr_change: Decimal = Decimal(0),
    source: OpportunitySource = OpportunitySource.MANUAL,
    **fields: Any,
) -> OpportunityView:
    """Open an opportunity (:func:`~kizuna.revenue.opportunities.create_opportunity`'s
    fields) for the caller, checked and audited."""
    authorise_write(platform, caller, account_id, "create")
    view = create_opportunity(
        platform,
        definition_for(platform.settings.home),
        account_id=account_id,
        type=type,
        arr_change=arr_change,
        expected_close_date=expected_close_date,
        source=source,
        created_by=caller.principal.member_id,
        **fields,
    )
    _audit(platform, caller, "create", view, f"{view.type} {view.stage}")
    return view


def move_as(
    platform: Platform, caller: Caller, opportunity_id: str, stage: str, *, on: date | None = None
) -> OpportunityView:
    """Move to another open stage for the caller, checked and audited."""
    view = readable_opportunity(platform, caller, opportunity_id)
    authorise_write(platform, caller, view.account_id, "stage")
    moved = move_stage(
        platform,
        definition_for(platform.settings.home),
        opportunity_id,
        stage,
        on=on,
        by=caller.principal.member_id,
    )
    _audit(platform, caller, "stage", moved, f"{view.stage} → {moved.stage}")
    return moved


def win_as(
    platform: Platform,
    caller: Caller,
    opportunity_id: str,
    *,
    on: date | None = None,
    reason: str | None = None,
) -> OpportunityView:
    """Mark won for the caller, checked and audited."""
    view = readable_opportunity(platform, caller, opportunity_id)
    authorise_write(platform, caller, view.account_id, "won")
    done = win(
        platform,
        definition_for(platform.settings.home),
        opportunity_id,
        on=on,
        by=caller.principal.member_id,
        reason=reason,
    )
    _audit(platform, caller, "won", done, f"won on {done.closed_on}")
    return done


def lose_as(
    platform: Platform,
    caller: Caller,
    opportunity_id: str,
    *,
    reason: str,
    on: date | None = None,
) -> OpportunityView:
    """Mark lost with the reason for the caller, checked and audited."""
    view = readable_opportunity(platform, caller, opportunity_id)
    authorise_write(platform, caller, view.account_id, "lost")
    done = lose(
        platform,
        definition_for(platform.settings.home),
        opportunity_id,
        reason=reason,
        on=on,
        by=caller.principal.member_id,
    )
    _audit(platform, caller, "lost", done, f"lost on {done.closed_on}: {done.close_reason}")
    return done


def reassign_as(
    platform: Platform, caller: Caller, opportunity_id: str, owner_id: str
) -> OpportunityView:
    """Give the opportunity to another owner for the caller, checked and audited."""
    view = readable_opportunity(platform, caller, opportunity_id)
    authorise_write(platform, caller, view.account_id, "owner")
    moved = reassign(platform, definition_for(platform.settings.home), opportunity_id, owner_id)
    _audit(platform, caller, "owner", moved, f"{view.owner_id or '—'} → {moved.owner_id}")
    return moved


__all__ = [
    "OWNER_ROLES",
    "OwnerChoice",
    "authorise_write",
    "lose_as",
    "move_as",
    "open_as",
    "owner_choices",
    "readable_opportunity",
    "reassign_as",
    "win_as",
]
