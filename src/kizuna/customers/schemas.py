"""Shapes of customer records in the API, derived from the import's row models.

The import row models (:data:`kizuna.dataio.schemas.ROW_MODELS`) are the one
definition of a valid record — field types, enums, ranges, lengths, the
normalising of blanks, ids without control characters, text without NUL and
the rules over a whole row (a contract line's end not before its start, a
score within its survey kind's range). The API only wraps them:

* ``*In`` — a new record: the row model itself under an API name;
* ``*Patch`` — a partial update: every column optional (the id excluded),
  each with the row model's own type and constraints. The service merges the
  patch into the stored record and validates the result with the row model
  again (:func:`validate_row`), so rules over the whole row hold after a patch;
* ``*Out`` — what the API returns (the columns plus ``created_at``/``updated_at``).

References to other records (and the caller's access to them) are checked by
:mod:`kizuna.customers.service`.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Optional, cast

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, ValidationError, create_model
from pydantic.fields import FieldInfo

from kizuna.dataio.schemas import ROW_MODELS, SCORE_RANGES, RowModel
from kizuna.dataio.validate import error_message
from kizuna.errors import Problem
from kizuna.store.models import (
    ActivityKind,
    ContractStatus,
    SuccessRole,
    SurveyKind,
    TicketPriority,
    TicketStatus,
)

#: API resource name -> import table name (the same names today, kept explicit).
TABLE_OF: dict[str, str] = {
    "accounts": "accounts",
    "contacts": "contacts",
    "contracts": "contracts",
    "tickets": "tickets",
    "surveys": "surveys",
    "activities": "activities",
}


def _field_type(info: FieldInfo) -> Any:
    """A row model field's type with its constraints and validators attached."""
    if info.metadata:
        return Annotated[(info.annotation, *info.metadata)]
    return info.annotation


def _in_model(table: str, name: str, overrides: dict[str, Any] | None = None) -> type[RowModel]:
    row_model = ROW_MODELS[table]
    model = create_model(
        name,
        __base__=row_model,
        __doc__=f"A new record, validated as a row of the {table} import.",
        **(overrides or {}),
    )
    return cast(type[RowModel], model)


def _patch_model(table: str, name: str) -> type[RowModel]:
    """Every column of the row model but the id, optional; nulls as in the import."""
    row_model = ROW_MODELS[table]
    fields: dict[str, Any] = {}
    for column, info in row_model.model_fields.items():
        if column == "id":
            continue
        fields[column] = (
            Optional[_field_type(info)],  # noqa: UP045 - a runtime-built type
            Field(default=None, description=info.description),
        )
    model = create_model(
        name,
        __base__=RowModel,
        __doc__=(
            f"A partial update of a {table} record: only the fields sent change. A null in a "
            "column with a default (e.g. status) means 'not given' and keeps the stored value."
        ),
        **fields,
    )
    # Nulls mean what they mean in an import update: "keep the stored value" for
    # columns with a default, "clear it" (or must-not-be-null) for the others.
    model._null_means_default = row_model._null_means_default
    return cast(type[RowModel], model)


def validate_row(resource: str, values: dict[str, Any]) -> list[Problem]:
    """Every problem the import would report for ``values`` as a whole record."""
    row_model = ROW_MODELS[TABLE_OF[resource]]
    data = {name: values.get(name) for name in row_model.model_fields}
    try:
        row_model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = error["loc"]
            column = str(loc[0]) if loc else (error.get("ctx") or {}).get("field")
            problems.append(Problem(error_message(error), field=column))
        return problems
    return []


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


Amount = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]

# A score is checked against its kind's range by the row model's rule over the
# whole row; the API also bounds it by the widest range so a bad score is
# reported together with other bad fields (the rule runs only on valid fields).
_SCORE_LOW = min(low for low, _ in SCORE_RANGES.values())
_SCORE_HIGH = max(high for _, high in SCORE_RANGES.values())
_Score = Annotated[int, Field(ge=_SCORE_LOW, le=_SCORE_HIGH)]

# -- accounts ----------------------------------------------------------------

AccountIn = _in_model("accounts", "AccountIn")
AccountPatch = _patch_model("accounts", "AccountPatch")


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

ContactIn = _in_model("contacts", "ContactIn")
ContactPatch = _patch_model("contacts", "ContactPatch")


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

ContractIn = _in_model("contracts", "ContractIn")
ContractPatch = _patch_model("contracts", "ContractPatch")


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

TicketIn = _in_model("tickets", "TicketIn")
TicketPatch = _patch_model("tickets", "TicketPatch")


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

SurveyIn = _in_model("surveys", "SurveyIn", {"score": (_Score, ...)})
SurveyPatch = _patch_model("surveys", "SurveyPatch")


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

ActivityIn = _in_model("activities", "ActivityIn")
ActivityPatch = _patch_model("activities", "ActivityPatch")


class ActivityOut(_Out):
    id: str
    account_id: str
    kind: ActivityKind
    author_id: str | None
    activity_date: date
    text: str | None
    contact_id: str | None
    meeting_series_id: str | None
    shared_with_customer: bool
    created_at: datetime
    updated_at: datetime
