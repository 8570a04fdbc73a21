"""Features as known on an observation date, read through the same as-of paths as health.

For a date ``t`` and the accounts observed on it:

* **contract facts** (:mod:`kizuna.risk.book`): ARR, seats, products, tenure,
  days to the next renewal;
* **behavioural metrics**: every column of the metrics store's file for ``t``
  and of the derived-metrics file for ``t`` (:mod:`kizuna.risk.derived`);
* **health**: the score of ``t``'s health snapshot;
* **support and voice** by the rules of health's own gatherers (:data:`SOURCES`;
  a test checks the values are equal): tickets opened and closed by the end
  of ``t``, surveys answered by then — open high/urgent tickets, tickets opened
  in 90 days, mean days to resolve, NPS and CSAT;
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
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from kizuna.health.inputs import day_end_utc
from kizuna.health.scorecard import SurveySource, TicketSource
from kizuna.health.snapshots import snapshot_path
from kizuna.metrics.store import values_path
from kizuna.platform import Platform
from kizuna.portfolio.attention import NPS_DETRACTOR_MAX, NPS_PROMOTER_MIN
from kizuna.retention.loading import fetch_arrow
from kizuna.store.lifecycle_models import StageTransition
from kizuna.store.models import Account, SurveyResponse, Ticket

#: The health sources these store-side features equal (computed in bulk by
#: :meth:`FeatureSource.support`; ``tests/risk`` checks them against health's gatherers).
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


def _previous_month_ends(t: date, count: int = 2) -> list[date]:
    out = []
    day = t.replace(day=1)
    for _ in range(count):
        day = day - timedelta(days=1)
        out.append(day)
        day = day.replace(day=1)
    return out


class FeatureSource:
    """Reads the store tables features need once, then gives the features of any date.

    Tickets, survey answers and stage transitions are loaded once (a few columns)
    and filtered per date in numpy with exactly the rules of health's gatherers
    (:mod:`kizuna.health.inputs`): tickets opened / closed before the end of the
    business day, answers given by then. Metric files are read once per date.
    """

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.accounts = account_fields(platform)
        self.index = self.accounts.index
        self._metrics: dict[date, pd.DataFrame] = {}
        text = pa.string()
        tk, sv = Ticket.__table__.c, SurveyResponse.__table__.c
        tickets = fetch_arrow(
            platform.store,
            sa.select(
                tk.account_id.label("a"),
                tk.opened_at.label("o"),
                tk.closed_at.label("c"),
                tk.priority.label("p"),
            ),
            pa.schema([("a", text), ("o", text), ("c", text), ("p", text)]),
        )
        surveys = fetch_arrow(
            platform.store,
            sa.select(
                sv.account_id.label("a"),
                sv.kind.label("k"),
                sv.score.label("s"),
                sv.answered_at.label("t"),
            ),
            pa.schema([("a", text), ("k", text), ("s", pa.float64()), ("t", text)]),
        )
        with platform.store.engine.connect() as conn:
            stages = conn.execute(
                sa.select(
                    StageTransition.account_id,
                    StageTransition.transition_date,
                    StageTransition.to_stage,
                )
            ).all()
        self.t_account = self._codes(tickets.column("a"))
        self.t_opened = _instants(tickets.column("o"))
        self.t_closed = _instants(tickets.column("c"))
        priority = pc.utf8_lower(tickets.column("p").fill_null(""))
        self.t_urgent = np.asarray(pc.is_in(priority, pa.array(["high", "urgent"])), dtype=bool)
        self.s_account = self._codes(surveys.column("a"))
        kinds = pc.utf8_lower(surveys.column("k").fill_null(""))
        self.s_nps = np.asarray(pc.equal(kinds, "nps"), dtype=bool)
        self.s_score = surveys.column("s").to_numpy(zero_copy_only=False)
        self.s_answered = _instants(surveys.column("t"))
        self.stages = pd.DataFrame(stages, columns=["account_id", "day", "stage"]).sort_values(
            ["account_id", "day"]
        )

    def _codes(self, ids: pa.ChunkedArray) -> np.ndarray:
        return np.asarray(self.index.get_indexer(pd.Index(ids.to_pandas(), dtype=object)))

    def _per_account(self, codes: np.ndarray, mask: np.ndarray, weights: Any = None) -> np.ndarray:
        ok = mask & (codes >= 0)
        w = None if weights is None else np.asarray(weights)[ok]
        return np.bincount(codes[ok], weights=w, minlength=len(self.index)).astype("float64")

    def support(self, t: date) -> dict[str, np.ndarray]:
        """Ticket and survey features of every account (in :attr:`index` order) on ``t``."""
        settings = self.platform.settings
        end = _instant(day_end_utc(t, settings))
        start90 = _instant(day_end_utc(t - timedelta(days=90), settings))
        start365 = _instant(day_end_utc(t - timedelta(days=365), settings))
        opened_by = self.t_opened < end
        still_open = np.isnat(self.t_closed) | (self.t_closed >= end)
        closed_in = ~np.isnat(self.t_closed) & (self.t_closed >= start90) & (self.t_closed < end)
        days = (self.t_closed - self.t_opened) / np.timedelta64(1, "D")
        a = self.t_account
        resolved = self._per_account(a, closed_in)
        answered = (self.s_answered >= start365) & (self.s_answered < end)
        nps = answered & self.s_nps
        csat = answered & ~self.s_nps
        s = self.s_account
        nps_n = self._per_account(s, nps)
        csat_n = self._per_account(s, csat)
        # promoters count +1, detractors -1 (the bands of kizuna.portfolio.attention)
        promoter = (self.s_score >= NPS_PROMOTER_MIN).astype(float)
        net = self._per_account(s, nps, promoter - (self.s_score <= NPS_DETRACTOR_MAX))
        with np.errstate(invalid="ignore", divide="ignore"):
            return {
                "open_urgent_tickets": self._per_account(a, self.t_urgent & opened_by & still_open),
                "tickets_opened_90d": self._per_account(a, opened_by & (self.t_opened >= start90)),
                "days_to_resolve_90d": np.where(
                    resolved > 0,
                    self._per_account(a, closed_in, np.nan_to_num(days)) / resolved,
                    np.nan,
                ),
                "nps_365d": np.where(nps_n > 0, net / nps_n * 100.0, np.nan),
                "csat_365d": np.where(
                    csat_n > 0, self._per_account(s, csat, self.s_score) / csat_n, np.nan
                ),
                "survey_answers_365d": nps_n,
            }

    def stage_on(self, t: date) -> pd.Series:
        """Each account's lifecycle stage entered by ``t`` (its latest transition)."""
        known = self.stages[self.stages["day"] <= t]
        return known.groupby("account_id")["stage"].last()

    def metric_frame(self, t: date) -> pd.DataFrame:
        """Metric values (shipped and derived) and the health score stored for ``t``."""
        if t not in self._metrics:
            self._metrics[t] = _metric_frame(self.platform, t)
        return self._metrics[t]

    def on(self, t: date, observed: pd.DataFrame) -> pd.DataFrame:
        """The feature frame of the accounts in ``observed`` (a :meth:`ContractBook.as_of`
        frame) as known on ``t``; numeric columns, plus ``segment`` and ``stage``."""
        ids = observed["account_id"].to_numpy(dtype=object)
        index = pd.Index(ids, name="account_id")
        out = pd.DataFrame(index=index)
        for name in CONTRACT_FEATURES:
            out[name] = observed[name].to_numpy(dtype="float64")
        current = self.metric_frame(t).reindex(index)
        if "health_score" not in current.columns:
            current["health_score"] = np.nan
        out = out.join(current.loc[:, ~current.columns.isin(out.columns)], how="left")
        names = [c for c in current.columns if c.startswith("m:") or c == "health_score"]
        stack = [current[names].to_numpy(dtype="float64")]
        for day in _previous_month_ends(t):
            earlier = self.metric_frame(day)
            if not earlier.empty:
                stack.append(earlier.reindex(index=index, columns=names).to_numpy("float64"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows stay NaN
            mean = np.nanmean(np.stack(stack), axis=0)
        levels = pd.DataFrame(mean, index=index, columns=[f"avg3:{n}" for n in names])
        out = pd.concat([out, levels], axis=1)
        positions = self.index.get_indexer(index)
        support = self.support(t)
        extra = {
            name: np.where(positions >= 0, values[np.maximum(positions, 0)], np.nan)
            for name, values in support.items()
        }
        extra["segment"] = index.map(self.accounts["segment"]).to_numpy(dtype=object)
        extra["stage"] = index.map(self.stage_on(t)).to_numpy(dtype=object)
        return pd.concat([out, pd.DataFrame(extra, index=index)], axis=1)


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
            else scores.rename("health_score").to_frame()
        )
    return out


def _instant(value: datetime) -> np.datetime64:
    return np.datetime64(value.astimezone(UTC).replace(tzinfo=None), "us")


def _instants(texts: pa.ChunkedArray) -> np.ndarray:
    """Stored UTC timestamps (naive text, as SQLite and PostgreSQL's COPY give them)."""
    parsed = pd.to_datetime(texts.to_pandas(), format="ISO8601", utc=True)
    return np.asarray(parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[us]"))


def features_on(
    platform: Platform, t: date, observed: pd.DataFrame, accounts: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The features of ``observed`` on ``t`` (one date; :class:`FeatureSource` for many)."""
    return FeatureSource(platform).on(t, observed)
