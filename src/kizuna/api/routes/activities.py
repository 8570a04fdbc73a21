"""``/activities``: the CS timeline — meetings, calls, e-mails and notes."""

from __future__ import annotations

from pydantic import Field

from kizuna.api.routes._crud import ListQuery, crud_router
from kizuna.customers.schemas import ActivityIn, ActivityOut, ActivityPatch
from kizuna.store.models import ActivityKind


class ActivityQuery(ListQuery):
    account_id: str | None = Field(None, max_length=64)
    kind: ActivityKind | None = None
    author_id: str | None = Field(None, max_length=64)
    contact_id: str | None = Field(None, max_length=64)
    meeting_series_id: str | None = Field(None, max_length=64)


router = crud_router(
    "activities",
    tag="Activity",
    model_in=ActivityIn,
    model_patch=ActivityPatch,
    model_out=ActivityOut,
    query_model=ActivityQuery,
)
