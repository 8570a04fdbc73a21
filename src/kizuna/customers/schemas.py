"""Validated shapes of customer records for writes and reads through the API.

``*In`` models validate a new record, ``*Patch`` models a partial update (every
field optional), ``*Out`` models what is returned. They are the API's own until
the import row models (``kizuna.dataio.schemas.ROW_MODELS``) land; the field
names are the store's column names, so swapping them later is mechanical.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

from kizuna.store.models import (
    ActivityKind,
    ContractStatus,
    SuccessRole,
    SurveyKind,
    TicketPriority,
    TicketStatus,
)


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail in the store.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


_NoNul = AfterValidator(_no_nul)
Id = Annotated[str, Field(min_length=1, max_length=64), _NoNul]
Name = Annotated[str, Field(min_length=1, max_length=300), _NoNul]
PersonName = Annotated[str, Field(min_length=1, max_length=200), _NoNul]
Product = Annotated[str, Field(min_length=1, max_length=128), _NoNul]
Text64 = Annotated[str, Field(max_length=64), _NoNul]
Text128 = Annotated[str, Field(max_length=128), _NoNul]
ShortText = Annotated[str, Field(max_length=200), _NoNul]
Subject = Annotated[str, Field(max_length=500), _NoNul]
LongText = Annotated[str, Field(max_length=20_000), _NoNul]
Email = Annotated[str, Field(max_length=320), _NoNul]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Amount = Annotated[
    Decimal,
    Field(ge=0, lt=Decimal("1e15")),
    PlainSerializer(float, return_type=float, when_used="json"),
]
Count = Annotated[int, Field(ge=0, le=2_147_483_647)]


def _attributes(value: dict[str, Any]) -> dict[str, Any]:
    def walk(item: Any) -> None:
        if isinstance(item, str):
            _no_nul(item)
        elif isinstance(item, dict):
            for key, sub in item.items():
                _no_nul(key)
                walk(sub)
        elif isinstance(item, list):
            for sub in item:
                walk(sub)

    walk(value)
    return value


Attributes = Annotated[dict[str, Any], AfterValidator(_attributes)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# -- accounts ----------------------------------------------------------------


class AccountPatch(_In):
    name: Name | None = None
    parent_id: Id | None = None
    segment: Text64 | None = None
    industry: Text128 | None = None
    region: Text64 | None = None
    owner_id: Id | None = None
    created_date: date | None = None
    attributes: Attributes | None = None


class AccountIn(AccountPatch):
    id: Id
    name: Name


class AccountOut(_Out):
    id: str
    name: str
    parent_id: str | None
    segment: str | None
    industry: str | None
    region: str | None
    owner_id: str | None
    created_date: date | None
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime


# -- contacts ----------------------------------------------------------------


class ContactPatch(_In):
    account_id: Id | None = None
    name: ShortText | None = None
    email: Email | None = None
    title: ShortText | None = None
    success_role: SuccessRole | None = None


class ContactIn(ContactPatch):
    id: Id
    account_id: Id
    name: PersonName


class ContactOut(_Out):
    id: str
    account_id: str
    name: str
    email: str | None
    title: str | None
    success_role: SuccessRole
    created_at: datetime
    updated_at: datetime


# -- contract lines ----------------------------------------------------------


class ContractPatch(_In):
    account_id: Id | None = None
    product: Product | None = None
    arr: Amount | None = None
    currency: Currency | None = None
    quantity: Count | None = None
    start_date: date | None = None
    end_date: date | None = None
    status: ContractStatus | None = None
    renews_line_id: Id | None = None


class ContractIn(ContractPatch):
    id: Id
    account_id: Id
    product: Product
    arr: Amount
    currency: Currency
    start_date: date
    end_date: date

    @model_validator(mode="after")
    def _end_after_start(self) -> ContractIn:
        if self.end_date < self.start_date:
            raise ValueError("end_date must not be before start_date (end_date is inclusive)")
        return self


class ContractOut(_Out):
    id: str
    account_id: str
    product: str
    arr: Amount
    currency: str
    quantity: int | None
    start_date: date
    end_date: date
    status: ContractStatus
    renews_line_id: str | None
    created_at: datetime
    updated_at: datetime


# -- tickets -----------------------------------------------------------------


class TicketPatch(_In):
    account_id: Id | None = None
    subject: Subject | None = None
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    priority: TicketPriority | None = None
    status: TicketStatus | None = None
    csat: Annotated[int, Field(ge=1, le=5)] | None = None


class TicketIn(TicketPatch):
    id: Id
    account_id: Id
    opened_at: datetime


class TicketOut(_Out):
    id: str
    account_id: str
    subject: str | None
    opened_at: datetime
    closed_at: datetime | None
    priority: TicketPriority
    status: TicketStatus
    csat: int | None
    created_at: datetime
    updated_at: datetime


# -- survey responses --------------------------------------------------------


class SurveyPatch(_In):
    account_id: Id | None = None
    contact_id: Id | None = None
    kind: SurveyKind | None = None
    score: Annotated[int, Field(ge=0, le=10)] | None = None
    comment: LongText | None = None
    answered_at: datetime | None = None


class SurveyIn(SurveyPatch):
    id: Id
    account_id: Id
    kind: SurveyKind
    score: Annotated[int, Field(ge=0, le=10)]
    answered_at: datetime


class SurveyOut(_Out):
    id: str
    account_id: str
    contact_id: str | None
    kind: SurveyKind
    score: int
    comment: str | None
    answered_at: datetime
    created_at: datetime
    updated_at: datetime


# -- activities --------------------------------------------------------------


class ActivityPatch(_In):
    account_id: Id | None = None
    kind: ActivityKind | None = None
    author_id: Id | None = None
    activity_date: date | None = None
    text: LongText | None = None


class ActivityIn(ActivityPatch):
    id: Id
    account_id: Id
    kind: ActivityKind
    activity_date: date


class ActivityOut(_Out):
    id: str
    account_id: str
    kind: ActivityKind
    author_id: str | None
    activity_date: date
    text: str | None
    created_at: datetime
    updated_at: datetime
