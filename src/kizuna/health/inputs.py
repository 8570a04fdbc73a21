"""Gathering every measure's raw value for all accounts as of one date.

Only data known on the date counts: survey answers given by the end of that
business day, tickets opened (and closed) by then, contract lines covering the
date, sentiments entered by then and not yet expired, and metric values
computed for exactly that date. Store tables are read once per date in bulk
and turned into one float array per source (NaN where an account has no data).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from kizuna.health.scorecard import (
    ContractSource,
    FitSource,
    MetricSource,
    ScorecardSet,
    SentimentSource,
    Source,
    SurveySource,
    TicketSource,
)
from kizuna.health.scoring import FloatArray
from kizuna.metrics.store import read_values, values_path
from kizuna.platform import Platform
from kizuna.portfolio.attention import NPS_DETRACTOR_MAX, NPS_PROMOTER_MIN
from kizuna.settings import Settings
from kizuna.store.health_models import ManualSentiment
from kizuna.store.models import (
    Account,
    ContractLine,
    ContractStatus,
    FxRate,
    SurveyKind,
    SurveyResponse,
    Ticket,
    TicketPriority,
)
from kizuna.store.plans_models import Plan, PlanStatusSnapshot

# -- metric values (the metrics engine's store) --------------------------------

METRIC_SCHEMA = pa.schema(
    [
        pa.field("account_id", pa.string()),
        pa.field("as_of", pa.date32()),
        pa.field("metric", pa.string()),
        pa.field("value", pa.float64()),
    ]
)


def metric_values_path(settings: Settings, as_of: date) -> Path:
    """Where the metrics engine keeps the values computed as of ``as_of``."""
    return values_path(settings.home, as_of)


def read_metric_values(platform: Platform, as_of: date, metrics: list[str]) -> pa.Table | None:
    """Metric values as of ``as_of`` for ``metrics``; None when none were computed."""
    table = read_values(platform.settings.home, as_of=as_of, metrics=metrics)
    return table if table.num_rows else None


# -- the accounts in scope -----------------------------------------------------


@dataclass
class AccountFrame:
    """The accounts scored on a date, as parallel arrays (index ``i`` = one account)."""

    ids: np.ndarray  # object (str)
    names: np.ndarray
    segments: np.ndarray  # object, None allowed
    parent_ids: np.ndarray
    arr: FloatArray  # active ARR in the reporting currency (0 without active lines)
    fields: pd.DataFrame  # industry, region, attributes (dict) for ideal-customer fit

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def index(self) -> pd.Index:
        return pd.Index(self.ids)


@dataclass
class HealthInputs:
    """Everything scoring needs for one date: accounts and each source's raw values."""

    as_of: date
    accounts: AccountFrame
    values: dict[str, FloatArray]
    notes: list[str] = field(default_factory=list)


def source_key(source: Source) -> str:
    """A stable key for a source, so a source used by several measures is read once."""
    return source.model_dump_json()


def day_end_utc(day: date, settings: Settings) -> datetime:
    """The first instant after business day ``day``, in UTC (exclusive bound)."""
    return datetime.combine(day + timedelta(days=1), time(), settings.tz).astimezone(UTC)


