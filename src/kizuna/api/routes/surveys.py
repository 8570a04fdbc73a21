"""``/surveys``: NPS (0–10) and CSAT (1–5) answers."""

from __future__ import annotations

from pydantic import Field

from kizuna.api.routes._crud import ListQuery, crud_router
from kizuna.customers.schemas import SurveyIn, SurveyOut, SurveyPatch
from kizuna.store.models import SurveyKind


class SurveyQuery(ListQuery):
    account_id: str | None = Field(None, max_length=64)
    kind: SurveyKind | None = None
    contact_id: str | None = Field(None, max_length=64)


router = crud_router(
    "surveys",
    tag="Survey response",
    model_in=SurveyIn,
    model_patch=SurveyPatch,
    model_out=SurveyOut,
    query_model=SurveyQuery,
)
