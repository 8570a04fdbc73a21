"""Scorecard files: every problem in every file is reported with its file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from kizuna.errors import InvalidInput
from kizuna.health.scorecard import default_scorecard_path, load_scorecards

GOOD = """
name: {name}
{applies}
groups:
  - name: adoption
    weight: 1
    measures:
      - name: seats
        weight: 1
        source: {{kind: metric, metric: seat_utilisation}}
        scoring: {{scheme: linear, worst: 0, best: 1}}
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_default_scorecard_is_valid() -> None:
    cards = load_scorecards()
    assert [c.name for c in cards.scorecards] == ["default"]
    card = cards.scorecards[0]
    assert [g.name for g in card.groups] == [
        "adoption",
        "engagement",
        "support",
        "sentiment",
        "fit",
    ]
    assert {m.source.kind for _, m in card.measures} == {
        "metric",
        "tickets",
        "survey",
        "manual_sentiment",
        "fit",
    }
    assert default_scorecard_path().name == "default_scorecard.yaml"


def test_every_problem_of_every_file_is_reported(tmp_path: Path) -> None:
    bad = _write(
        tmp_path,
        "bad.yaml",
        """
name: Bad Name
colour: blue
bands: {yellow: 80, green: 60}
groups:
  - name: adoption
    weight: 0
    measures:
      - name: seats
        weight: 1
        source: {kind: metric}
        scoring: {scheme: linear, worst: 1, best: 1}
      - name: nps
        weight: 1
        source: {kind: survey, survey: csat, aggregate: nps}
        scoring: {scheme: thresholds, cuts: [1], scores: [0, 50, 100]}
      - name: mood
        weight: 1
        source: {kind: telepathy}
        scoring: {scheme: percentile}
""",
    )
    broken = _write(tmp_path, "broken.yaml", "name: [unclosed\n")
    with pytest.raises(InvalidInput) as caught:
        load_scorecards([bad, broken])
    got = sorted((p.where, p.message) for p in caught.value.problems)
    b = str(bad)
    assert got[:-1] == sorted(
        [
            (f"{b}: name", "String should match pattern '^[a-z][a-z0-9_]*$'"),
            (f"{b}: colour", "Extra inputs are not permitted"),
            (f"{b}: bands", "'yellow' must not exceed 'green'"),
            (f"{b}: groups[0].weight", "Input should be greater than 0"),
            (f"{b}: groups[0].measures[0].source.metric.metric", "Field required"),
            (f"{b}: groups[0].measures[0].scoring.linear", "'worst' and 'best' must differ"),
            (f"{b}: groups[0].measures[1].source.survey", "aggregate 'nps' needs survey 'nps'"),
            (
                f"{b}: groups[0].measures[1].scoring.thresholds",
                "need one more score than cuts: 1 cuts, 3 scores",
            ),
            (
                f"{b}: groups[0].measures[2].source",
                "Input tag 'telepathy' found using 'kind' does not match any of the expected "
                "tags: 'metric', 'survey', 'tickets', 'contract', 'fit', 'manual_sentiment', "
                "'plan_status'",
            ),
        ]
    )
    # the YAML syntax error of the second file is reported too
    assert got[-1][0] == str(broken)
    assert got[-1][1].startswith("not valid YAML")


def test_the_set_needs_one_fallback_and_distinct_names_and_segments(tmp_path: Path) -> None:
    ent = _write(
        tmp_path,
        "ent.yaml",
        GOOD.format(name="ent", applies="applies_to: {segments: [enterprise, smb]}"),
    )
    ent2 = _write(
        tmp_path, "ent2.yaml", GOOD.format(name="ent", applies="applies_to: {segments: [smb]}")
    )
    with pytest.raises(InvalidInput) as caught:
        load_scorecards([ent, ent2])
    assert [(p.where, p.message) for p in caught.value.problems] == [
        (f"{ent2}: name", f"scorecard name 'ent' is also used in {ent}"),
        (
            f"{ent2}: applies_to.segments",
            f"segment 'smb' is also claimed by scorecard 'ent' in {ent}",
        ),
        (
            "",
            "no fallback scorecard: give one scorecard without applies_to.segments, "
            "so accounts of other segments are scored too",
        ),
    ]


def test_scorecards_are_chosen_by_segment(tmp_path: Path) -> None:
    ent = _write(
        tmp_path,
        "ent.yaml",
        GOOD.format(name="ent", applies="applies_to: {segments: [enterprise]}"),
    )
    other = _write(tmp_path, "other.yaml", GOOD.format(name="other", applies=""))
    cards = load_scorecards([ent, other])
    assert [getattr(cards.for_segment(s), "name", None) for s in ("enterprise", "smb", None)] == [
        "ent",
        "other",
        "other",
    ]
