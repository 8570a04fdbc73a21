"""``/contracts``: subscription lines (product, ARR, start and inclusive end date)."""

from __future__ import annotations

from pydantic import Field

from kizuna.api.routes._crud import ListQuery, crud_router
from kizuna.customers.schemas import ContractIn, ContractOut, ContractPatch
from kizuna.store.models import ContractStatus


class ContractQuery(ListQuery):
    account_id: str | None = Field(None, max_length=64)
    product: str | None = Field(None, max_length=128)
    status: ContractStatus | None = None
    currency: str | None = Field(None, max_length=3)


router = crud_router(
    "contracts",
    tag="Contract",
    model_in=ContractIn,
    model_patch=ContractPatch,
    model_out=ContractOut,
    query_model=ContractQuery,
)
