"""What lifecycle rules read, loaded once per computation and cut at the as-of date.

Each source is behind one small function so the capability keeps working while
neighbouring capabilities land: behavioural metric values
(:func:`read_metric_values`, issue 3) and health snapshots
(:func:`read_health_snapshots`, issue 4) are optional inputs — when they do not
exist yet, rules that use them simply do not hold.

Only data known on the as-of date is returned: contract lines that started by
then, activities and events dated on or before it, metric and health snapshots
taken on or before it. That is what makes stage history reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from kizuna.engine import Engine
from kizuna.lake.layout import LakeLayout
from kizuna.metrics.store import read_values, stored_dates
from kizuna.platform import Platform
from kizuna.store.lifecycle_models import CompletionSource, MilestoneCompletion
from kizuna.store.models import Account, Activity, ContractLine


@dataclass(frozen=True)
class LineFact:
    """A contract line as lifecycle rules see it (``end`` inclusive)."""

    start: date
    end: date
    arr: float


@dataclass(frozen=True)
class ManualCompletion:
    milestone_id: str
    completed_on: date
    completed_by: str | None
    note: str | None


@dataclass
class AccountData:
    """Everything lifecycle rules may read about one account, up to the as-of date."""

    account_id: str
    name: str
    segment: str | None
    lines: list[LineFact] = field(default_factory=list)
    #: (activity_date, kind, lower-cased text)
    activities: list[tuple[date, str, str]] = field(default_factory=list)
    manual: dict[str, ManualCompletion] = field(default_factory=dict)
    #: business day -> event name -> user id (or "" when anonymous) -> event count
    events: dict[date, dict[str, dict[str, int]]] = field(default_factory=dict)
    #: metric -> [(as_of, value)] sorted by date
    metrics: dict[str, list[tuple[date, float]]] = field(default_factory=dict)
    #: [(as_of, band, score)] sorted by date
    health: list[tuple[date, str | None, float | None]] = field(default_factory=list)

    @property
    def contract_start(self) -> date | None:
        """The start of the customer's first contract line (customer since)."""
        return min((line.start for line in self.lines), default=None)


def load_accounts(
    platform: Platform,
    as_of: date,
    *,
    account_ids: list[str] | None = None,
    event_names: set[str] | None = None,
    metric_names: set[str] | None = None,
    with_health: bool = False,
    events_from: date | None = None,
) -> dict[str, AccountData]:
    """Load accounts with their data known on ``as_of``.

    ``event_names`` limits the lake scan to the events that rules mention;
    ``events_from`` skips older partitions when the caller does not need them.
    """
    accounts: dict[str, AccountData] = {}
    with platform.store.session() as session:
        q = sa.select(Account.id, Account.name, Account.segment).order_by(Account.id)
        if account_ids is not None:
            q = q.where(Account.id.in_(account_ids))
        for account_id, name, segment in session.execute(q):
            accounts[account_id] = AccountData(account_id, name, segment)
        ids = list(accounts)

        def scoped(q: Any, column: Any) -> Any:
            return q.where(column.in_(ids)) if account_ids is not None else q

        lines = sa.select(
            ContractLine.account_id,
            ContractLine.start_date,
            ContractLine.end_date,
            ContractLine.arr,
        ).where(ContractLine.start_date <= as_of)
        lines = scoped(lines, ContractLine.account_id).order_by(
            ContractLine.account_id, ContractLine.start_date, ContractLine.id
        )
        for account_id, start, end, arr in session.execute(lines):
            accounts[account_id].lines.append(LineFact(start, end, float(arr)))

        acts = sa.select(
            Activity.account_id, Activity.activity_date, Activity.kind, Activity.text
        ).where(Activity.activity_date <= as_of)
        acts = scoped(acts, Activity.account_id).order_by(
            Activity.account_id, Activity.activity_date, Activity.id
        )
        for account_id, day, kind, text in session.execute(acts):
            accounts[account_id].activities.append((day, str(kind.value), (text or "").lower()))

        manual = sa.select(MilestoneCompletion).where(
            MilestoneCompletion.source == CompletionSource.MANUAL,
            MilestoneCompletion.completed_on <= as_of,
        )
        for row in session.scalars(scoped(manual, MilestoneCompletion.account_id)):
            accounts[row.account_id].manual[row.milestone_id] = ManualCompletion(
                row.milestone_id, row.completed_on, row.completed_by, row.note
            )

    if event_names:
        _attach_events(platform, accounts, as_of, event_names, events_from, account_ids)
    if metric_names:
        values = read_metric_values(platform, as_of=as_of, metrics=sorted(metric_names))
        for row in values.to_pylist():
            data = accounts.get(row["account_id"])
            if data is not None and row["value"] is not None:
                data.metrics.setdefault(row["metric"], []).append(
                    (row["as_of"], float(row["value"]))
                )
        for data in accounts.values():
            for series in data.metrics.values():
                series.sort()
    if with_health:
        for account_id, day, band, score in read_health_snapshots(platform, as_of=as_of):
            if account_id in accounts:
                accounts[account_id].health.append((day, band, score))
        for data in accounts.values():
            data.health.sort(key=lambda h: h[0])
    return accounts


