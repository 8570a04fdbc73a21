"""``/contacts``: people at customers, with their success roles."""

from __future__ import annotations

from pydantic import Field

from kizuna.api.routes._crud import ListQuery, crud_router
from kizuna.customers.schemas import ContactIn, ContactOut, ContactPatch
from kizuna.store.models import SuccessRole


class ContactQuery(ListQuery):
    account_id: str | None = Field(None, max_length=64)
    success_role: SuccessRole | None = None
    email: str | None = Field(None, max_length=320)


router = crud_router(
    "contacts",
    tag="Contact",
    model_in=ContactIn,
    model_patch=ContactPatch,
    model_out=ContactOut,
    query_model=ContactQuery,
)
