"""The portfolio's rules (kizuna.portfolio) and definitions' labels (kizuna.labels)."""

from __future__ import annotations

import pytest

from kizuna.health.scorecard import load_scorecards
from kizuna.labels import Label, readable
from kizuna.lifecycle.definitions import load_definition
from kizuna.metrics.definitions import load_definitions
from kizuna.portfolio import (
    ATTENTION_DROP,
    ATTENTION_REASONS,
    BANDS,
    NPS_DETRACTOR_MAX,
    NPS_PROMOTER_MIN,
    attention_reasons,
    survey_band,
    survey_tone,
)


@pytest.mark.parametrize(
    ("band", "change", "overdue", "reasons"),
    [
        ("red", -33.0, 2, ("red", "drop", "overdue")),
        ("green", -10.0, 0, ("drop",)),  # exactly the drop counts
        ("green", -9.99, None, ()),
        ("yellow", None, 1, ("overdue",)),
        (None, None, None, ()),
        ("red", 5.0, 0, ("red",)),
    ],
)
def test_who_needs_attention_and_why(
    band: str | None, change: float | None, overdue: int | None, reasons: tuple[str, ...]
) -> None:
    assert attention_reasons(band, change, overdue) == reasons


def test_every_rule_has_its_words_in_both_languages() -> None:
    assert ATTENTION_DROP == 10.0 and BANDS == ("red", "yellow", "green")
    assert list(ATTENTION_REASONS) == ["red", "drop", "overdue"]
    for reason in ATTENTION_REASONS.values():
        assert reason.label.en and reason.label.ja and reason.rule.ja
    assert ATTENTION_REASONS["drop"].rule.text("en") == (
        "The health score dropped 10 points or more in 30 days."
    )


def test_survey_bands() -> None:
    assert (NPS_DETRACTOR_MAX, NPS_PROMOTER_MIN) == (6, 9)
    assert [survey_band("nps", s).id for s in (0, 6, 7, 8, 9, 10)] == [  # type: ignore[union-attr]
        "detractor",
        "detractor",
        "passive",
        "passive",
        "promoter",
        "promoter",
    ]
    assert [survey_tone("csat", s) for s in (1, 2, 3, 4, 5)] == ["bad", "bad", "", "good", "good"]
    assert survey_band("ces", 3) is None and survey_tone("nps", 11) == ""


def test_labels_fall_back_to_english_then_to_the_id_made_readable() -> None:
    assert readable("seat_utilisation_28d") == "Seat utilisation 28d"
    assert readable("mid-market") == "Mid market"
    own = Label.of("weekly_active_users")
    assert (own.text("en"), own.text("ja")) == ("Weekly active users", "Weekly active users")
    english_only = Label.of("x", "Expansion")
    assert english_only.text("ja") == "Expansion"
    assert Label.of("x", "Expansion", "拡大").text("ja") == "拡大"


def test_the_shipped_definitions_are_labelled_in_both_languages() -> None:
    lifecycle = load_definition(None)
    assert lifecycle.stage_label("at_risk").text("ja") == "リスクあり"
    assert lifecycle.stage_label("gone_fishing").text("en") == "Gone fishing"
    assert all(s.label_ja for s in lifecycle.stages)
    assert all(m.label_ja for t in lifecycle.onboarding.templates for m in t.milestones)
    assert all(m.label and m.label_ja for m in load_definitions(None).metrics)
    card = load_scorecards(None).scorecards[0]
    assert card.label_ja and all(g.label_ja for g in card.groups)
    assert all(m.label and m.label_ja for g in card.groups for m in g.measures)
