"""Row models of the importable tables: the one definition of what a valid row is.

Every table that ``kizuna import`` accepts has a pydantic model here whose
fields are exactly the import/export columns (the store's ``created_at`` and
``updated_at`` are never imported). The same models validate single records
in the REST API, so a row is valid in a file exactly when it is valid there.

Values are normalised at this boundary:

* strings are stripped; an empty string means "no value" (null);
* a null in a column that has a default (``role``, ``status``, ...) means "not
  given": the default on insert, the stored value on update;
* dates are ISO ``YYYY-MM-DD``;
* timestamps are ISO 8601; with an offset they are converted to UTC, without
  one they are read in the business timezone (the ``tz`` in the validation
  context, ``settings.timezone``) and then converted to UTC;
* ``attributes`` is a JSON object (in CSV a cell holding JSON text);
* ids contain no control characters, and no text (nor any string inside
  ``attributes``) contains NUL, which PostgreSQL cannot store;
* a currency is upper-cased and must be an ISO 4217 code.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from kizuna.store.models import (
    Account,
    Activity,
    ActivityKind,
    Base,
    Contact,
    ContractLine,
    ContractStatus,
    FxRate,
    SuccessRole,
    SurveyKind,
    SurveyResponse,
    TeamMember,
    TeamRole,
    Ticket,
    TicketPriority,
    TicketStatus,
)
from kizuna.store.plans_models import MeetingSeries

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: Active ISO 4217 codes (funds and precious metals included; XTS and XXX are not currencies).
ISO_4217 = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BOV",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHE",
        "CHF",
        "CHW",
        "CLF",
        "CLP",
        "CNY",
        "COP",
        "COU",
        "CRC",
        "CUC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MXV",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SLL",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "USN",
        "UYI",
        "UYU",
        "UYW",
        "UZS",
        "VED",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XAG",
        "XAU",
        "XBA",
        "XBB",
        "XBC",
        "XBD",
        "XCD",
        "XCG",
        "XDR",
        "XOF",
        "XPD",
        "XPF",
        "XPT",
        "XSU",
        "XUA",
        "YER",
        "ZAR",
        "ZMW",
        "ZWG",
        "ZWL",
    ]
)
#: The largest value an integer column of the store holds on every backend.
MAX_INT = 2_147_483_647
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _parse_date(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        raise PydanticCustomError(
            "date_format",
            "'{value}' is a timestamp, expected a date (YYYY-MM-DD)",
            {"value": value.isoformat()},
        )
    if isinstance(value, str):
        if not _ISO_DATE.match(value):
            raise PydanticCustomError(
                "date_format", "'{value}' is not a date (YYYY-MM-DD)", {"value": value}
            )
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError(
                "date_format", "'{value}' is not a date (YYYY-MM-DD)", {"value": value}
            ) from None
    if not isinstance(value, date):
        raise PydanticCustomError(
            "date_format", "'{value}' is not a date (YYYY-MM-DD)", {"value": value}
        )
    return value


def _parse_timestamp(value: Any, info: ValidationInfo) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise PydanticCustomError(
                "timestamp_format",
                "'{value}' is not an ISO 8601 timestamp (e.g. 2025-06-30T09:15:00+09:00)",
                {"value": value},
            ) from None
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise PydanticCustomError(
            "timestamp_format",
            "'{value}' is not an ISO 8601 timestamp (e.g. 2025-06-30T09:15:00+09:00)",
            {"value": value},
        )
    if value.tzinfo is None:
        context = info.context or {}
        tz = context.get("tz") or UTC
        value = value.replace(tzinfo=ZoneInfo(tz) if isinstance(tz, str) else tz)
    return value.astimezone(UTC)


def _parse_json_object(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise PydanticCustomError(
                "json_object", "is not valid JSON ({error})", {"error": str(exc)}
            ) from None
    if not isinstance(value, dict):
        raise PydanticCustomError(
            "json_object", "must be a JSON object, e.g. {example}", {"example": '{"plan": "gold"}'}
        )
    return value


def _currency_code(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        code = value.upper()
        if code in ISO_4217:
            return code
    raise PydanticCustomError(
        "currency_code",
        "'{value}' is not a 3-letter currency code (ISO 4217, e.g. USD)",
        {"value": value},
    )


def _email(value: Any) -> Any:
    if isinstance(value, str) and not _EMAIL.match(value):
        raise PydanticCustomError("email", "'{value}' is not an e-mail address", {"value": value})
    return value


def _id_text(value: str) -> str:
    # Ids travel in URLs, file names and log lines: no control characters at all.
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise PydanticCustomError(
            "id_characters", "an id must not contain control characters (such as NUL or newline)"
        )
    return value


def _no_nul(value: Any) -> Any:
    """Refuse NUL anywhere in text (PostgreSQL cannot store it), also inside JSON objects."""
    if isinstance(value, str):
        if "\x00" in value:
            raise PydanticCustomError("nul_character", "text must not contain NUL characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _no_nul(item)
    elif isinstance(value, list):
        for item in value:
            _no_nul(item)
    return value


IsoDate = Annotated[date, BeforeValidator(_parse_date)]
Timestamp = Annotated[datetime, BeforeValidator(_parse_timestamp)]
JsonObject = Annotated[dict[str, Any], BeforeValidator(_parse_json_object)]
CurrencyCode = Annotated[str, BeforeValidator(_currency_code)]
Email = Annotated[str, Field(max_length=320), AfterValidator(_email)]
Id = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_id_text)]


class RowModel(BaseModel):
    """Base of the row models: strict about columns, lenient about text/number spelling."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, frozen=True)

    # Columns whose null means "not given" (they have a non-null default); set per subclass.
    _null_means_default: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._null_means_default = frozenset(
            name
            for name, info in cls.model_fields.items()
            if not info.is_required() and info.default is not None
        )

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        return _no_nul(value)

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        drop = cls._null_means_default
        clean: dict[str, Any] = {}
        for key, value in data.items():
            if value.__class__ is str:
                value = value.strip() or None
            if value is None and key in drop:
                continue  # "not given": the default on insert, the stored value on update
            clean[key] = value
        return clean


