"""Churn risk: a point-in-time model with per-account reasons, an honest evaluation
and a backtest (issue 15). See docs/risk.md."""

from kizuna.risk.derived import Suggestion, suggest_metrics
from kizuna.risk.registry import TrainedModel, list_models, load_model
from kizuna.risk.scores import (
    ScoreRun,
    account_history,
    read_scores,
    risk_scores_as_of,
    score,
    score_dates,
)
from kizuna.risk.service import History, TrainResult, ensure_history, train
from kizuna.risk.training import RiskConfig

__all__ = [
    "History",
    "RiskConfig",
    "ScoreRun",
    "Suggestion",
    "TrainResult",
    "TrainedModel",
    "account_history",
    "ensure_history",
    "list_models",
    "load_model",
    "read_scores",
    "risk_scores_as_of",
    "score",
    "score_dates",
    "suggest_metrics",
    "train",
]
