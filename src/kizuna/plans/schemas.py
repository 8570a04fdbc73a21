"""What a valid plan part is: the input models the API and the UI's forms share.

A part's ``*In`` model is a whole new record; its ``*Patch`` model has every
field optional. The service merges a patch into the stored row and validates
the result with the ``*In`` model again, so rules over the whole part (a KPI's
target differs from its baseline) hold after a patch too.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, Optional, cast

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from kizuna.errors import CodedValueError

#: Free text: no NUL (PostgreSQL cannot store it).
Text = Annotated[str, Field(max_length=10_000, pattern=r"^[^\x00]*$")]
Line = Annotated[str, Field(min_length=1, max_length=300, pattern=r"^[^\x00-\x1f\x7f]+$")]
Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-.]*$")]
MemberId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")]
Number = Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]
Day = Annotated[date, Field(ge=date(1900, 1, 1), le=date(2999, 12, 31))]
SmallInt = Annotated[int, Field(ge=-1_000_000, le=1_000_000)]
Audience = Literal["evaluator", "final_evaluator", "promoter", "end_user"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PlanCreate(_In):
    account_id: MemberId
    template: Key
    start_date: Day | None = None
    language: Literal["en", "ja"] = "en"


class PlanIn(_In):
    title: Line
    language: Literal["en", "ja"]
    state: Literal["proposed", "active", "achieved", "closed"]
    owner_id: MemberId | None = None
    start_date: Day
    end_date: Day

    @model_validator(mode="after")
    def _dates(self) -> PlanIn:
        if self.end_date <= self.start_date:
            raise CodedValueError("the end date must be after the start date", "plan.end_date")
        return self


class RoleIn(_In):
    role: Key
    member_id: MemberId | None = None
    name: Line | None = None


class IssueIn(_In):
    business_issue: Annotated[str, Field(min_length=1, max_length=10_000, pattern=r"^[^\x00]*$")]
    problem: Text | None = None
    solution: Text | None = None
    benefit: Text | None = None
    position: SmallInt = 0


class InitiativeIn(_In):
    key: Key
    name: Line
    purpose: Text | None = None
    approach: Text | None = None
    extent: Text | None = None
    impact: int = Field(ge=1, le=5)
    difficulty: int = Field(ge=1, le=5)
    tie_break: SmallInt | None = None
    order_override: Annotated[int, Field(ge=1, le=1000)] | None = None


class KpiIn(_In):
    initiative_id: Annotated[int, Field(ge=1, le=2**62)]
    key: Key
    name: Line
    unit: Annotated[str, Field(max_length=32, pattern=r"^[^\x00]*$")] | None = None
    direction: Literal["higher", "lower"] = "higher"
    baseline: Number
    baseline_date: Day
    target: Number
    target_date: Day
    evaluation_method: Text | None = None
    metric: Annotated[str, Field(max_length=128, pattern=r"^[^\x00]*$")] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> KpiIn:
        if self.target == self.baseline:
            raise CodedValueError("the target must differ from the baseline", "plan.target_same")
        if (self.direction == "higher") != (self.target > self.baseline):
            side = "above" if self.direction == "higher" else "below"
            raise CodedValueError(
                f"a '{self.direction} is better' KPI needs a target {side} its baseline",
                f"plan.target_{side}",
            )
        if self.target_date <= self.baseline_date:
            raise CodedValueError(
                "the target date must be after the baseline date", "plan.target_date"
            )
        return self


class KgiIn(KpiIn):
    """The KGI: a KPI of no initiative (``initiative_id`` is ignored)."""

    initiative_id: Annotated[int, Field(ge=1, le=2**62)] | None = None  # type: ignore[assignment]


class CheckinIn(_In):
    kpi_id: Annotated[int, Field(ge=1, le=2**62)]
    value: Number
    checkin_date: Day
    checked_by: Line
    note: Text | None = None


class MilestoneIn(_In):
    name: Line
    due_date: Day
    state: Literal["open", "done", "cancelled"] = "open"
    done_on: Day | None = None


class MeetingIn(_In):
    id: MemberId | None = None
    name: Line
    cadence: Literal["weekly", "biweekly", "monthly"]
    audience: Audience | None = None
    first_date: Day
    last_date: Day | None = None


class ChecklistIn(_In):
    label: Annotated[str, Field(min_length=1, max_length=10_000, pattern=r"^[^\x00]*$")]
    failure_pattern: Text | None = None
    done: bool = False
    done_on: Day | None = None
    note: Text | None = None
    position: SmallInt = 0


class ContactRoleIn(_In):
    success_role: Literal[
        "evaluator", "final_evaluator", "promoter", "end_user", "champion", "other"
    ]


def patch_model(model: type[BaseModel], name: str, skip: tuple[str, ...] = ()) -> type[BaseModel]:
    """Every field of ``model`` optional (a partial update)."""
    fields: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        if field_name in skip:
            continue
        annotation: Any = info.annotation
        if info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]
        fields[field_name] = (Optional[annotation], None)  # noqa: UP045 - a runtime-built type
    patch = create_model(name, __base__=_In, **fields)
    return cast(type[BaseModel], patch)


PlanPatch = patch_model(PlanIn, "PlanPatch")
RolePatch = patch_model(RoleIn, "RolePatch")
IssuePatch = patch_model(IssueIn, "IssuePatch")
InitiativePatch = patch_model(InitiativeIn, "InitiativePatch")
KpiPatch = patch_model(KpiIn, "KpiPatch")
CheckinPatch = patch_model(CheckinIn, "CheckinPatch", skip=("kpi_id",))
MilestonePatch = patch_model(MilestoneIn, "MilestonePatch")
MeetingPatch = patch_model(MeetingIn, "MeetingPatch", skip=("id",))
ChecklistPatch = patch_model(ChecklistIn, "ChecklistPatch")