class TeamMemberRow(RowModel):
    """A vendor team member (CSM, manager, admin, viewer)."""

    id: Id
    name: str = Field(max_length=200)
    email: Email | None = None
    role: TeamRole = TeamRole.CSM
    manager_id: Id | None = None
    active: bool = True


class AccountRow(RowModel):
    """A customer account; ``parent_id`` builds hierarchies."""

    id: Id
    name: str = Field(max_length=300)
    parent_id: Id | None = None
    segment: str | None = Field(default=None, max_length=64)
    industry: str | None = Field(default=None, max_length=128)
    region: str | None = Field(default=None, max_length=64)
    owner_id: Id | None = None
    created_date: IsoDate | None = None
    attributes: JsonObject = Field(default_factory=dict)


class ContactRow(RowModel):
    """A person at a customer with their success role (seed 001)."""

    id: Id
    account_id: Id
    name: str = Field(max_length=200)
    email: Email | None = None
    title: str | None = Field(default=None, max_length=200)
    success_role: SuccessRole = SuccessRole.OTHER


class ContractLineRow(RowModel):
    """A subscription line: ARR in ``currency`` over [start_date, end_date] (inclusive)."""

    id: Id
    account_id: Id
    product: str = Field(max_length=128)
    arr: Decimal = Field(ge=0, max_digits=18, decimal_places=2)
    currency: CurrencyCode
    quantity: int | None = Field(default=None, ge=0, le=MAX_INT)
    start_date: IsoDate
    end_date: IsoDate
    status: ContractStatus = ContractStatus.ACTIVE
    renews_line_id: Id | None = None

    @model_validator(mode="after")
    def _end_not_before_start(self) -> ContractLineRow:
        if self.end_date < self.start_date:
            raise PydanticCustomError(
                "row_check",
                "end_date {end} is before start_date {start}",
                {"field": "end_date", "end": str(self.end_date), "start": str(self.start_date)},
            )
        return self


class TicketRow(RowModel):
    """A support ticket; ``csat`` is the customer's 1–5 rating if any."""

    id: Id
    account_id: Id
    subject: str | None = Field(default=None, max_length=500)
    opened_at: Timestamp
    closed_at: Timestamp | None = None
    priority: TicketPriority = TicketPriority.NORMAL
    status: TicketStatus = TicketStatus.OPEN
    csat: int | None = Field(default=None, ge=1, le=5)

    @model_validator(mode="after")
    def _closed_not_before_opened(self) -> TicketRow:
        if self.closed_at is not None and self.closed_at < self.opened_at:
            raise PydanticCustomError(
                "row_check",
                "closed_at {closed} is before opened_at {opened}",
                {
                    "field": "closed_at",
                    "closed": self.closed_at.isoformat(),
                    "opened": self.opened_at.isoformat(),
                },
            )
        return self


SCORE_RANGES: dict[SurveyKind, tuple[int, int]] = {SurveyKind.NPS: (0, 10), SurveyKind.CSAT: (1, 5)}


