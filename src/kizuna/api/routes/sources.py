"""``/sources``: event sources and their write keys (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from kizuna.api.deps import AdminDep, PlatformDep
from kizuna.api.params import ID_PATTERN
from kizuna.auth import sources
from kizuna.auth.audit import record_audit

router = APIRouter(prefix="/sources", tags=["Event sources"])


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]+$")]


class SourceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


class NewSourceOut(BaseModel):
    write_key: str = Field(description="Shown this once: configure it in the sending system.")
    source: SourceOut


@router.get("", response_model=list[SourceOut], summary="List event sources")
def list_sources(platform: PlatformDep, caller: AdminDep) -> list[SourceOut]:
    return [SourceOut.model_validate(s) for s in sources.list_sources(platform)]


@router.post("", response_model=NewSourceOut, status_code=201, summary="Add an event source")
def add_source(body: SourceIn, platform: PlatformDep, caller: AdminDep) -> NewSourceOut:
    new = sources.add_source(platform, body.name)
    record_audit(platform, caller, action="create", resource="sources", resource_id=new.source.id)
    return NewSourceOut(write_key=new.write_key, source=SourceOut.model_validate(new.source))


@router.post("/{source_id}/revoke", response_model=SourceOut, summary="Revoke a write key")
def revoke_source(
    source_id: Annotated[str, Path(min_length=1, max_length=32, pattern=ID_PATTERN)],
    platform: PlatformDep,
    caller: AdminDep,
) -> SourceOut:
    source = sources.revoke_source(platform, source_id)
    record_audit(platform, caller, action="revoke", resource="sources", resource_id=source_id)
    return SourceOut.model_validate(source)
