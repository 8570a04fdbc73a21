"""``/accounts``: customers, with hierarchy, segment and owner CSM."""

from __future__ import annotations

from pydantic import Field

from kizuna.api.routes._crud import ListQuery, crud_router
from kizuna.customers.schemas import AccountIn, AccountOut, AccountPatch


class AccountQuery(ListQuery):
    segment: str | None = Field(None, max_length=64)
    region: str | None = Field(None, max_length=64)
    industry: str | None = Field(None, max_length=128)
    owner_id: str | None = Field(None, max_length=64, description="Owner CSM's team member id.")
    parent_id: str | None = Field(None, max_length=64)
    q: str | None = Field(None, max_length=200, description="Text the account name contains.")


router = crud_router(
    "accounts",
    tag="Account",
    model_in=AccountIn,
    model_patch=AccountPatch,
    model_out=AccountOut,
    query_model=AccountQuery,
)