class _Reader:
    """Reads the store tables a date needs, once each, and gathers sources from them."""

    def __init__(self, platform: Platform, as_of: date) -> None:
        self.platform = platform
        self.settings = platform.settings
        self.as_of = as_of
        self.end = day_end_utc(as_of, self.settings)
        self.notes: list[str] = []
        self._cache: dict[str, pd.DataFrame] = {}

    def _frame(self, name: str, query: Any, instants: tuple[str, ...] = ()) -> pd.DataFrame:
        if name not in self._cache:
            if instants:  # read as stored (UTC, naive): pandas makes them UTC below, at once
                query = query.with_only_columns(
                    *(
                        sa.type_coerce(c, sa.DateTime).label(c.name) if c.name in instants else c
                        for c in query.selected_columns
                    )
                )
            # Core rows, not ORM entities: a third of the time per row at 100k accounts.
            with self.platform.store.engine.connect() as conn:
                result = conn.execute(query)
                columns = list(result.keys())
                rows = result.fetchall()
            data: dict[str, list[Any]] = {c: [] for c in columns}
            if rows:
                data = dict(zip(columns, map(list, zip(*rows, strict=True)), strict=True))
            frame = pd.DataFrame(data)
            for column in instants:  # all-None columns come back as objects
                frame[column] = pd.to_datetime(frame[column], utc=True)
            self._cache[name] = frame
        return self._cache[name]

    # -- accounts and contracts --

    def contract_lines(self) -> pd.DataFrame:
        """Active lines on the date (not cancelled), summed per account and currency:
        ``arr`` (reporting currency), ``quantity`` and the earliest ``end_date``."""
        active = (
            (ContractLine.status != ContractStatus.CANCELLED)
            & (ContractLine.start_date <= self.as_of)
            & (ContractLine.end_date >= self.as_of)
        )
        query = (
            sa.select(
                ContractLine.account_id,
                ContractLine.currency,
                sa.func.sum(ContractLine.arr).label("arr"),
                sa.func.sum(ContractLine.quantity).label("quantity"),
                sa.func.min(ContractLine.end_date).label("end_date"),
            )
            .where(active)
            .group_by(ContractLine.account_id, ContractLine.currency)
        )
        lines = self._frame("contract_lines", query)
        if "arr_reporting" not in lines.columns:
            lines["arr_reporting"] = self._to_reporting(lines)
        return lines

    def first_starts(self) -> pd.DataFrame:
        """Each account with contract data: the start of its first (not cancelled) line."""
        query = (
            sa.select(
                ContractLine.account_id,
                sa.func.min(ContractLine.start_date).label("first_start"),
            )
            .where(ContractLine.status != ContractStatus.CANCELLED)
            .group_by(ContractLine.account_id)
        )
        return self._frame("first_starts", query)

    def _to_reporting(self, lines: pd.DataFrame) -> pd.Series:
        arr = lines["arr"].astype("float64")
        currency = self.settings.reporting_currency
        foreign = lines["currency"] != currency
        if not foreign.any():
            return arr
        rates = self._frame("fx", sa.select(FxRate.currency, FxRate.valid_from, FxRate.rate))
        known = rates[rates["valid_from"] <= self.as_of].sort_values("valid_from")
        latest = known.groupby("currency")["rate"].last()
        rate = lines["currency"].map(latest).where(foreign, 1.0)
        for code in sorted(set(lines.loc[rate.isna(), "currency"])):
            self.notes.append(
                f"no FX rate for {code} as of {self.as_of}: its lines are left out of ARR"
            )
        return arr * rate

    def accounts(self) -> AccountFrame:
        query = sa.select(
            Account.id,
            Account.name,
            Account.parent_id,
            Account.segment,
            Account.industry,
            Account.region,
            # raw JSON text: parsed with orjson below, only when a fit criterion needs it
            sa.type_coerce(Account.attributes, sa.Text).label("attributes"),
            Account.created_date,
        )
        accounts = self._frame("accounts", query)
        active = self.contract_lines()
        has_lines = set(self.first_starts()["account_id"])
        active_ids = set(active["account_id"])
        # In the customer base on the date: an active line covers it, or the account
        # has no contract data at all (nothing says it is not a customer).
        created_ok = accounts["created_date"].map(lambda d: d is None or d <= self.as_of)
        in_scope = accounts["id"].map(lambda a: a in active_ids or a not in has_lines)
        scoped = accounts[(created_ok & in_scope).to_numpy(dtype=bool)].sort_values("id")
        arr = active.groupby("account_id")["arr_reporting"].sum()
        return AccountFrame(
            ids=_objects(scoped["id"]),
            names=_objects(scoped["name"]),
            segments=_objects(scoped["segment"]),
            parent_ids=_objects(scoped["parent_id"]),
            arr=scoped["id"].map(arr).fillna(0.0).to_numpy(dtype=np.float64),
            fields=scoped[["segment", "industry", "region", "attributes"]].reset_index(drop=True),
        )


def _objects(column: pd.Series) -> np.ndarray:
    """An object array with None for missing values (pandas may give NaN for strings)."""
    values = column.to_numpy(dtype=object, copy=True)  # pandas 3 may hand out a read-only view
    values[pd.isna(values)] = None
    return values


def _align(index: pd.Index, keys: pd.Series, values: pd.Series) -> FloatArray:
    """Values keyed by account id, placed at the accounts' positions (NaN elsewhere)."""
    out = np.full(len(index), np.nan)
    pos = index.get_indexer(keys.to_numpy())
    ok = pos >= 0
    out[pos[ok]] = values.to_numpy(dtype=np.float64)[ok]
    return out


# -- one gatherer per source kind ----------------------------------------------


