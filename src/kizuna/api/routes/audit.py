"""``/audit``: the audit log, newest first (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kizuna.api.deps import AdminDep, PlatformDep
from kizuna.api.params import ID_PATTERN
from kizuna.auth.audit import AuditEntry, list_audit

router = APIRouter(prefix="/audit", tags=["Audit"])


@router.get("", response_model=list[AuditEntry], summary="Read the audit log")
def read_audit(
    platform: PlatformDep,
    caller: AdminDep,
    actor_id: Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[AuditEntry]:
    return list_audit(platform, actor_id=actor_id, limit=limit, offset=offset)
