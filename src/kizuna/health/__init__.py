"""Health scorecards: configurable, explainable scores with history and trend (issue 4).

Scorecards (YAML) group weighted measures; each measure reads a source
(behavioural metric, NPS/CSAT, tickets, contract facts, ideal-customer fit, a
CSM's sentiment) and scores it (thresholds, linear range, percentile among
segment peers, boolean). Every account gets a 0–100 score and band per date,
kept as a daily snapshot that explains itself measure by measure.
"""

from kizuna.health.compute import (
    HealthRun,
    compute_health,
    compute_health_range,
    roll_up,
    score_inputs,
    scorecard_paths,
)
from kizuna.health.inputs import AccountFrame, HealthInputs, gather_inputs, source_key
from kizuna.health.report import explain_account, list_health, top_movers
from kizuna.health.scorecard import (
    Scorecard,
    ScorecardSet,
    default_scorecard_path,
    load_scorecards,
)
from kizuna.health.scoring import assemble, score_measure
from kizuna.health.sentiment import list_sentiments, record_sentiment
from kizuna.health.snapshots import SNAPSHOT_SCHEMA, account_history, read_snapshot

__all__ = [
    "SNAPSHOT_SCHEMA",
    "AccountFrame",
    "HealthInputs",
    "HealthRun",
    "Scorecard",
    "ScorecardSet",
    "account_history",
    "assemble",
    "compute_health",
    "compute_health_range",
    "default_scorecard_path",
    "explain_account",
    "gather_inputs",
    "list_health",
    "list_sentiments",
    "load_scorecards",
    "read_snapshot",
    "record_sentiment",
    "roll_up",
    "score_inputs",
    "score_measure",
    "scorecard_paths",
    "source_key",
    "top_movers",
]
