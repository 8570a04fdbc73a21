"""Roles and account scope: who may read and write which accounts.

* admin — everything, including users, tokens and event sources;
* manager — every account, read and write;
* CSM — reads every account, or only their own book when the ``csm_scope``
  setting is ``own``; writes only the accounts they own;
* viewer — reads every account, writes nothing.

A denial outside what the caller may *read* is reported as "not found", so a
scoped CSM cannot probe which account ids exist; a denial of a write on an
account the caller can see is "permission denied".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kizuna.store.models import TeamRole

CsmScope = Literal["all", "own"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated team member."""

    member_id: str
    name: str
    role: TeamRole
    email: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is TeamRole.ADMIN


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, under which scope setting, in which request (for the audit log)."""

    principal: Principal
    csm_scope: CsmScope = "all"
    request_id: str | None = None


def account_scope(caller: Caller) -> str | None:
    """The owner id that limits which accounts ``caller`` may read, or None for all."""
    p = caller.principal
    if p.role is TeamRole.CSM and caller.csm_scope == "own":
        return p.member_id
    return None


def can_read(caller: Caller, owner_id: str | None) -> bool:
    """May ``caller`` read an account owned by ``owner_id``?"""
    scope = account_scope(caller)
    return scope is None or owner_id == scope


def can_write(caller: Caller, owner_id: str | None) -> bool:
    """May ``caller`` change an account owned by ``owner_id`` (and its records)?"""
    role = caller.principal.role
    if role in (TeamRole.ADMIN, TeamRole.MANAGER):
        return True
    if role is TeamRole.CSM:
        return owner_id is not None and owner_id == caller.principal.member_id
    return False


def can_administer(caller: Caller) -> bool:
    """May ``caller`` manage users, tokens, event sources and configuration?"""
    return caller.principal.role is TeamRole.ADMIN