def _gather_survey(reader: _Reader, source: SurveySource, accounts: AccountFrame) -> FloatArray:
    start = day_end_utc(reader.as_of - timedelta(days=source.window_days), reader.settings)
    score = SurveyResponse.score
    stats = reader._frame(
        f"survey:{source.survey}:{source.window_days}",
        sa.select(
            SurveyResponse.account_id,
            sa.func.count().label("answers"),
            sa.func.sum(score).label("total"),
            sa.func.sum(sa.case((score >= NPS_PROMOTER_MIN, 1), else_=0)).label("promoters"),
            sa.func.sum(sa.case((score <= NPS_DETRACTOR_MAX, 1), else_=0)).label("detractors"),
        )
        .where(
            SurveyResponse.kind == SurveyKind(source.survey),
            SurveyResponse.answered_at >= start,
            SurveyResponse.answered_at < reader.end,
        )
        .group_by(SurveyResponse.account_id),
    )
    answers = stats["answers"].astype("float64")
    if source.aggregate == "count":
        # no answers in the window is a count of 0
        return np.nan_to_num(_align(accounts.index, stats["account_id"], answers))
    if source.aggregate == "mean":
        agg = stats["total"].astype("float64") / answers
    else:
        agg = (stats["promoters"] - stats["detractors"]).astype("float64") / answers * 100.0
    return _align(accounts.index, stats["account_id"], agg)


def _gather_tickets(reader: _Reader, source: TicketSource, accounts: AccountFrame) -> FloatArray:
    start = day_end_utc(reader.as_of - timedelta(days=source.window_days), reader.settings)
    chosen = Ticket.priority.in_([TicketPriority(p) for p in source.priorities])
    name = f"tickets:{source.fact}:{','.join(source.priorities)}:{source.window_days}"
    if source.fact == "mean_days_to_resolve":
        done = reader._frame(
            name,
            sa.select(Ticket.account_id, Ticket.opened_at, Ticket.closed_at).where(
                chosen, Ticket.closed_at >= start, Ticket.closed_at < reader.end
            ),
            ("opened_at", "closed_at"),
        )
        days = (done["closed_at"] - done["opened_at"]).dt.total_seconds() / 86400.0
        agg = days.groupby(done["account_id"]).mean()
        return _align(accounts.index, agg.index.to_series(), agg)
    if source.fact == "mean_csat":
        rated = reader._frame(
            name,
            sa.select(Ticket.account_id, sa.func.avg(Ticket.csat).label("csat"))
            .where(
                chosen,
                Ticket.csat.is_not(None),
                Ticket.closed_at >= start,
                Ticket.closed_at < reader.end,
            )
            .group_by(Ticket.account_id),
        )
        return _align(accounts.index, rated["account_id"], rated["csat"].astype("float64"))
    if source.fact == "open":  # opened by the date and not closed by it
        when = sa.or_(Ticket.closed_at.is_(None), Ticket.closed_at >= reader.end)
    else:
        when = Ticket.opened_at >= start
    counts = reader._frame(
        name,
        sa.select(Ticket.account_id, sa.func.count().label("tickets"))
        .where(chosen, Ticket.opened_at < reader.end, when)
        .group_by(Ticket.account_id),
    )
    values = _align(accounts.index, counts["account_id"], counts["tickets"].astype("float64"))
    return np.nan_to_num(values)  # no such tickets is a count of 0


def _gather_contract(reader: _Reader, source: ContractSource, accounts: AccountFrame) -> FloatArray:
    active = reader.contract_lines().groupby("account_id")
    if source.fact == "days_to_renewal":
        ends = active["end_date"].min()
        agg = ends.map(lambda d: float((d - reader.as_of).days))
    elif source.fact == "arr":
        agg = active["arr_reporting"].sum(min_count=1)
    elif source.fact == "seats":
        agg = active["quantity"].sum(min_count=1).astype("float64")
    else:
        firsts = reader.first_starts().set_index("account_id")["first_start"]
        firsts = firsts[firsts.map(lambda d: d <= reader.as_of)]
        agg = firsts.map(lambda d: float((reader.as_of - d).days))
    return _align(accounts.index, agg.index.to_series(), agg)


def _field_values(fields: pd.DataFrame, name: str) -> list[Any]:
    if name.startswith("attributes."):
        key = name.removeprefix("attributes.")
        parsed = [
            orjson.loads(attrs) if isinstance(attrs, str | bytes) else attrs
            for attrs in fields["attributes"].tolist()
        ]
        return [(attrs or {}).get(key) for attrs in parsed]
    return list(fields[name].tolist())


