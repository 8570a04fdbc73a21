"""Who needs attention and why, the health bands and the survey bands — each defined once.

* **Health bands** (:data:`HEALTH_BANDS`): red, yellow, green, worst first. Where a
  score falls is the scorecard's decision (:class:`kizuna.health.scorecard.Bands`);
  this module names the bands and their order.
* **Attention** (:func:`attention_reasons`): an account needs attention when its
  health band is red, when its score dropped :data:`ATTENTION_DROP` points or more
  over 30 days, or when an onboarding milestone is overdue.
* **Survey bands** (:func:`survey_band`): an NPS answer of 0–6 is a detractor,
  7–8 passive, 9–10 a promoter (Reichheld); a CSAT answer of 1–2 is
  dissatisfied, 3 neutral, 4–5 satisfied.

Every rule carries its label in English and Japanese (:class:`kizuna.labels.Label`),
so each edge shows what was decided in the user's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kizuna.labels import Label

__all__ = [
    "ATTENTION_DROP",
    "ATTENTION_DROP_DAYS",
    "ATTENTION_REASONS",
    "BANDS",
    "HEALTH_BANDS",
    "NPS_DETRACTOR_MAX",
    "NPS_PROMOTER_MIN",
    "SURVEY_BANDS",
    "AttentionReason",
    "Band",
    "SurveyBand",
    "attention_reasons",
    "dropped",
    "survey_band",
    "survey_tone",
]

#: A health drop of this many points (or more) over :data:`ATTENTION_DROP_DAYS` days is an
#: attention reason.
ATTENTION_DROP = 10.0
ATTENTION_DROP_DAYS = 30


@dataclass(frozen=True, slots=True)
class Band:
    """A health band: its id (as stored in snapshots), label and colour."""

    id: str
    label: Label
    colour: str


#: The health bands, worst first.
HEALTH_BANDS: tuple[Band, ...] = (
    Band("red", Label("red", "Red", "赤"), "#d92d20"),
    Band("yellow", Label("yellow", "Yellow", "黄"), "#dc9b04"),
    Band("green", Label("green", "Green", "緑"), "#079455"),
)
#: The band ids, worst first.
BANDS: tuple[str, ...] = tuple(b.id for b in HEALTH_BANDS)

ReasonId = Literal["red", "drop", "overdue"]


@dataclass(frozen=True, slots=True)
class AttentionReason:
    """Why an account needs attention: its id, label and the rule in words (en/ja)."""

    id: ReasonId
    label: Label
    rule: Label


ATTENTION_REASONS: dict[str, AttentionReason] = {
    "red": AttentionReason(
        "red",
        Label("red", "Red health", "ヘルスが赤"),
        Label("red", "The health band is red.", "ヘルスのバンドが赤です。"),
    ),
    "drop": AttentionReason(
        "drop",
        Label("drop", "Health dropped", "ヘルスが低下"),
        Label(
            "drop",
            f"The health score dropped {ATTENTION_DROP:g} points or more in 30 days.",
            f"ヘルススコアが30日間で{ATTENTION_DROP:g}ポイント以上下がりました。",
        ),
    ),
    "overdue": AttentionReason(
        "overdue",
        Label("overdue", "Onboarding overdue", "オンボーディング遅延"),
        Label(
            "overdue",
            "An onboarding milestone is past its due date.",
            "オンボーディングのマイルストーンが期日を過ぎています。",
        ),
    ),
}


def dropped(change_30d: float | None) -> bool:
    """Whether a 30-day health change (points) is a drop of :data:`ATTENTION_DROP` or more."""
    return change_30d is not None and change_30d <= -ATTENTION_DROP


def attention_reasons(
    band: str | None, change_30d: float | None, overdue: int | None
) -> tuple[str, ...]:
    """Why an account needs attention, in the order of :data:`ATTENTION_REASONS`.

    Parameters
    ----------
    band : the account's health band (None: not scored).
    change_30d : change of its health score over 30 days, in points (None: unknown).
    overdue : its overdue onboarding milestones (None or 0: none or unknown).
    """
    reasons: list[str] = []
    if band == "red":
        reasons.append("red")
    if dropped(change_30d):
        reasons.append("drop")
    if overdue:
        reasons.append("overdue")
    return tuple(reasons)


SurveyKind = Literal["nps", "csat"]
Tone = Literal["bad", "good", ""]


@dataclass(frozen=True, slots=True)
class SurveyBand:
    """A band of survey answers ``low``..``high`` (inclusive) of one survey kind."""

    kind: SurveyKind
    id: str
    low: int
    high: int
    tone: Tone
    label: Label


SURVEY_BANDS: tuple[SurveyBand, ...] = (
    SurveyBand("nps", "detractor", 0, 6, "bad", Label("detractor", "Detractor", "批判者")),
    SurveyBand("nps", "passive", 7, 8, "", Label("passive", "Passive", "中立者")),
    SurveyBand("nps", "promoter", 9, 10, "good", Label("promoter", "Promoter", "推奨者")),
    SurveyBand("csat", "dissatisfied", 1, 2, "bad", Label("dissatisfied", "Dissatisfied", "不満")),
    SurveyBand("csat", "neutral", 3, 3, "", Label("neutral", "Neutral", "普通")),
    SurveyBand("csat", "satisfied", 4, 5, "good", Label("satisfied", "Satisfied", "満足")),
)


#: The highest NPS answer of a detractor and the lowest of a promoter.
NPS_DETRACTOR_MAX = next(b.high for b in SURVEY_BANDS if b.id == "detractor")
NPS_PROMOTER_MIN = next(b.low for b in SURVEY_BANDS if b.id == "promoter")


def survey_band(kind: str, score: float) -> SurveyBand | None:
    """The band of an answer ``score`` to a survey of ``kind`` (None: kind or score unknown)."""
    for band in SURVEY_BANDS:
        if band.kind == kind and band.low <= score <= band.high:
            return band
    return None


def survey_tone(kind: str, score: float) -> Tone:
    """ "bad" for a detractor or dissatisfied answer, "good" for a promoter or satisfied one."""
    band = survey_band(kind, score)
    return band.tone if band is not None else ""
