"""Success plan templates: YAML files validated into pydantic models.

The packaged templates live in ``kizuna/plans/templates/``; a team adds its own
in ``<home>/plan_templates`` (or ``settings.plans_dir``), a file there
replacing a packaged one of the same ``name``. Every problem of a file is
reported with the file and the path inside it (see docs/plans.md).
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kizuna.errors import InvalidInput, NotFound, Problem
from kizuna.settings import Settings

LANGUAGES = ("en", "ja")
Key = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9_\-]*$")]


class Text(BaseModel):
    """A text in both languages."""

    model_config = ConfigDict(extra="forbid")
    en: str = Field(min_length=1, max_length=2000)
    ja: str = Field(min_length=1, max_length=2000)

    def in_(self, language: str) -> str:
        return self.ja if language == "ja" else self.en


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VendorRoleT(_Strict):
    role: Key
    label: Text


class ChecklistT(_Strict):
    label: Text
    failure_pattern: Text | None = None


class IssueT(_Strict):
    business_issue: Text
    problem: Text | None = None
    solution: Text | None = None
    benefit: Text | None = None


class KpiT(_Strict):
    key: Key
    name: Text
    unit: str | None = Field(None, max_length=32)
    direction: Literal["higher", "lower"] = "higher"
    metric: str | None = Field(None, max_length=128)
    baseline: float = 0.0
    target: float
    #: With a metric: the target is the measured baseline changed by this percentage
    #: (when that baseline is known and the result differs from it).
    target_change_pct: float | None = Field(None, gt=-100, le=1000)
    evaluation_method: Text | None = None

    @model_validator(mode="after")
    def _target_differs(self) -> KpiT:
        if self.target == self.baseline:
            raise ValueError("target must differ from baseline")
        if (self.direction == "higher") != (self.target > self.baseline):
            raise ValueError(
                f"a '{self.direction} is better' KPI needs a target "
                f"{'above' if self.direction == 'higher' else 'below'} its baseline"
            )
        return self


class InitiativeT(_Strict):
    key: Key
    name: Text
    purpose: Text | None = None
    approach: Text | None = None
    extent: Text | None = None
    impact: int = Field(ge=1, le=5)
    difficulty: int = Field(ge=1, le=5)
    kpis: list[KpiT] = Field(default_factory=list)


class MilestoneT(_Strict):
    name: Text
    due_days: int = Field(ge=0, le=3650)


class MeetingT(_Strict):
    key: Key
    name: Text
    cadence: Literal["weekly", "biweekly", "monthly"]
    audience: Literal["evaluator", "final_evaluator", "promoter", "end_user"] | None = None
    first_days: int = Field(0, ge=0, le=365)


class PlanTemplate(_Strict):
    """One template: what a new plan starts with."""

    name: Key
    label: Text
    segments: list[str] = Field(default_factory=list)
    products: list[str] = Field(default_factory=list)
    months: int = Field(6, ge=1, le=36)
    vendor_roles: list[VendorRoleT] = Field(default_factory=list)
    checklist: list[ChecklistT] = Field(default_factory=list)
    issues: list[IssueT] = Field(default_factory=list)
    kgi: KpiT
    initiatives: list[InitiativeT] = Field(min_length=1)
    milestones: list[MilestoneT] = Field(default_factory=list)
    meetings: list[MeetingT] = Field(default_factory=list)
    source: str = Field("", exclude=True)

    @model_validator(mode="after")
    def _unique_keys(self) -> PlanTemplate:
        keys = [self.kgi.key] + [k.key for i in self.initiatives for k in i.kpis]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"KPI keys must be unique in a template: {', '.join(dupes)}")
        inits = [i.key for i in self.initiatives]
        dupes = sorted({k for k in inits if inits.count(k) > 1})
        if dupes:
            raise ValueError(f"initiative keys must be unique: {', '.join(dupes)}")
        return self

    def fits(self, segment: str | None) -> bool:
        """Whether this template is meant for accounts of ``segment`` (no segments: any)."""
        if not self.segments:
            return True
        return segment is not None and _norm(segment) in {_norm(s) for s in self.segments}


def _norm(value: str) -> str:
    return value.strip().lower().replace("-", "_").replace(" ", "_")


def validation_problems(exc: ValidationError, where: str) -> list[Problem]:
    """One :class:`Problem` per pydantic error, located as ``where, field a.b.0.c``."""
    problems = []
    for e in exc.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(root)"
        problems.append(
            Problem(
                e["msg"].removeprefix("Value error, "), where=f"{where}, field {path}", field=path
            )
        )
    return problems


def read_yaml(path: Path, what: str) -> Any:
    """Parsed YAML of ``path``; unreadable or malformed files raise :class:`InvalidInput`."""
    where = str(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise InvalidInput(
            f"cannot read {what} {where}", [Problem(exc.strerror or str(exc), where=where)]
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = f"{where} line {mark.line + 1}" if mark is not None else where
        raise InvalidInput(
            f"invalid YAML in {where}", [Problem(str(exc).splitlines()[0], where=loc)]
        ) from None


def parse_template(data: Any, where: str) -> PlanTemplate:
    """Validate parsed YAML as a template; every problem reported at once."""
    try:
        template = PlanTemplate.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(
            f"invalid plan template {where}", validation_problems(exc, where)
        ) from None
    return template.model_copy(update={"source": where})


def load_template(path: Path) -> PlanTemplate:
    return parse_template(read_yaml(path, "plan template"), str(path))


def templates_dir(settings: Settings) -> Path:
    return settings.plans_dir or settings.home / "plan_templates"


@functools.cache
def packaged_templates() -> tuple[PlanTemplate, ...]:
    """The templates shipped in the package, parsed once per process.

    They are package data and cannot change while Kizuna runs; parsing their YAML took
    about 60 ms, on every request of a plan page.
    """
    packaged = resources.files("kizuna.plans") / "templates"
    return tuple(
        parse_template(yaml.safe_load(entry.read_text("utf-8")), f"templates/{entry.name}")
        for entry in sorted(packaged.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".yaml")
    )


def load_templates(settings: Settings) -> dict[str, PlanTemplate]:
    """Every template by name: the packaged ones, then the team's own (which win)."""
    found = {template.name: template for template in packaged_templates()}
    own = templates_dir(settings)
    if own.is_dir():
        problems: list[Problem] = []
        for path in sorted(own.glob("*.yaml")):
            try:
                template = load_template(path)
            except InvalidInput as exc:
                problems.extend(exc.problems)
                continue
            found[template.name] = template
        if problems:
            raise InvalidInput(f"invalid plan templates in {own}", problems)
    return found


def get_template(settings: Settings, name: str) -> PlanTemplate:
    templates = load_templates(settings)
    if name not in templates:
        raise NotFound(f"no plan template {name!r}; known: {', '.join(sorted(templates))}")
    return templates[name]


def templates_for(settings: Settings, segment: str | None) -> list[PlanTemplate]:
    """The templates that fit an account's segment (the user picks when several fit)."""
    return [t for t in load_templates(settings).values() if t.fits(segment)]
