"""Rule sets as data: rules, playbooks, the coverage model and the CTA budget (YAML).

Shape (see ``default_rules.yaml`` and ``docs/actions.md``)::

    budget:
      per_owner_per_day: 5          # new CTAs per owner per day, across all rules
    coverage:
      tiers:                        # the first tier whose condition holds
        - id: high_touch
          when: {fact: arr, gte: 50000}
          assign: {to: owner}       # owner | team (team: ID) | digital (role: ROLE)
    playbooks:
      - id: save_play
        name: Save play
        tasks:
          - {title: Call the evaluator, due_days: 2, owner: cta_owner}
    rules:
      - id: health_drop
        name: Health dropped
        type: risk                  # risk expansion lifecycle objective activity
        priority: high              # low medium high urgent
        when: {attention: drop}
        due_days: 7
        playbook: save_play
        close_when_cleared: true
        budget_per_day: 20          # optional cap on this rule's new CTAs per day
        cooldown_days: 30           # no new CTA for an account this long after one closed

Loading collects every problem with the file and the path of the field.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from kizuna.actions.conditions import Condition, parse_condition
from kizuna.errors import InvalidInput, Problem, unreadable, validation_code, yaml_problem
from kizuna.store.models import SuccessRole

__all__ = [
    "Assignment",
    "Budget",
    "Coverage",
    "Playbook",
    "RuleDefinition",
    "RuleSet",
    "TaskTemplate",
    "Tier",
    "load_rules",
    "parse_rules",
    "rules_for",
]

_ID = r"^[a-z][a-z0-9_\-]*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskTemplate(_Model):
    title: str = Field(min_length=1, max_length=300)
    title_ja: str | None = None
    #: due = the day the CTA opens + due_days
    due_days: int = Field(ge=0, le=3650)
    #: cta_owner (whoever works the CTA), account_owner, or a team member id
    owner: str = "cta_owner"


class Playbook(_Model):
    id: str = Field(pattern=_ID, max_length=64)
    name: str = Field(min_length=1)
    name_ja: str | None = None
    tasks: list[TaskTemplate] = Field(min_length=1)


class Assignment(_Model):
    to: Literal["owner", "team", "digital"] = "owner"
    team: str | None = None
    #: digital: the success role of the contacts who receive the templated e-mail
    role: str | None = None
    #: the e-mail's template; {account}, {contact}, {reason} and {unsubscribe} are filled in
    subject: str | None = None
    body: str | None = None
    #: the Japanese template, for contacts whose language is Japanese
    subject_ja: str | None = None
    body_ja: str | None = None


class Tier(_Model):
    id: str = Field(pattern=_ID, max_length=64)
    name: str | None = None
    when: Any = None
    assign: Assignment = Assignment()
    _condition: Condition | None = PrivateAttr(default=None)

    @property
    def condition(self) -> Condition | None:
        return self._condition


class Coverage(_Model):
    tiers: list[Tier] = Field(default_factory=list)


class Budget(_Model):
    per_owner_per_day: int | None = Field(default=None, ge=1)


class RuleDefinition(_Model):
    id: str = Field(pattern=_ID, max_length=64)
    name: str = Field(min_length=1, max_length=300)
    name_ja: str | None = None
    type: Literal["risk", "expansion", "lifecycle", "objective", "activity"]
    priority: Literal["low", "medium", "high", "urgent"] = "medium"
    when: Any
    due_days: int = Field(default=7, ge=0, le=3650)
    playbook: str | None = None
    close_when_cleared: bool = True
    budget_per_day: int | None = Field(default=None, ge=1)
    #: after a CTA of this rule is closed, the rule does not open another for the
    #: same account for this many days (so closing a CTA is not undone the next morning)
    cooldown_days: int = Field(default=30, ge=0, le=3650)
    enabled: bool = True
    _condition: Condition | None = PrivateAttr(default=None)

    @property
    def condition(self) -> Condition:
        assert self._condition is not None
        return self._condition


class RuleSet(_Model):
    rules: list[RuleDefinition] = Field(default_factory=list)
    playbooks: list[Playbook] = Field(default_factory=list)
    coverage: Coverage = Coverage()
    budget: Budget = Budget()
    source: str = "<memory>"

    def rule(self, rule_id: str) -> RuleDefinition | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def playbook(self, playbook_id: str | None) -> Playbook | None:
        return next((p for p in self.playbooks if p.id == playbook_id), None)


def _where(file: str, loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return f"{file}, field {path or '(root)'}"


def parse_rules(data: Any, where: str = "<memory>") -> RuleSet:
    """Validate parsed YAML; raise :class:`InvalidInput` listing every problem."""
    if data is None:
        data = {}
    try:
        ruleset = RuleSet.model_validate(
            {**data, "source": where} if isinstance(data, dict) else data
        )
    except ValidationError as exc:
        invalid = [
            Problem(
                e["msg"].removeprefix("Value error, "),
                where=_where(where, tuple(e["loc"])),
                field=".".join(str(p) for p in e["loc"]) or None,
                code=code,
                params=params,
            )
            for e in exc.errors()
            for code, params in [validation_code(e)]
        ]
        raise InvalidInput(f"invalid rules file {where}", invalid) from None
    problems: list[Problem] = []

    def check_unique(kind: str, ids: list[str]) -> None:
        seen: set[str] = set()
        for i, value in enumerate(ids):
            if value in seen:
                problems.append(
                    Problem(
                        f"duplicate {kind} id {value!r}",
                        where=_where(where, (f"{kind}s", i, "id")),
                        code=f"rules.duplicate_{kind}",
                        params={"id": value},
                    )
                )
            seen.add(value)

    check_unique("rule", [r.id for r in ruleset.rules])
    check_unique("playbook", [p.id for p in ruleset.playbooks])
    playbooks = {p.id for p in ruleset.playbooks}
    for i, rule in enumerate(ruleset.rules):
        found: list[Problem] = []
        condition = parse_condition(rule.when, _where(where, ("rules", i, "when")), found)
        problems.extend(found)
        if condition is not None:
            rule._condition = condition
        if rule.playbook is not None and rule.playbook not in playbooks:
            problems.append(
                Problem(
                    f"unknown playbook {rule.playbook!r}; "
                    f"defined: {', '.join(sorted(playbooks)) or 'none'}",
                    where=_where(where, ("rules", i, "playbook")),
                    code="rules.unknown_playbook",
                    params={"id": rule.playbook, "known": ", ".join(sorted(playbooks)) or "-"},
                )
            )
    for i, tier in enumerate(ruleset.coverage.tiers):
        if tier.when is not None:
            found = []
            tier._condition = parse_condition(
                tier.when, _where(where, ("coverage", "tiers", i, "when")), found
            )
            problems.extend(found)
        a = tier.assign
        if a.to == "team" and not a.team:
            problems.append(
                Problem(
                    "assign to a team needs team: ID",
                    where=_where(where, ("coverage", "tiers", i, "assign")),
                    code="rules.team_needed",
                )
            )
        if a.to == "digital" and not (a.role and a.subject and a.body):
            problems.append(
                Problem(
                    "a digital action needs role, subject and body",
                    where=_where(where, ("coverage", "tiers", i, "assign")),
                    code="rules.digital_needs",
                )
            )
        roles = {r.value for r in SuccessRole}
        if a.to == "digital" and a.role and a.role not in roles:
            problems.append(
                Problem(
                    f"unknown success role {a.role!r}; one of {', '.join(sorted(roles))}",
                    where=_where(where, ("coverage", "tiers", i, "assign", "role")),
                    code="not_allowed",
                    params={"value": a.role, "expected": ", ".join(sorted(roles))},
                )
            )
    if problems:
        raise InvalidInput(f"invalid rules file {where}", problems)
    return ruleset


def load_rules(path: Path | str | None = None) -> RuleSet:
    """Load a rules file; ``None`` loads the packaged default rule set."""
    if path is None:
        text = (resources.files("kizuna.actions") / "default_rules.yaml").read_text("utf-8")
        where = "default_rules.yaml"
    else:
        where = str(path)
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise InvalidInput(
                f"cannot read rules file {where}",
                [unreadable(exc, where)],
            ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"invalid YAML in {where}", [yaml_problem(exc, where)]) from None
    return parse_rules(data, where)


def rules_for(home: Path, path: Path | str | None = None) -> RuleSet:
    """The rule set in use: ``path``, else ``<home>/rules.yaml`` if present, else the default."""
    if path is not None:
        return load_rules(path)
    own = home / "rules.yaml"
    return load_rules(own if own.exists() else None)