class SurveyResponseRow(RowModel):
    """An NPS (score 0–10) or CSAT (score 1–5) answer."""

    id: Id
    account_id: Id
    contact_id: Id | None = None
    kind: SurveyKind
    score: int
    comment: str | None = None
    answered_at: Timestamp

    @model_validator(mode="after")
    def _score_in_range(self) -> SurveyResponseRow:
        low, high = SCORE_RANGES[self.kind]
        if not low <= self.score <= high:
            raise PydanticCustomError(
                "row_check",
                "{kind} score must be between {low} and {high}, got {score}",
                {
                    "field": "score",
                    "kind": self.kind.value,
                    "low": low,
                    "high": high,
                    "score": self.score,
                },
            )
        return self


class ActivityRow(RowModel):
    """A CS activity on the account timeline."""

    id: Id
    account_id: Id
    kind: ActivityKind
    author_id: Id | None = None
    activity_date: IsoDate
    text: str | None = None
    contact_id: Id | None = Field(
        None, description="The customer's contact it was with (optional; issue 14)."
    )
    meeting_series_id: Id | None = Field(
        None, description="The success plan's meeting series a meeting belongs to (optional)."
    )
    shared_with_customer: bool = Field(
        False,
        description=(
            "An action agreed with the customer: listed in their meeting reports "
            "(optional, default false; issue 16)."
        ),
    )


class FxRateRow(RowModel):
    """Units of the reporting currency per unit of ``currency`` from ``valid_from`` on."""

    currency: CurrencyCode
    valid_from: IsoDate
    rate: float = Field(gt=0, allow_inf_nan=False)


@dataclass(frozen=True)
class Reference:
    """A column that must name an existing row of ``target`` (a CLI table name)."""

    column: str
    target: str


@dataclass(frozen=True)
class TableSpec:
    """How one CLI table maps to its row model and store model."""

    name: str
    row_model: type[RowModel]
    store_model: type[Base]
    key: tuple[str, ...] = ("id",)
    references: tuple[Reference, ...] = ()
    unique: tuple[str, ...] = ()  # columns unique across the table besides the key

    @property
    def table(self) -> sa.Table:
        """The store table the rows land in."""
        return cast(sa.Table, self.store_model.__table__)

    @property
    def column_names(self) -> list[str]:
        """The import/export columns, in order."""
        return list(self.row_model.model_fields)

    @property
    def required_columns(self) -> list[str]:
        return [n for n, f in self.row_model.model_fields.items() if f.is_required()]

    @property
    def self_reference(self) -> Reference | None:
        """The reference into this same table (parent, manager, renewed line), if any."""
        return next((r for r in self.references if r.target == self.name), None)


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "team",
            TeamMemberRow,
            TeamMember,
            references=(Reference("manager_id", "team"),),
            unique=("email",),
        ),
        TableSpec(
            "accounts",
            AccountRow,
            Account,
            references=(Reference("parent_id", "accounts"), Reference("owner_id", "team")),
        ),
        TableSpec(
            "contacts", ContactRow, Contact, references=(Reference("account_id", "accounts"),)
        ),
        TableSpec(
            "contracts",
            ContractLineRow,
            ContractLine,
            references=(
                Reference("account_id", "accounts"),
                Reference("renews_line_id", "contracts"),
            ),
        ),
        TableSpec("tickets", TicketRow, Ticket, references=(Reference("account_id", "accounts"),)),
        TableSpec(
            "surveys",
            SurveyResponseRow,
            SurveyResponse,
            references=(Reference("account_id", "accounts"), Reference("contact_id", "contacts")),
        ),
        TableSpec(
            "activities",
            ActivityRow,
            Activity,
            references=(
                Reference("account_id", "accounts"),
                Reference("author_id", "team"),
                Reference("contact_id", "contacts"),
                Reference("meeting_series_id", "meeting-series"),
            ),
        ),
        TableSpec("fx-rates", FxRateRow, FxRate, key=("currency", "valid_from")),
    )
}
"""The importable tables by CLI name, in an order that satisfies references."""

#: Reference targets that are not import tables themselves: name -> store model.
REFERENCE_TARGETS: dict[str, type[Base]] = {"meeting-series": MeetingSeries}


def target_model(target: str) -> type[Base]:
    """The store model a :class:`Reference` target names (an import table or not)."""
    return TABLES[target].store_model if target in TABLES else REFERENCE_TARGETS[target]


ROW_MODELS: dict[str, type[RowModel]] = {name: spec.row_model for name, spec in TABLES.items()}
"""The row model of each table by CLI name (also used by the REST API)."""
