"""The revenue definition: pipeline stages, deal owners, renewal lead time, CRM mappings.

Definitions are data (``default_revenue.yaml``, or ``<KIZUNA_HOME>/revenue.yaml``),
validated into :class:`RevenueDefinition`; every problem is reported at once.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kizuna.errors import InvalidInput, Problem
from kizuna.store.revenue_models import OpportunityType

ForecastCategory = Literal["commit", "best_case", "pipeline", "won", "lost"]
Outcome = Literal["open", "won", "lost"]
CRM_NAMES = ("salesforce", "hubspot")


class Stage(BaseModel):
    """One stage of the pipeline and what it means for the forecast."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    probability: float = Field(ge=0, le=1)
    forecast: ForecastCategory
    outcome: Outcome = "open"


class OwnerRule(BaseModel):
    """Who owns a new opportunity of ``type`` (and ``product``, when given)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: OpportunityType
    product: str | None = None
    owner: str = Field(min_length=1, max_length=64)  # csm | sales | a team member id
    member: str | None = None  # with owner=sales: this sales member


class CrmMapping(BaseModel):
    """How one CRM's export maps onto Kizuna: account id attribute, stage and type names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_attribute: str = Field(min_length=1, max_length=64)
    stages: dict[str, str]
    types: dict[str, OpportunityType] = Field(default_factory=dict)


class RevenueDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pipeline: list[Stage] = Field(min_length=2)
    renewal_lead_days: int = Field(120, ge=1, le=730)
    first_stage: str
    owners: list[OwnerRule] = Field(default_factory=list)
    crm: dict[Literal["salesforce", "hubspot"], CrmMapping] = Field(default_factory=dict)
    source: str = "<memory>"

    @model_validator(mode="after")
    def _cross_check(self) -> RevenueDefinition:
        ids = [s.id for s in self.pipeline]
        problems = []
        if len(set(ids)) != len(ids):
            problems.append("pipeline stage ids must be unique")
        for outcome in ("won", "lost"):
            if not any(s.outcome == outcome for s in self.pipeline):
                problems.append(f"the pipeline needs a stage with outcome {outcome}")
        if self.first_stage not in ids:
            problems.append(f"first_stage {self.first_stage!r} is not a pipeline stage")
        for name, mapping in self.crm.items():
            for theirs, ours in mapping.stages.items():
                if ours not in ids:
                    problems.append(f"crm.{name}.stages maps {theirs!r} to unknown stage {ours!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def stage(self, stage_id: str) -> Stage | None:
        return next((s for s in self.pipeline if s.id == stage_id), None)

    @property
    def won_stage(self) -> Stage:
        return next(s for s in self.pipeline if s.outcome == "won")

    @property
    def lost_stage(self) -> Stage:
        return next(s for s in self.pipeline if s.outcome == "lost")

    def owner_rule(self, kind: OpportunityType, products: list[str]) -> OwnerRule | None:
        """The first owner rule matching ``kind`` and, when the rule names one, a product."""
        for rule in self.owners:
            if rule.type == kind and (rule.product is None or rule.product in products):
                return rule
        return None


def parse_definition(data: Any, where: str = "<memory>") -> RevenueDefinition:
    """Validate parsed YAML; raise :class:`InvalidInput` listing every problem."""
    try:
        definition = RevenueDefinition.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(
                e["msg"].removeprefix("Value error, "),
                where=f"{where}, field {'.'.join(str(p) for p in e['loc']) or '(root)'}",
                field=".".join(str(p) for p in e["loc"]) or None,
            )
            for e in exc.errors()
        ]
        raise InvalidInput(f"invalid revenue definition {where}", problems) from None
    return definition.model_copy(update={"source": where})


def load_definition(path: Path | str | None = None) -> RevenueDefinition:
    """A revenue definition file; ``None`` loads the packaged default."""
    if path is None:
        text = (resources.files("kizuna.revenue") / "default_revenue.yaml").read_text("utf-8")
        where = "default_revenue.yaml"
    else:
        where = str(path)
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise InvalidInput(
                f"cannot read revenue definition {where}",
                [Problem(exc.strerror or str(exc), where=where)],
            ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(
            f"invalid YAML in {where}", [Problem(str(exc).splitlines()[0], where=where)]
        ) from None
    return parse_definition(data, where)


def definition_for(home: Path, path: Path | str | None = None) -> RevenueDefinition:
    """``path`` if given, else ``<home>/revenue.yaml`` if it exists, else the default."""
    if path is not None:
        return load_definition(path)
    own = home / "revenue.yaml"
    return load_definition(own if own.exists() else None)
