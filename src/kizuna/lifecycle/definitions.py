"""Lifecycle definitions: stages with entry rules and onboarding templates, as data.

A definition file is YAML loaded into the pydantic models below. Loading
collects *every* problem (with the file and the field path) and raises one
:class:`~kizuna.errors.InvalidInput`, never only the first.

Shape::

    stages:                 # evaluated in this order; the first whose entry holds wins
      - id: churned
        name: Churned
        entry:
          all:              # or any:
            - fact: was_customer
              eq: true
      - id: adoption        # the last stage has no entry rule: the catch-all
        name: Adoption
    onboarding:
      activation_window_days: 30
      tracking_started: 2024-07-01    # optional; default: from the lake
      templates:
        - segments: [enterprise]      # "*" is the fallback template
          milestones:
            - id: first_value
              name: First value reached
              due_days: 60            # due = contract start + due_days
              owner: customer         # vendor | customer
              first_value: true       # defines time to value
              complete_when:          # automatic completion (all must hold)
                all:
                  - events: {names: [onboarding_first_value]}
                    gte: 1

A condition names exactly one subject (``fact``, ``milestone``, ``metric``,
``health``, ``events`` or ``activity``) and one or more comparisons (``eq``,
``ne``, ``lt``, ``lte``, ``gt``, ``gte``, ``in``; ``done`` for milestones).
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from kizuna.errors import (
    CodedValueError,
    InvalidInput,
    Problem,
    unreadable,
    validation_code,
    yaml_problem,
)
from kizuna.labels import Label

#: Facts about an account's contracts and onboarding that stage rules may use.
FACTS: dict[str, str] = {
    "was_customer": "a contract line has started on or before the date (bool)",
    "has_contract": "a contract line is in force on the date (bool)",
    "days_since_contract_start": "days since the first contract line started",
    "days_to_renewal": "days until the latest end date of the lines in force",
    "arr": "ARR of the lines in force (sum, in the lines' currency)",
    "arr_growth": "ARR in force over ARR on the contract start date, minus 1",
    "onboarding_complete": "every milestone of the onboarding template is done (bool)",
    "overdue_milestones": "milestones past their due date and not done",
    "milestones_done": "milestones done",
    "days_since_first_value": "days since the first-value milestone was done",
}

#: Health fields a rule may compare (from health snapshots, when they exist).
HEALTH_FIELDS = ("band", "score")

_ID = re.compile(r"[a-z][a-z0-9_]*")
_OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in_")


def _check_id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise CodedValueError(
            f"id {value!r} must be lower-case letters, digits and underscores, "
            "starting with a letter",
            "lifecycle.id_format",
            id=value,
        )
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class EventsSpec(_Strict):
    """Usage events counted over a trailing window (or since contract start)."""

    names: tuple[str, ...] = Field(min_length=1, description="Event names that count.")
    measure: Literal["count", "distinct_users"] = "count"
    window_days: int | None = Field(
        default=None,
        gt=0,
        description="Trailing window ending on the date, in days; unset = since contract start.",
    )


class ActivitySpec(_Strict):
    """CS activities on the timeline (e.g. a kick-off meeting), counted like events."""

    kind: Literal["meeting", "call", "email", "note"] | None = None
    text_contains: str | None = Field(default=None, description="Case-insensitive substring.")
    window_days: int | None = Field(default=None, gt=0)


class Condition(_Strict):
    """One test over an account as of a date."""

    fact: str | None = None
    milestone: str | None = None
    metric: str | None = None
    health: Literal["band", "score"] | None = None
    events: EventsSpec | None = None
    activity: ActivitySpec | None = None

    eq: Any = None
    ne: Any = None
    lt: float | None = None
    lte: float | None = None
    gt: float | None = None
    gte: float | None = None
    in_: tuple[Any, ...] | None = Field(default=None, alias="in")
    done: bool | None = None

    @model_validator(mode="after")
    def _one_subject_and_a_test(self) -> Condition:
        subjects = [
            s
            for s in ("fact", "milestone", "metric", "health", "events", "activity")
            if getattr(self, s) is not None
        ]
        if len(subjects) != 1:
            raise CodedValueError(
                "a condition needs exactly one of fact, milestone, metric, health, events, "
                f"activity; got {subjects or 'none'}",
                "lifecycle.one_subject",
                got=", ".join(subjects) or "-",
            )
        ops = [op for op in _OPS if getattr(self, op) is not None]
        if self.milestone is not None:
            if self.done is None or ops:
                raise CodedValueError(
                    "a milestone condition takes only 'done: true|false'",
                    "lifecycle.milestone_done",
                )
        elif self.done is not None:
            raise CodedValueError(
                "'done' applies to milestone conditions only", "lifecycle.done_only_milestones"
            )
        elif not ops:
            raise CodedValueError(
                "a condition needs a comparison: eq, ne, lt, lte, gt, gte or in",
                "lifecycle.comparison",
            )
        return self

    @property
    def subject(self) -> str:
        if self.fact is not None:
            return self.fact
        if self.milestone is not None:
            return f"milestone {self.milestone}"
        if self.metric is not None:
            return f"metric {self.metric}"
        if self.health is not None:
            return f"health {self.health}"
        if self.events is not None:
            e = self.events
            window = f"{e.window_days}d" if e.window_days else "since start"
            return f"{e.measure} of {'/'.join(e.names)} ({window})"
        a = self.activity
        assert a is not None
        what = " ".join(x for x in (a.kind, f"'{a.text_contains}'" if a.text_contains else "") if x)
        window = f"{a.window_days}d" if a.window_days else "since start"
        return f"activities {what or 'any'} ({window})"

    def describe(self) -> str:
        """The condition as a person would write it, e.g. ``health band in [red]``."""
        if self.milestone is not None:
            return f"{self.subject} {'done' if self.done else 'not done'}"
        symbols = {"eq": "=", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
        parts = []
        for op in _OPS:
            value = getattr(self, op)
            if value is None:
                continue
            if op == "in_":
                parts.append(f"in [{', '.join(str(v) for v in value)}]")
            else:
                parts.append(f"{symbols[op]} {_fmt(value)}")
        return f"{self.subject} {' and '.join(parts)}"


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class Rule(_Strict):
    """``all`` conditions hold, or ``any`` one of them holds."""

    all: tuple[Condition, ...] | None = None
    any: tuple[Condition, ...] | None = None

    @model_validator(mode="after")
    def _one_list(self) -> Rule:
        if (self.all is None) == (self.any is None):
            raise CodedValueError(
                "a rule has exactly one of 'all' or 'any' (a non-empty list)",
                "lifecycle.all_or_any",
            )
        if not (self.all or self.any):
            raise CodedValueError("a rule's condition list is empty", "lifecycle.empty_rule")
        return self

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return self.all if self.all is not None else (self.any or ())

    @property
    def mode(self) -> Literal["all", "any"]:
        return "all" if self.all is not None else "any"


class StageDefinition(_Strict):
    """A post-contract lifecycle stage and the rule that puts an account in it."""

    id: str
    name: str
    #: The stage's name in Japanese (None: the English name).
    label_ja: str | None = None
    description: str = ""

    _id = field_validator("id")(lambda cls, v: _check_id(v))
    entry: Rule | None = None

    @property
    def label(self) -> Label:
        return Label.of(self.id, self.name, self.label_ja)


class MilestoneDefinition(_Strict):
    """An onboarding milestone due ``due_days`` after contract start."""

    id: str
    name: str
    #: The milestone's name in Japanese (None: the English name).
    label_ja: str | None = None
    due_days: int = Field(ge=0)
    owner: Literal["vendor", "customer"]
    first_value: bool = False
    activation: bool = False
    complete_when: Rule | None = None

    _id = field_validator("id")(lambda cls, v: _check_id(v))

    @property
    def label(self) -> Label:
        return Label.of(self.id, self.name, self.label_ja)


class OnboardingTemplate(_Strict):
    """The onboarding milestones of accounts in ``segments`` (``*``: any other segment)."""

    segments: tuple[str, ...] = Field(min_length=1)
    milestones: tuple[MilestoneDefinition, ...] = Field(min_length=1)

    def milestone(self, milestone_id: str) -> MilestoneDefinition | None:
        return next((m for m in self.milestones if m.id == milestone_id), None)

    @property
    def first_value(self) -> MilestoneDefinition:
        return next(m for m in self.milestones if m.first_value)

    @property
    def activation(self) -> MilestoneDefinition:
        return next(m for m in self.milestones if m.activation)

    @property
    def planned_days(self) -> int:
        """Days from contract start by which the whole onboarding is planned to finish."""
        return max(m.due_days for m in self.milestones)


class OnboardingDefinition(_Strict):
    activation_window_days: int = Field(default=30, gt=0)
    tracking_started: date | None = Field(
        default=None,
        description=(
            "First day Kizuna tracked onboarding. Accounts whose contract started earlier "
            "were already live: they are treated as onboarded and have no milestones. "
            "Unset: the first day on which a meaningful share of accounts had events in the "
            "lake (setting tracking_start_share; no events: every account is tracked)."
        ),
    )
    templates: tuple[OnboardingTemplate, ...] = Field(min_length=1)


class LifecycleDefinition(_Strict):
    """Stages and onboarding templates, validated as a whole."""

    stages: tuple[StageDefinition, ...] = Field(min_length=1)
    onboarding: OnboardingDefinition
    source: str = Field(default="<memory>", exclude=True)

    def stage(self, stage_id: str) -> StageDefinition | None:
        return next((s for s in self.stages if s.id == stage_id), None)

    def stage_label(self, stage_id: str) -> Label:
        """The label of stage ``stage_id`` (an id no longer defined: the id made readable)."""
        stage = self.stage(stage_id)
        return stage.label if stage is not None else Label.of(stage_id)

    def milestone_label(self, milestone_id: str) -> Label:
        """The label of milestone ``milestone_id`` in any template (else the id made readable)."""
        for template in self.onboarding.templates:
            found = template.milestone(milestone_id)
            if found is not None:
                return found.label
        return Label.of(milestone_id)

    def template_for(self, segment: str | None) -> OnboardingTemplate:
        """The template of ``segment``, else the ``*`` fallback."""
        for template in self.onboarding.templates:
            if segment is not None and segment in template.segments:
                return template
        return next(t for t in self.onboarding.templates if "*" in t.segments)

    def all_conditions(self) -> list[Condition]:
        rules = [s.entry for s in self.stages if s.entry] + [
            m.complete_when for t in self.onboarding.templates for m in t.milestones
        ]
        return [c for r in rules if r for c in r.conditions]


def _cross_check(definition: LifecycleDefinition, where: str) -> list[Problem]:
    """Problems the field types cannot catch: references, uniqueness, catch-all."""
    problems: list[Problem] = []

    def add(field: str, message: str, code: str, **params: Any) -> None:
        problems.append(
            Problem(message, f"{where}, field {field}", field, code=code, params=params)
        )

    seen: set[str] = set()
    for i, stage in enumerate(definition.stages):
        if stage.id in seen:
            add(
                f"stages.{i}.id",
                f"stage id {stage.id!r} is used twice",
                "lifecycle.stage_twice",
                id=stage.id,
            )
        seen.add(stage.id)
        last = i == len(definition.stages) - 1
        if last and stage.entry is not None:
            add(
                f"stages.{i}.entry",
                "the last stage must have no entry rule: it is the catch-all that gives every "
                "customer exactly one stage",
                "lifecycle.last_entry",
            )
        if not last and stage.entry is None:
            add(
                f"stages.{i}.entry",
                "only the last stage may omit its entry rule",
                "lifecycle.entry_missing",
            )

    milestone_ids = {m.id for t in definition.onboarding.templates for m in t.milestones}
    segments_seen: set[str] = set()
    for t_i, template in enumerate(definition.onboarding.templates):
        for segment in template.segments:
            if segment in segments_seen:
                add(
                    f"onboarding.templates.{t_i}.segments",
                    f"segment {segment!r} has two templates",
                    "lifecycle.segment_twice",
                    segment=segment,
                )
            segments_seen.add(segment)
        ids = [m.id for m in template.milestones]
        for dup in sorted({x for x in ids if ids.count(x) > 1}):
            add(
                f"onboarding.templates.{t_i}.milestones",
                f"milestone id {dup!r} is used twice",
                "lifecycle.milestone_twice",
                id=dup,
            )
        for flag in ("first_value", "activation"):
            count = sum(getattr(m, flag) for m in template.milestones)
            if count != 1:
                add(
                    f"onboarding.templates.{t_i}.milestones",
                    f"exactly one milestone must be marked {flag}: true (found {count})",
                    "lifecycle.one_flag",
                    flag=flag,
                    count=count,
                )
    if "*" not in segments_seen:
        add(
            "onboarding.templates",
            "one template needs segments: ['*'] for any other segment",
            "lifecycle.no_catch_all",
        )

    def check_rule(rule: Rule | None, path: str, own_milestones: set[str] | None) -> None:
        if rule is None:
            return
        for c_i, cond in enumerate(rule.conditions):
            c_path = f"{path}.{rule.mode}.{c_i}"
            if cond.fact is not None and cond.fact not in FACTS:
                known_facts = ", ".join(FACTS)
                add(
                    f"{c_path}.fact",
                    f"unknown fact {cond.fact!r}; known: {known_facts}",
                    "lifecycle.unknown_fact",
                    fact=cond.fact,
                    known=known_facts,
                )
            if cond.milestone is not None:
                known = own_milestones if own_milestones is not None else milestone_ids
                if cond.milestone not in known:
                    add(
                        f"{c_path}.milestone",
                        f"unknown milestone {cond.milestone!r}",
                        "lifecycle.unknown_milestone",
                        id=cond.milestone,
                    )

    for i, stage in enumerate(definition.stages):
        check_rule(stage.entry, f"stages.{i}.entry", None)
    for t_i, template in enumerate(definition.onboarding.templates):
        own = {m.id for m in template.milestones}
        for m_i, m in enumerate(template.milestones):
            path = f"onboarding.templates.{t_i}.milestones.{m_i}.complete_when"
            check_rule(m.complete_when, path, own)
            for c_i, cond in enumerate(m.complete_when.conditions if m.complete_when else ()):
                if cond.fact in {"onboarding_complete", "overdue_milestones", "milestones_done"}:
                    add(
                        f"{path}.{c_i}.fact",
                        f"a milestone cannot depend on the fact {cond.fact!r} (circular)",
                        "lifecycle.circular_fact",
                        fact=cond.fact,
                    )
        for cycle in _milestone_cycles(template):
            add(
                f"onboarding.templates.{t_i}.milestones",
                f"milestones depend on each other in a circle: {' -> '.join(cycle)}",
                "lifecycle.milestone_cycle",
                path=" -> ".join(cycle),
            )
    return problems


def milestone_dependencies(template: OnboardingTemplate) -> dict[str, set[str]]:
    """The milestones each milestone's automatic condition reads (directly).

    ``milestone: x`` reads x; the fact ``days_since_first_value`` reads the
    template's first-value milestone.
    """
    first_value = [m.id for m in template.milestones if m.first_value]
    own = {m.id for m in template.milestones}
    deps: dict[str, set[str]] = {}
    for m in template.milestones:
        reads: set[str] = set()
        for cond in m.complete_when.conditions if m.complete_when else ():
            if cond.milestone is not None and cond.milestone in own:
                reads.add(cond.milestone)
            if cond.fact == "days_since_first_value":
                reads.update(first_value)
        deps[m.id] = reads
    return deps


def _milestone_cycles(template: OnboardingTemplate) -> list[list[str]]:
    """Circular dependencies between a template's milestones (each reported once)."""
    deps = milestone_dependencies(template)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: finished

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(deps.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for m in template.milestones:
        if m.id not in state:
            visit(m.id, [m.id])
    return cycles


def evaluation_order(template: OnboardingTemplate) -> list[str]:
    """Milestone ids with every milestone after the milestones its condition reads.

    Ties keep the template order. Validated templates have no cycles.
    """
    deps = milestone_dependencies(template)
    order: list[str] = []
    placed: set[str] = set()
    pending = [m.id for m in template.milestones]
    while pending:
        ready = next(m for m in pending if deps[m] <= placed)
        order.append(ready)
        placed.add(ready)
        pending.remove(ready)
    return order


def parse_definition(data: Any, where: str = "<memory>") -> LifecycleDefinition:
    """Validate already-parsed YAML data; raise :class:`InvalidInput` with every problem."""
    try:
        definition = LifecycleDefinition.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        locs = [e["loc"] for e in errors]
        problems = [
            Problem(
                e["msg"].removeprefix("Value error, "),
                where=f"{where}, field {'.'.join(str(p) for p in e['loc']) or '(root)'}",
                field=".".join(str(p) for p in e["loc"]) or None,
                code=code,
                params=params,
            )
            for e in errors
            for code, params in [validation_code(e)]
            # a list that is "too short" only because its items failed is noise
            if not (
                e["type"] == "too_short"
                and any(len(o) > len(e["loc"]) and o[: len(e["loc"])] == e["loc"] for o in locs)
            )
        ]
        raise InvalidInput(f"invalid lifecycle definition {where}", problems) from None
    problems = _cross_check(definition, where)
    if problems:
        raise InvalidInput(f"invalid lifecycle definition {where}", problems)
    return definition.model_copy(update={"source": where})


def load_definition(path: Path | str | None = None) -> LifecycleDefinition:
    """Load a lifecycle definition file; ``None`` loads the packaged default journey."""
    if path is None:
        text = (resources.files("kizuna.lifecycle") / "default_lifecycle.yaml").read_text("utf-8")
        where = "default_lifecycle.yaml"
    else:
        path = Path(path)
        where = str(path)
        try:
            text = path.read_text("utf-8")
        except OSError as exc:
            raise InvalidInput(
                f"cannot read lifecycle definition {where}",
                [unreadable(exc, where)],
            ) from None
    return _parsed(text, where)


@lru_cache(maxsize=16)
def _parsed(text: str, where: str) -> LifecycleDefinition:
    # Parsed once per file content: pages and the daily run read the definition often.
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"invalid YAML in {where}", [yaml_problem(exc, where)]) from None
    return parse_definition(data, where)


def definition_for(home: Path, path: Path | str | None = None) -> LifecycleDefinition:
    """The definition in use: ``path`` if given, else ``<home>/lifecycle.yaml`` if it
    exists, else the packaged default journey."""
    if path is not None:
        return load_definition(path)
    own = home / "lifecycle.yaml"
    return load_definition(own if own.exists() else None)
