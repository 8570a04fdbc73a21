"""Each condition kind over the hand-built book (tests/actions/conftest.py), on both stores."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kizuna.actions import gather_facts, parse_condition, parse_rules
from kizuna.actions.conditions import Condition
from kizuna.errors import InvalidInput, Problem
from kizuna.plans import create_plan
from kizuna.platform import Platform
from kizuna.risk.scores import SCORES_SCHEMA, scores_path

from .conftest import AS_OF


def cond(data: Any) -> Condition:
    problems: list[Problem] = []
    parsed = parse_condition(data, "when", problems)
    assert problems == [] and parsed is not None
    return parsed


def matching(platform: Platform, data: Any) -> list[str]:
    c = cond(data)
    book = gather_facts(platform, AS_OF, c.fact_keys())
    return sorted(str(a) for a in book.ids[c.mask(book)])


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"fact": "health_score", "lt": 60}, ["A1", "A3"]),
        ({"fact": "health_band", "eq": "red"}, ["A1"]),
        ({"fact": "health_band", "in": ["red", "yellow"]}, ["A1", "A3"]),
        ({"fact": "health_change", "days": 30, "lte": -10}, ["A1"]),
        ({"fact": "health_change", "gte": 0}, ["A2"]),  # A3 has no earlier snapshot
        ({"attention": "red"}, ["A1"]),
        ({"attention": "drop"}, ["A1"]),
        ({"metric": "seat_utilisation_28d", "gt": 0.9}, ["A1"]),
        ({"metric": "seat_utilisation_28d", "change_days": 30, "gte": 0.1}, ["A1"]),
        (
            {"metric": "seat_utilisation_28d", "change_days": 30, "relative": True, "gt": 0.18},
            ["A1"],
        ),
        ({"metric": "seat_utilisation_28d", "change_days": 30, "eq": 0}, ["A2"]),
        ({"fact": "stage", "eq": "adoption"}, ["A1"]),
        ({"fact": "days_in_stage", "gt": 100}, ["A1"]),  # 121 days; A2 has 90
        (
            {"fact": "days_to_renewal", "lte": 120},
            ["A1", "A3"],
        ),  # renewals on 2025-10-01 (93 days) and 2025-08-01 (32 days)
        ({"fact": "nps_detractors", "days": 30, "gte": 1}, ["A1"]),
        ({"fact": "nps_detractors", "days": 120, "gte": 2}, ["A1"]),
        ({"fact": "open_tickets", "gte": 1}, ["A1"]),  # urgent; A3's high one is closed
        ({"fact": "open_tickets", "priority": ["normal"], "gte": 1}, ["A1"]),
        ({"fact": "days_since_touch", "role": "evaluator", "gt": 45}, ["A1"]),  # A2: 10 days
        ({"fact": "days_since_touch", "role": "promoter", "gt": 45}, ["A3"]),  # never touched
        ({"fact": "segment", "eq": "smb"}, ["A3", "A4"]),
        ({"fact": "arr", "gte": 30000}, ["A1", "A2"]),
        ({"fact": "arr", "eq": 0}, ["A4"]),
        ({"fact": "owner", "eq": "T1"}, ["A1", "A2"]),
        ({"fact": "attribute", "name": "plan", "eq": "business"}, ["A2"]),
        ({"fact": "attribute", "name": "employees", "gt": 500}, ["A1"]),
        ({"no_open_cta": "risk"}, ["A1", "A2", "A3", "A4"]),
        ({"all": [{"fact": "segment", "ne": "smb"}, {"fact": "arr", "lt": 100000}]}, ["A2"]),
        ({"any": [{"attention": "red"}, {"fact": "segment", "eq": "mid-market"}]}, ["A1", "A2"]),
        ({"not": {"fact": "health_band", "eq": "red"}}, ["A2", "A3", "A4"]),
        ({"fact": "health_score", "lt": 60, "missing": True}, ["A1", "A3", "A4"]),
    ],
)
def test_condition_kinds(book: Platform, condition: Any, expected: list[str]) -> None:
    assert matching(book, condition) == expected


def test_overdue_milestones_from_lifecycle(book: Platform) -> None:
    # A2 started 2025-04-01 (mid-market): the default template's milestones are due
    # within 30 and 60 days; nothing is completed and the lake is empty, so both are
    # overdue on 2025-06-30.
    c = cond({"attention": "overdue"})
    facts = gather_facts(book, AS_OF, c.fact_keys())
    column = facts.columns[c.fact_keys()[0]]
    overdue = {str(a): v for a, v in zip(facts.ids, column, strict=True) if v == v}
    assert overdue.get("A2", 0) >= 1
    assert "A2" in [str(a) for a in facts.ids[c.mask(facts)]]


def test_reason_in_words(book: Platform) -> None:
    c = cond({"all": [{"fact": "days_to_renewal", "lte": 120}, {"attention": "red"}]})
    facts = gather_facts(book, AS_OF, c.fact_keys())
    row = int(facts.positions(["A1"])[0])
    assert c.reasons(facts, row) == [
        "days to renewal is 93 (≤ 120)",
        "health band is red (= red)",
    ]


def test_every_problem_reported_with_its_path() -> None:
    data = {
        "rules": [
            {"id": "r1", "name": "R", "type": "risk", "when": {"fact": "nope", "gt": 1}},
            {
                "id": "r2",
                "name": "R2",
                "type": "bogus",
                "when": {"all": [{"fact": "health_band", "gt": 3}, {"metric": "m"}]},
                "playbook": "missing",
            },
            {"id": "r3", "name": "R3", "type": "risk",
             "when": {"fact": "days_since_touch", "gt": 4, "colour": "x"}},
        ]
    }  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        parse_rules(data, "rules.yaml")
    wheres = [(p.where, p.message.split(";")[0].split(",")[0]) for p in caught.value.problems]
    assert wheres == [("rules.yaml, field rules[1].type", "Input should be 'risk'")]
    # with the type fixed, the condition problems are all reported at once
    data["rules"][1]["type"] = "risk"
    with pytest.raises(InvalidInput) as caught:
        parse_rules(data, "rules.yaml")
    assert [p.where for p in caught.value.problems] == [
        "rules.yaml, field rules[0].when.fact",
        "rules.yaml, field rules[1].when.all[0].gt",
        "rules.yaml, field rules[1].when.all[1]",
        "rules.yaml, field rules[1].playbook",
        "rules.yaml, field rules[2].when.colour",
        "rules.yaml, field rules[2].when",
    ]
    assert caught.value.problems[-1].message == "fact 'days_since_touch' needs 'role'"


def test_plan_status_and_churn_risk_facts(book: Platform) -> None:
    # A2 gets an active success plan; A1 and A3 a stored churn score (as `kizuna risk score` writes)
    create_plan(book, "A2", "mid_market", start=AS_OF)
    path = scores_path(book.settings, AS_OF)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [
        {"account_id": account, "as_of": AS_OF, "model_version": "v1", "probability": p,
         "band": band, "contraction_probability": 0.0, "arr": 1.0, "arr_up": 1.0,
         "renewal_date": AS_OF, "days_to_renewal": 0, "expected_renewal_arr": 1.0 - p,
         "health_score": None, "drivers": []}
        for account, p, band in (("A1", 0.62, "high"), ("A3", 0.08, "low"))
    ]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows, schema=SCORES_SCHEMA), path)
    statuses = ["on_track", "at_risk", "off_track", "achieved"]
    assert matching(book, {"fact": "plan_status", "in": statuses}) == ["A2"]
    assert matching(book, {"fact": "churn_probability", "gte": 0.5}) == ["A1"]
    assert matching(book, {"fact": "risk_band", "eq": "low"}) == ["A3"]
    # no plan, no score: unknown, so neither side of a comparison holds
    assert matching(book, {"fact": "churn_probability", "lt": 0.5}) == ["A3"]
