"""Who may see and work which CTA: the account scope, plus the CTA's own assignees.

A CTA is visible when its account is (a CTA of an account outside the caller's
book is "not found", like one that does not exist). It may be worked by whoever
may change its account (admin, manager, the account's owner) and by the CTA's
owner or a task's owner (a CTA can be assigned to someone other than the
account's owner). Denied writes are audited.
"""

from __future__ import annotations

import sqlalchemy as sa

from kizuna.actions.ctas import CtaView, get_cta
from kizuna.auth.audit import record_audit
from kizuna.auth.policy import Caller, can_write
from kizuna.customers.service import readable_account_ids
from kizuna.errors import NotFound, PermissionDenied
from kizuna.platform import Platform
from kizuna.store.actions_models import CtaTask
from kizuna.store.models import Account, TeamRole

__all__ = ["authorise_cta", "authorise_task", "may_work"]


def may_work(platform: Platform, caller: Caller, cta: CtaView) -> bool:
    """May ``caller`` change ``cta`` (close, snooze, do its tasks)?"""
    p = caller.principal
    if p.role is TeamRole.VIEWER:
        return False
    with platform.store.session() as session:
        owner = session.scalar(sa.select(Account.owner_id).where(Account.id == cta.account_id))
    if can_write(caller, owner):
        return True
    return p.member_id == cta.owner_id or any(t.owner_id == p.member_id for t in cta.tasks)


def authorise_cta(
    platform: Platform, caller: Caller, cta_id: int, *, write: bool = False
) -> CtaView:
    """The CTA if ``caller`` may see it (and work it, with ``write``)."""
    cta = get_cta(platform, cta_id, readable_account_ids(platform, caller))
    if write and not may_work(platform, caller, cta):
        p = caller.principal
        record_audit(
            platform, caller, action="write", resource="ctas", resource_id=str(cta_id),
            account_id=cta.account_id, allowed=False, detail="may not work this CTA",
        )  # fmt: skip
        raise PermissionDenied(f"{p.role.value} {p.member_id} may not work CTA {cta_id}")
    return cta


def authorise_task(platform: Platform, caller: Caller, task_id: int) -> CtaView:
    """The CTA of task ``task_id`` if ``caller`` may work it."""
    with platform.store.session() as session:
        cta_id = session.scalar(sa.select(CtaTask.cta_id).where(CtaTask.id == task_id))
    if cta_id is None:
        raise NotFound(f"no task {task_id}")
    try:
        return authorise_cta(platform, caller, cta_id, write=True)
    except NotFound:
        raise NotFound(f"no task {task_id}") from None