def _gather_fit(reader: _Reader, source: FitSource, accounts: AccountFrame) -> FloatArray:
    met = np.zeros(len(accounts))
    known = np.zeros(len(accounts))
    for criterion in source.criteria:
        values = _field_values(accounts.fields, criterion.field)
        for i, value in enumerate(values):
            if value is None or value == "" or (isinstance(value, float) and np.isnan(value)):
                continue
            if criterion.in_ is not None:
                known[i] += 1
                met[i] += str(value) in criterion.in_
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue  # a non-numeric value for a range test is unknown, not a miss
            known[i] += 1
            low = criterion.min if criterion.min is not None else -np.inf
            high = criterion.max if criterion.max is not None else np.inf
            met[i] += low <= number <= high
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(known > 0, met / known, np.nan)


def _gather_sentiment(
    reader: _Reader, source: SentimentSource, accounts: AccountFrame
) -> FloatArray:
    entries = reader._frame(
        "sentiments",
        sa.select(
            ManualSentiment.account_id,
            ManualSentiment.value,
            ManualSentiment.entered_at,
            ManualSentiment.expires_on,
            ManualSentiment.id,
        ).where(ManualSentiment.entered_at < reader.end),
        ("entered_at",),
    )
    if entries.empty:
        return np.full(len(accounts), np.nan)
    live = entries[entries["expires_on"].map(lambda d: d is None or d >= reader.as_of)]
    newest = live.sort_values(["entered_at", "id"]).groupby("account_id").last()
    return _align(accounts.index, newest.index.to_series(), newest["value"].astype("float64"))


#: A plan status as a number for scoring (see docs/plans.md).
PLAN_STATUS_VALUES = {"on_track": 1.0, "achieved": 1.0, "at_risk": 0.5, "off_track": 0.0}


def _gather_plan_status(reader: _Reader, source: Any, accounts: AccountFrame) -> FloatArray:
    # The statuses the daily run stored (its plans step); health does not re-evaluate plans.
    rows = reader._frame(
        "plan_statuses",
        sa.select(Plan.account_id, PlanStatusSnapshot.as_of, PlanStatusSnapshot.status)
        .join(Plan, Plan.id == PlanStatusSnapshot.plan_id)
        .where(PlanStatusSnapshot.as_of <= reader.as_of),
    )
    if rows.empty:
        return np.full(len(accounts), np.nan)
    newest = rows.sort_values(["as_of"]).groupby("account_id").last()
    values = newest["status"].map(PLAN_STATUS_VALUES).astype("float64")
    return _align(accounts.index, newest.index.to_series(), values)


Gatherer = Callable[[_Reader, Any, AccountFrame], FloatArray]

#: One gatherer per source kind; ``metric`` is gathered in bulk by :func:`gather_inputs`.
GATHERERS: dict[str, Gatherer] = {
    "survey": _gather_survey,
    "tickets": _gather_tickets,
    "contract": _gather_contract,
    "fit": _gather_fit,
    "manual_sentiment": _gather_sentiment,
    "plan_status": _gather_plan_status,
}


def gather_inputs(platform: Platform, as_of: date, scorecards: ScorecardSet) -> HealthInputs:
    """Read the accounts in scope on ``as_of`` and every source the scorecards use."""
    reader = _Reader(platform, as_of)
    sources: dict[str, Source] = {}
    for card in scorecards.scorecards:
        for _, measure in card.measures:
            sources.setdefault(source_key(measure.source), measure.source)
    accounts = reader.accounts()
    values: dict[str, FloatArray] = {}
    metric_names = sorted({s.metric for s in sources.values() if isinstance(s, MetricSource)})
    if metric_names:
        table = read_metric_values(platform, as_of, metric_names)
        if table is None:
            reader.notes.append(
                f"no metric values computed as of {as_of}: run 'kizuna metrics compute "
                f"--as-of {as_of}'; metric measures count as missing"
            )
        frame = (
            table.to_pandas()
            if table is not None
            else pd.DataFrame({"account_id": [], "metric": [], "value": []})
        )
        for key, source in sources.items():
            if isinstance(source, MetricSource):
                rows = frame[frame["metric"] == source.metric]
                values[key] = _align(accounts.index, rows["account_id"], rows["value"])
    for key, source in sources.items():
        if not isinstance(source, MetricSource):
            values[key] = GATHERERS[source.kind](reader, source, accounts)
    return HealthInputs(as_of=as_of, accounts=accounts, values=values, notes=reader.notes)