def _attach_events(
    platform: Platform,
    accounts: dict[str, AccountData],
    as_of: date,
    names: set[str],
    events_from: date | None,
    account_ids: list[str] | None,
) -> None:

    layout = LakeLayout(platform.settings.lake_dir)
    files = [str(p) for p in layout.event_files()]
    if not files or not accounts:
        return
    engine = Engine.duckdb(threads=1)
    try:
        # Plain DuckDB SQL over the files (Ibis adds nothing to one grouped scan here).
        # The business day decides which day an event counts for (settings.timezone).
        sql = """
            SELECT account_id, CAST(timezone(?, "timestamp") AS DATE) AS day, event,
                   coalesce(user_id, '') AS user_id, count(*) AS n
            FROM read_parquet(?::VARCHAR[], hive_partitioning = false)
            WHERE event IN (SELECT unnest(?::VARCHAR[]))
              AND CAST(timezone(?, "timestamp") AS DATE) <= ?
              AND CAST(timezone(?, "timestamp") AS DATE) >= ?
            GROUP BY ALL
        """
        tz = platform.settings.timezone
        low = events_from or date(1900, 1, 1)
        params = [tz, files, sorted(names), tz, as_of, tz, low]
        if account_ids is not None:
            sql = sql.replace(
                "GROUP BY ALL", "AND account_id IN (SELECT unnest(?::VARCHAR[]))\n GROUP BY ALL"
            )
            params.append(sorted(account_ids))
        rows = engine.backend.con.execute(sql, params).fetchall()
    finally:
        engine.close()
    for account_id, day, event, user_id, n in rows:
        data = accounts.get(account_id)
        if data is None:
            continue  # events of accounts not in the store are the lake's business
        data.events.setdefault(day, {}).setdefault(event, {})[user_id] = int(n)


# -- adapters to neighbouring capabilities ------------------------------------


def read_metric_values(
    platform: Platform, as_of: date | None = None, metrics: list[str] | None = None
) -> pa.Table:
    """Behavioural metric values (account_id, as_of, metric, value) up to ``as_of``."""
    days = stored_dates(platform.settings.home)
    if as_of is not None:
        days = [d for d in days if d <= as_of]
    return read_values(platform.settings.home, as_of=days, metrics=metrics)


def read_health_snapshots(
    platform: Platform, as_of: date | None = None
) -> list[tuple[str, date, str | None, float | None]]:
    """Health snapshots as (account_id, as_of, band, score), up to ``as_of``.

    Reads ``<home>/health/as_of=YYYY-MM-DD/*.parquet`` (columns ``account_id`` and
    ``band`` and/or ``score``). Missing folders or columns mean no health input.
    """
    table = health_snapshot_columns(platform, as_of)
    if table is None:
        return []
    return [
        (str(a), day, None if band is None else str(band), None if score is None else float(score))
        for a, day, band, score in zip(
            *(table.column(c).to_pylist() for c in ("account_id", "as_of", "band", "score")),
            strict=True,
        )
    ]


def health_snapshot_columns(platform: Platform, as_of: date | None = None) -> pa.Table | None:
    """:func:`read_health_snapshots` as columns ``account_id``, ``as_of``, ``band`` (string)
    and ``score`` (float64), in the same order; None: no snapshot with an ``account_id``.

    Only the snapshots dated on or before ``as_of`` are opened, and of them only those
    columns (a snapshot also holds every measure and group: most of its bytes).
    """
    root = platform.settings.home / "health"
    if not root.is_dir():
        return None
    tables = []
    for folder in sorted(root.glob("as_of=*")):
        try:
            day = date.fromisoformat(folder.name.removeprefix("as_of="))
        except ValueError:
            continue
        if as_of is not None and day > as_of:
            continue
        for path in sorted(folder.glob("*.parquet")):
            names = set(pq.read_schema(path).names)
            if "account_id" not in names:
                continue
            wanted = [c for c in ("account_id", "band", "score") if c in names]
            table = pq.read_table(path, columns=wanted)
            n = table.num_rows
            tables.append(
                pa.table(
                    {
                        "account_id": table.column("account_id").cast(pa.string()),
                        "as_of": pa.array([day] * n, pa.date32()),
                        "band": table.column("band").cast(pa.string())
                        if "band" in names
                        else pa.nulls(n, pa.string()),
                        "score": table.column("score").cast(pa.float64())
                        if "score" in names
                        else pa.nulls(n, pa.float64()),
                    }
                )
            )
    if not tables:
        return None
    return pa.concat_tables(tables)
