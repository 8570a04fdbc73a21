"""``/tickets``: support tickets."""

from __future__ import annotations

from pydantic import Field

from kizuna.api.routes._crud import ListQuery, crud_router
from kizuna.customers.schemas import TicketIn, TicketOut, TicketPatch
from kizuna.store.models import TicketPriority, TicketStatus


class TicketQuery(ListQuery):
    account_id: str | None = Field(None, max_length=64)
    status: TicketStatus | None = None
    priority: TicketPriority | None = None


router = crud_router(
    "tickets",
    tag="Ticket",
    model_in=TicketIn,
    model_patch=TicketPatch,
    model_out=TicketOut,
    query_model=TicketQuery,
)
