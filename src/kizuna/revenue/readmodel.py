"""What the daily run's revenue step saves for the pages: the fifteen metrics and the
renewal centre.

Layout (under ``<KIZUNA_HOME>/revenue``)::

    framework/as_of=2025-06-30.json   {"as_of": ..., "windows": {"quarter": report, ...},
                                       "accuracy": [the forecast's accuracy per past quarter],
                                       "owner_windows": {"quarter": report by owner, ...}}
    renewals/as_of=2025-06-30.parquet the renewal centre (see below)

Each window is the JSON of a :class:`~kizuna.revenue.framework.FrameworkReport`
(``kizuna framework --json``) by segment; a file is written to a temporary name
and renamed, so readers see a whole file or the previous one.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from kizuna.dataio.spreadsheet import spreadsheet_csv
from kizuna.jsonable import to_jsonable
from kizuna.lifecycle.onboarding import OnboardingReport
from kizuna.platform import Platform
from kizuna.retention.ledger import Ledger
from kizuna.retention.periods import PeriodUnit, period_end, period_label
from kizuna.revenue.context import RenewalContextSource, renewal_contexts
from kizuna.revenue.definition import RevenueDefinition
from kizuna.revenue.forecast import (
    CATEGORIES,
    AccuracyRow,
    Forecast,
    ForecastPeriod,
    ForecastRenewal,
    renewal_forecast,
)
from kizuna.revenue.framework import FrameworkBy, FrameworkReport, framework
from kizuna.settings import Settings
from kizuna.store.models import Account

#: The periods the daily run saves: quarter to date, year to date, the last twelve months.
WINDOWS = ("quarter", "year", "last12")
_FILE = re.compile(r"^as_of=(\d{4}-\d{2}-\d{2})\.json$")


def window_start(as_of: date, window: str) -> date:
    """First day of ``window`` ending on ``as_of``."""
    if window == "quarter":
        return date(as_of.year, 3 * ((as_of.month - 1) // 3) + 1, 1)
    if window == "year":
        return date(as_of.year, 1, 1)
    try:
        return as_of.replace(year=as_of.year - 1) + timedelta(days=1)
    except ValueError:  # 29 February
        return as_of.replace(year=as_of.year - 1, day=28) + timedelta(days=1)


def framework_dir(settings: Settings) -> Path:
    return settings.home / "revenue" / "framework"


def build_framework_windows(
    platform: Platform,
    as_of: date,
    onboarding: OnboardingReport | None = None,
    by: FrameworkBy = "segment",
    ledger: Ledger | None = None,
) -> dict[str, FrameworkReport]:
    """The fifteen metrics by segment (or owner) for every window ending on ``as_of``.

    ``onboarding``: an onboarding report as of ``as_of`` covering every window's
    starts (the portfolio step's), so the book's lifecycle is not evaluated again.
    By owner, each owner's group is what a CSM limited to their own book is shown.
    ``ledger`` (default: loaded here, rollup on) lets the by-segment and by-owner
    windows share one ledger and what it has computed (ARR at points, renewal lines).
    """
    if ledger is None:
        with Ledger.load(platform.store, platform.settings) as own:
            return build_framework_windows(platform, as_of, onboarding, by, own)
    # the windows' ARR measured once: each window's movements are derived from it
    ledger.prepare_points([as_of, *(window_start(as_of, w) - timedelta(days=1) for w in WINDOWS)])
    return {
        window: framework(
            platform,
            window_start(as_of, window),
            as_of,
            by=by,
            as_of=as_of,
            ledger=ledger,
            onboarding=onboarding,
        )
        for window in WINDOWS
    }


def write_framework(
    settings: Settings,
    as_of: date,
    reports: dict[str, FrameworkReport],
    accuracy: list[AccuracyRow] | None = None,
    owners: dict[str, FrameworkReport] | None = None,
) -> Path:
    """Save the windows by segment, the forecast's accuracy and (``owners``) the windows
    by owner, from which a CSM limited to their own book is shown their group."""
    folder = framework_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"as_of={as_of.isoformat()}.json"
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    body = {
        "as_of": as_of.isoformat(),
        "windows": to_jsonable(reports),
        "accuracy": to_jsonable(accuracy) if accuracy is not None else None,
        "owner_windows": to_jsonable(owners) if owners is not None else None,
    }
    tmp.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_framework(settings: Settings, on_or_before: date) -> dict[str, Any] | None:
    """The newest saved framework on or before the date (None: the daily run saved none)."""
    folder = framework_dir(settings)
    if not folder.exists():
        return None
    days = sorted(
        date.fromisoformat(m.group(1))
        for f in folder.iterdir()
        if (m := _FILE.match(f.name)) and date.fromisoformat(m.group(1)) <= on_or_before
    )
    if not days:
        return None
    path = folder / f"as_of={days[-1].isoformat()}.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return data


# -- the renewal centre ------------------------------------------------------------
#
#     renewals/as_of=2025-06-30.parquet   one row per renewal opportunity expected to
#                                         close in the centre's window, with its
#                                         forecast and what other capabilities know
#
# The window covers both views of the page: from the quarter's first day (the
# quarter view starts there, the month view on the month's first day) to a year
# after the month's first day. A page filters the rows (a scoped CSM's accounts,
# the view's window) and adds them up; it never evaluates the book.

_RENEWALS = re.compile(r"^as_of=(\d{4}-\d{2}-\d{2})\.parquet$")
_MONEY = pa.decimal128(18, 2)
RENEWAL_SCHEMA = pa.schema(
    [
        pa.field("opportunity_id", pa.string()),
        pa.field("name", pa.string()),
        pa.field("account_id", pa.string()),
        pa.field("account_name", pa.string()),
        pa.field("account_owner", pa.string()),
        pa.field("owner_id", pa.string()),
        pa.field("products", pa.list_(pa.string())),
        pa.field("currency", pa.string()),
        pa.field("expected_close_date", pa.date32()),
        pa.field("stage", pa.string()),
        pa.field("status", pa.string()),
        pa.field("arr", _MONEY),
        pa.field("probability", pa.float64()),
        pa.field("probability_source", pa.string()),
        pa.field("weighted_arr", _MONEY),
        pa.field("forecast_category", pa.string()),
        pa.field("health_score", pa.float64()),
        pa.field("health_band", pa.string()),
        pa.field("churn_risk", pa.float64()),
        pa.field("risk_band", pa.string()),
        pa.field("renewal_probability", pa.float64()),
        pa.field("plan_status", pa.string()),
    ]
)
#: The columns of ``kizuna forecast --csv``, the API's CSV and the page's download.
RENEWAL_CSV_COLUMNS = tuple(n for n in RENEWAL_SCHEMA.names if n != "account_owner")


def renewals_dir(settings: Settings) -> Path:
    return settings.home / "revenue" / "renewals"


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def centre_window(as_of: date, period: PeriodUnit) -> tuple[date, date]:
    """The renewal centre's window as of a date: from this month's or quarter's first day,
    for a year."""
    start = as_of.replace(day=1) if period == "month" else quarter_start(as_of)
    return start, start + timedelta(days=364)


def build_renewal_centre(
    platform: Platform,
    definition: RevenueDefinition,
    as_of: date,
    context: Sequence[RenewalContextSource] = (),
) -> Forecast:
    """The renewals of both views of the centre as of ``as_of``, with their context."""
    start = centre_window(as_of, "quarter")[0]
    end = centre_window(as_of, "month")[1]
    return renewal_forecast(
        platform, definition, start, end, as_of=as_of, period="quarter", context=context
    )


def renewal_table(platform: Platform, forecast: Forecast) -> pa.Table:
    """The forecast's renewals as rows of :data:`RENEWAL_SCHEMA`."""
    ids = sorted({r.opportunity.account_id for r in forecast.renewals})
    owners: dict[str, str | None] = {}
    with platform.store.session() as s:
        for i in range(0, len(ids), 5000):
            chunk = ids[i : i + 5000]
            query = sa.select(Account.id, Account.owner_id).where(Account.id.in_(chunk))
            owners.update((a, o) for a, o in s.execute(query))
    rows = [
        {
            "opportunity_id": r.opportunity.id,
            "name": r.opportunity.name,
            "account_id": r.opportunity.account_id,
            "account_name": r.account_name,
            "account_owner": owners.get(r.opportunity.account_id),
            "owner_id": r.opportunity.owner_id,
            "products": r.opportunity.products,
            "currency": r.opportunity.currency,
            "expected_close_date": r.opportunity.expected_close_date,
            "stage": r.opportunity.stage,
            "status": r.opportunity.status,
            "arr": r.arr,
            "probability": r.probability,
            "probability_source": r.probability_source,
            "weighted_arr": r.weighted_arr,
            "forecast_category": r.category,
            "health_score": r.context.health_score,
            "health_band": r.context.health_band,
            "churn_risk": r.context.churn_risk,
            "risk_band": r.context.risk_band,
            "renewal_probability": r.context.renewal_probability,
            "plan_status": r.context.plan_status,
        }
        for r in forecast.renewals
    ]
    return pa.Table.from_pylist(rows, schema=RENEWAL_SCHEMA)


def write_renewal_centre(platform: Platform, as_of: date, forecast: Forecast) -> Path:
    folder = renewals_dir(platform.settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"as_of={as_of.isoformat()}.parquet"
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    pq.write_table(renewal_table(platform, forecast), tmp)
    os.replace(tmp, path)
    return path


def save_renewal_centre(platform: Platform, definition: RevenueDefinition, as_of: date) -> int:
    """Build and write the renewal centre as of ``as_of`` (the daily run's revenue step);
    returns how many renewals it holds."""
    forecast = build_renewal_centre(platform, definition, as_of, renewal_contexts(platform))
    write_renewal_centre(platform, as_of, forecast)
    return len(forecast.renewals)


@dataclass(frozen=True, slots=True)
class SavedRenewal:
    """One row of the renewal centre as the daily run saved it."""

    opportunity_id: str
    name: str
    account_id: str
    account_name: str | None
    owner_id: str | None
    products: list[str]
    currency: str
    expected_close_date: date
    stage: str
    status: str
    arr: Decimal
    probability: float
    probability_source: str
    weighted_arr: Decimal
    forecast_category: str
    health_score: float | None
    health_band: str | None
    churn_risk: float | None
    risk_band: str | None
    renewal_probability: float | None
    plan_status: str | None


@dataclass(frozen=True, slots=True)
class RenewalCentre:
    """The renewal centre of one reader: periods, totals and the renewals in the window."""

    as_of: date
    period: str
    start: date
    end: date
    totals: ForecastPeriod
    periods: list[ForecastPeriod]
    renewals: list[SavedRenewal]  # the first ones by close date (``limit``)
    count: int  # every renewal of the window


def saved_centre_date(settings: Settings, on_or_before: date) -> date | None:
    """The newest day the daily run saved the renewal centre, on or before the date."""
    folder = renewals_dir(settings)
    if not folder.exists():
        return None
    days = [
        d
        for f in folder.iterdir()
        if (m := _RENEWALS.match(f.name)) and (d := date.fromisoformat(m.group(1))) <= on_or_before
    ]
    return max(days) if days else None


def _saved_rows(
    settings: Settings, on_or_before: date, period: PeriodUnit, account_owner: str | None
) -> tuple[date, date, date, pa.Table] | None:
    """The saved rows of the view's window (a scoped CSM's accounts), by close date."""
    day = saved_centre_date(settings, on_or_before)
    if day is None:
        return None
    start, end = centre_window(day, period)
    filters: list[Any] = [
        ("expected_close_date", ">=", start),
        ("expected_close_date", "<=", end),
    ]
    if account_owner is not None:
        filters.append(("account_owner", "=", account_owner))
    path = renewals_dir(settings) / f"as_of={day.isoformat()}.parquet"
    try:
        table = pq.read_table(path, filters=filters, schema=RENEWAL_SCHEMA)
    except FileNotFoundError:
        return None
    table = table.drop_columns(["account_owner"]).sort_by(
        [("expected_close_date", "ascending"), ("opportunity_id", "ascending")]
    )
    return day, start, end, table


def read_renewal_centre(
    settings: Settings,
    on_or_before: date,
    period: PeriodUnit = "quarter",
    account_owner: str | None = None,
    limit: int = 200,
) -> RenewalCentre | None:
    """The renewal centre the daily run saved last (None: not computed yet).

    ``account_owner`` keeps a scoped CSM's accounts only; ``period`` chooses the
    month or quarter view (its window and its periods). The periods and totals add
    up every row (in Arrow); ``renewals`` holds the first ``limit`` by close date,
    ``count`` how many there are.
    """
    found = _saved_rows(settings, on_or_before, period, account_owner)
    if found is None:
        return None
    day, start, end, table = found
    closes = table.column("expected_close_date")
    year = pc.cast(pc.year(closes), pa.string())
    if period == "month":
        label = pc.strftime(pc.cast(closes, pa.timestamp("s")), format="%Y-%m")
    else:
        label = pc.binary_join_element_wise(year, pc.cast(pc.quarter(closes), pa.string()), "-Q")
    sums = (
        table.select(["forecast_category", "status", "arr", "weighted_arr"])
        .append_column("label", label)
        .group_by(["label", "forecast_category", "status"])
        .aggregate([("arr", "sum"), ("weighted_arr", "sum"), ("arr", "count")])
        .to_pylist()
    )
    periods = []
    cursor = start
    while cursor <= end:
        stop = min(period_end(cursor, period), end)
        label_ = period_label(cursor, period)
        periods.append(_add_up(label_, cursor, stop, [g for g in sums if g["label"] == label_]))
        cursor = stop + timedelta(days=1)
    return RenewalCentre(
        as_of=day,
        period=period,
        start=start,
        end=end,
        totals=_add_up("total", start, end, sums),
        periods=periods,
        renewals=[SavedRenewal(**r) for r in table.slice(0, limit).to_pylist()],
        count=table.num_rows,
    )


def renewal_rows(
    settings: Settings,
    on_or_before: date,
    period: PeriodUnit = "quarter",
    account_owner: str | None = None,
) -> list[SavedRenewal] | None:
    """Every saved renewal of the view's window (for the CSV download)."""
    found = _saved_rows(settings, on_or_before, period, account_owner)
    return None if found is None else [SavedRenewal(**r) for r in found[3].to_pylist()]


def _add_up(label: str, start: date, end: date, sums: Sequence[dict[str, Any]]) -> ForecastPeriod:
    """A period from its (category, status) sums."""
    zero = Decimal("0.00")
    by_category = {c: zero for c in CATEGORIES}
    for g in sums:
        category = g["forecast_category"]
        by_category[category] = by_category.get(category, zero) + g["arr_sum"]
    return ForecastPeriod(
        period=label,
        start=start,
        end=end,
        renewals=sum(g["arr_count"] for g in sums),
        arr=sum((g["arr_sum"] for g in sums), start=zero),
        weighted_arr=sum((g["weighted_arr_sum"] for g in sums), start=zero),
        by_category=by_category,
        won_arr=by_category["won"],
        lost_arr=by_category["lost"],
        open_arr=sum((g["arr_sum"] for g in sums if g["status"] == "open"), start=zero),
    )


def renewals_csv(rows: Sequence[SavedRenewal] | Sequence[ForecastRenewal]) -> str:
    """Renewals as CSV (:data:`RENEWAL_CSV_COLUMNS`), cells safe for a spreadsheet."""
    return spreadsheet_csv(RENEWAL_CSV_COLUMNS, (_csv_row(r) for r in rows))


def _csv_row(r: SavedRenewal | ForecastRenewal) -> list[Any]:
    if isinstance(r, ForecastRenewal):
        o, c = r.opportunity, r.context
        values: dict[str, Any] = {
            "opportunity_id": o.id, "name": o.name, "account_id": o.account_id,
            "account_name": r.account_name, "owner_id": o.owner_id, "products": o.products,
            "currency": o.currency, "expected_close_date": o.expected_close_date,
            "stage": o.stage, "status": o.status, "arr": r.arr, "probability": r.probability,
            "probability_source": r.probability_source, "weighted_arr": r.weighted_arr,
            "forecast_category": r.category, "health_score": c.health_score,
            "health_band": c.health_band, "churn_risk": c.churn_risk, "risk_band": c.risk_band,
            "renewal_probability": c.renewal_probability, "plan_status": c.plan_status,
        }  # fmt: skip
    else:
        values = {n: getattr(r, n) for n in RENEWAL_CSV_COLUMNS}
    out = []
    for n in RENEWAL_CSV_COLUMNS:
        v = values[n]
        if isinstance(v, list):
            v = ";".join(v)
        elif isinstance(v, date):
            v = v.isoformat()
        elif v is None:
            v = ""
        out.append(v)
    return out
