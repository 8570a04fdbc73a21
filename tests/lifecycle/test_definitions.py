"""Lifecycle definition files: the default loads; every problem is reported with file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from kizuna.errors import InvalidInput
from kizuna.lifecycle import definition_for, load_definition


def test_default_journey_loads() -> None:
    definition = load_definition()
    assert [s.id for s in definition.stages] == [
        "churned",
        "at_risk",
        "onboarding",
        "renewal",
        "expansion",
        "value_realised",
        "adoption",
    ]
    assert definition.template_for("enterprise").segments == ("enterprise",)
    assert definition.template_for("smb").segments == ("*",)
    assert definition.template_for(None).first_value.id == "first_value"
    # calibrated to the simulator's plan: kick-off by day 10, data by 30, first value by 60
    assert [(m.id, m.due_days) for m in definition.template_for("smb").milestones] == [
        ("kickoff_held", 10),
        ("success_metrics_agreed", 14),
        ("data_connected", 30),
        ("first_users_active", 30),
        ("first_value", 60),
    ]
    assert definition.template_for("smb").planned_days == 60
    assert definition.template_for("enterprise").planned_days == 90
    assert definition.onboarding.tracking_started is None  # the lake's first event day


def test_field_problems_are_all_reported(tmp_path: Path) -> None:
    path = tmp_path / "lifecycle.yaml"
    path.write_text(
        """
stages:
  - id: Adoption
    name: Adoption
onboarding:
  templates:
    - segments: ["*"]
      milestones:
        - id: kickoff
          name: Kick-off
          due_days: -1
          owner: partner
          complete_when:
            all:
              - fact: was_customer
                metric: logins
                eq: true
""",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput) as err:
        load_definition(path)
    fields = [p.field for p in err.value.problems]
    assert fields == [
        "stages.0.id",
        "onboarding.templates.0.milestones.0.due_days",
        "onboarding.templates.0.milestones.0.owner",
        "onboarding.templates.0.milestones.0.complete_when.all.0",
    ]
    assert all(p.where.startswith(f"{path}, field ") for p in err.value.problems)
    assert "exactly one of fact, milestone" in err.value.problems[3].message


def test_reference_problems_are_all_reported(tmp_path: Path) -> None:
    path = tmp_path / "lifecycle.yaml"
    path.write_text(
        """
stages:
  - id: churned
    name: Churned
    entry:
      all:
        - fact: days_since_signature
          gt: 3
  - id: adoption
    name: Adoption
    entry:
      any:
        - milestone: nope
          done: true
onboarding:
  templates:
    - segments: [smb]
      milestones:
        - id: kickoff
          name: Kick-off
          due_days: 7
          owner: vendor
""",
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput) as err:
        load_definition(path)
    assert [(p.field, p.message) for p in err.value.problems] == [
        (
            "stages.1.entry",
            "the last stage must have no entry rule: it is the catch-all that gives every "
            "customer exactly one stage",
        ),
        (
            "onboarding.templates.0.milestones",
            "exactly one milestone must be marked first_value: true (found 0)",
        ),
        (
            "onboarding.templates.0.milestones",
            "exactly one milestone must be marked activation: true (found 0)",
        ),
        ("onboarding.templates", "one template needs segments: ['*'] for any other segment"),
        (
            "stages.0.entry.all.0.fact",
            "unknown fact 'days_since_signature'; known: was_customer, has_contract, "
            "days_since_contract_start, days_to_renewal, arr, arr_growth, onboarding_complete, "
            "overdue_milestones, milestones_done, days_since_first_value",
        ),
        ("stages.1.entry.any.0.milestone", "unknown milestone 'nope'"),
    ]
    assert err.value.problems[0].where == f"{path}, field stages.1.entry"


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "lifecycle.yaml"
    path.write_text("stages:\n  - id: [unclosed\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as err:
        load_definition(path)
    assert err.value.problems[0].where.startswith(f"{path} line ")


def test_home_file_overrides_the_default(tmp_path: Path) -> None:
    text = load_definition().model_dump_json()  # a valid definition, as JSON (a YAML subset)
    (tmp_path / "lifecycle.yaml").write_text(text.replace('"Churned"', '"Lost"'), "utf-8")
    assert definition_for(tmp_path).stages[0].name == "Lost"
    assert definition_for(tmp_path / "elsewhere").stages[0].name == "Churned"
