"""Features as known on an observation date, read through the same as-of paths as health.

For a date ``t`` and the accounts observed on it:

* **contract facts** (:mod:`kizuna.risk.book`): ARR, seats, products, tenure,
  days to the next renewal;
* **behavioural metrics**: every column of the metrics store's file for ``t``
  and of the derived-metrics file for ``t`` (:mod:`kizuna.risk.derived`);
* **health**: the score of ``t``'s health snapshot;
* **support and voice** through health's own gatherers (tickets opened and
  closed by the end of ``t``, surveys answered by then): open high/urgent
  tickets, tickets opened in 90 days, mean days to resolve, NPS and CSAT;
* **account**: segment, and the lifecycle stage entered by ``t`` (one-hot);
* **levels**: for every metric and the health score, the mean of its values on
  ``t`` and on the two month ends before it (``avg3:<name>``) — an account's
  usual level, steadier than one 28-day window (a month without a stored
  value is left out of the mean).

Nothing after ``t`` is read: metric values and health snapshots are the files
computed *for* ``t`` (each computed from data up to ``t``), store rows are
filtered on their dates. A date without metric values or a health snapshot
gives missing values (the model sees them as missing), never values of another date.
"""

from __future__ import annotations

import warnings
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import sqlalchemy as sa

from kizuna.health.inputs import GATHERERS, AccountFrame, _Reader
from kizuna.health.scorecard import SurveySource, TicketSource
from kizuna.health.snapshots import snapshot_path
from kizuna.metrics.store import values_path
from kizuna.platform import Platform
from kizuna.store.lifecycle_models import StageTransition
from kizuna.store.models import Account

#: Store-side sources read through health's gatherers: feature name -> source.
SOURCES: dict[str, TicketSource | SurveySource] = {
    "open_urgent_tickets": TicketSource(kind="tickets", fact="open"),
    "tickets_opened_90d": TicketSource(
        kind="tickets", fact="opened", priorities=("low", "normal", "high", "urgent")
    ),
    "days_to_resolve_90d": TicketSource(
        kind="tickets",
        fact="mean_days_to_resolve",
        priorities=("low", "normal", "high", "urgent"),
    ),
    "nps_365d": SurveySource(kind="survey", survey="nps", aggregate="nps", window_days=365),
    "csat_365d": SurveySource(kind="survey", survey="csat", aggregate="mean", window_days=365),
    "survey_answers_365d": SurveySource(
        kind="survey", survey="nps", aggregate="count", window_days=365
    ),
}
CONTRACT_FEATURES = ("arr", "seats", "products", "tenure_days", "days_to_renewal")


def derived_home(home: Path) -> Path:
    """Where derived metric values live: ``<home>/risk/metrics/as_of=…/values.parquet``."""
    return home / "risk"


def _wide(path: Path, prefix: str) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame()
    frame = pq.read_table(path).to_pandas().set_index("account_id")
    if "metric" in frame.columns:  # the long layout of earlier versions
        frame = frame.pivot_table(index=frame.index, columns="metric", values="value")
    frame.columns = [f"{prefix}{c}" for c in frame.columns]
    return frame.astype("float64")


def account_fields(platform: Platform) -> pd.DataFrame:
    """Segment (and name) of every account, indexed by id."""
    with platform.store.engine.connect() as conn:
        rows = conn.execute(sa.select(Account.id, Account.name, Account.segment)).all()
    return pd.DataFrame(rows, columns=["account_id", "name", "segment"]).set_index("account_id")


def stages_on(platform: Platform, t: date) -> pd.Series:
    """Each account's lifecycle stage entered by ``t`` (its latest transition)."""
    with platform.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                StageTransition.account_id,
                StageTransition.transition_date,
                StageTransition.to_stage,
            ).where(StageTransition.transition_date <= t)
        ).all()
    if not rows:
        return pd.Series(dtype=object)
    frame = pd.DataFrame(rows, columns=["account_id", "day", "stage"])
    return frame.sort_values(["account_id", "day"]).groupby("account_id")["stage"].last()


def _previous_month_ends(t: date, count: int = 2) -> list[date]:
    out = []
    day = t.replace(day=1)
    for _ in range(count):
        day = day - timedelta(days=1)
        out.append(day)
        day = day.replace(day=1)
    return out


def _metric_frame(platform: Platform, t: date) -> pd.DataFrame:
    home = platform.settings.home
    frames = [
        f
        for f in (
            _wide(values_path(home, t), "m:"),
            _wide(values_path(derived_home(home), t), "m:"),
        )
        if not f.empty
    ]
    out = pd.concat(frames, axis=1) if frames else pd.DataFrame()
    out = out.loc[:, ~out.columns.duplicated()]
    snapshot = snapshot_path(platform.settings, t)
    if snapshot.exists():
        health = pq.read_table(snapshot, columns=["account_id", "score"]).to_pandas()
        scores = health.set_index("account_id")["score"].astype(float)
        out = (
            out.join(scores.rename("health_score"), how="outer")
            if len(out)
            else (scores.rename("health_score").to_frame())
        )
    return out


def _levels(platform: Platform, t: date, current: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Mean of each named column over ``t`` and the two month ends before it."""
    stack = [current[names].to_numpy(dtype="float64")]
    for day in _previous_month_ends(t):
        earlier = _metric_frame(platform, day)
        if earlier.empty:
            continue
        stack.append(earlier.reindex(index=current.index, columns=names).to_numpy(dtype="float64"))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows stay NaN
        mean = np.nanmean(np.stack(stack), axis=0)
    return pd.DataFrame(mean, index=current.index, columns=[f"avg3:{n}" for n in names])


def features_on(
    platform: Platform, t: date, observed: pd.DataFrame, accounts: pd.DataFrame
) -> pd.DataFrame:
    """The feature frame of the accounts in ``observed`` (a :meth:`ContractBook.as_of`
    frame) as known on ``t``, indexed by account id.

    Numeric columns are features; ``segment`` and ``stage`` are categories.
    """
    ids = observed["account_id"].to_numpy(dtype=object)
    index = pd.Index(ids, name="account_id")
    out = pd.DataFrame(index=index)
    for name in CONTRACT_FEATURES:
        out[name] = observed[name].to_numpy(dtype="float64")
    current = _metric_frame(platform, t).reindex(index)
    if "health_score" not in current.columns:
        current["health_score"] = np.nan
    out = out.join(current.loc[:, ~current.columns.isin(out.columns)], how="left")
    names = [c for c in current.columns if c.startswith("m:") or c == "health_score"]
    out = out.join(_levels(platform, t, current, names), how="left")
    reader = _Reader(platform, t)
    frame_of = AccountFrame(
        ids=ids,
        names=ids,
        segments=np.full(len(ids), None, dtype=object),
        parent_ids=np.full(len(ids), None, dtype=object),
        arr=np.zeros(len(ids)),
        fields=pd.DataFrame(),
    )
    for name, source in SOURCES.items():
        out[name] = GATHERERS[source.kind](reader, source, frame_of)
    out["segment"] = index.map(accounts["segment"]).astype(object)
    out["stage"] = index.map(stages_on(platform, t)).astype(object)
    return out
