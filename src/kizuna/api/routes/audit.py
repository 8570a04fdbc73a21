"""``/audit``: the audit log, newest first (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from kizuna.api.deps import AdminDep, PlatformDep
from kizuna.api.params import ID_PATTERN
from kizuna.auth.audit import list_audit

router = APIRouter(prefix="/audit", tags=["Audit"])


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_id: str | None
    action: str
    resource: str
    resource_id: str | None
    account_id: str | None
    allowed: bool
    request_id: str | None
    detail: str | None


@router.get("", response_model=list[AuditOut], summary="Read the audit log")
def read_audit(
    platform: PlatformDep,
    caller: AdminDep,
    actor_id: Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[AuditOut]:
    entries = list_audit(platform, actor_id=actor_id, limit=limit, offset=offset)
    return [AuditOut.model_validate(e) for e in entries]
