"""The portfolio's rules: who needs attention and why, health bands, survey bands.

Defined once here, with their labels in English and Japanese; the daily run's
portfolio read model (:mod:`kizuna.daily.portfolio`) applies them to every
account, the UI and the API only show what was decided, and other capabilities
(the rules engine of calls to action) reuse them from :mod:`kizuna.portfolio.attention`.
"""

from kizuna.portfolio.attention import (
    ATTENTION_DROP,
    ATTENTION_REASONS,
    BANDS,
    HEALTH_BANDS,
    NPS_DETRACTOR_MAX,
    NPS_PROMOTER_MIN,
    SURVEY_BANDS,
    AttentionReason,
    Band,
    SurveyBand,
    attention_reasons,
    dropped,
    survey_band,
    survey_tone,
)

__all__ = [
    "ATTENTION_DROP",
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
