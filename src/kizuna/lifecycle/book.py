"""Everything lifecycle rules read about the whole book, as columns, in one pass.

:func:`load_book` reads the store once (accounts, contract lines, activities,
manual completions), the lake's daily roll-up of the events the rules count
(:mod:`kizuna.lifecycle.usage`: built and refreshed through the metrics' roll-up cache
on the configured engine, never a scan of its own) and the metric and health snapshots
once. Days
are proleptic ordinals (``date.toordinal()``) so they index arrays directly.

Only data known on the as-of date is kept: contract lines started by then,
activities and events dated on or before it, snapshots taken on or before it,
manual completions dated on or before it. The tracking start is a property of
the lake as a whole (the first day a meaningful share of accounts had events,
see :func:`lake_tracking_start`), not of the as-of date, so every recompute of a
past date sees the same one.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa

from kizuna.engine import Engine
from kizuna.lake.layout import LakeLayout
from kizuna.lake.reader import committed_parts
from kizuna.lifecycle.definitions import LifecycleDefinition
from kizuna.lifecycle.sources import (
    ManualCompletion,
    health_snapshot_columns,
    read_metric_values,
)
from kizuna.lifecycle.usage import Usage, load_usage
from kizuna.metrics.rollup import business_day, day_number, from_day_number, utc_offsets
from kizuna.platform import Platform
from kizuna.store.lifecycle_models import CompletionSource, MilestoneCompletion
from kizuna.store.models import Account, Activity, ContractLine

_EPOCH = date(1970, 1, 1).toordinal()


@dataclass
class Book:
    """The accounts of a computation and their inputs, as arrays indexed by account."""

    as_of: date
    account_ids: list[str]
    names: list[str]
    segments: list[str | None]
    #: contract lines started by the as-of date, in (account, start, id) order
    line_account: np.ndarray
    line_start: np.ndarray
    line_end: np.ndarray
    line_arr: np.ndarray
    #: activities dated by the as-of date: account index, ordinal day, kind, lower-cased text
    activity_account: np.ndarray
    activity_day: np.ndarray
    activity_kind: list[str]
    activity_text: list[str]
    #: account index -> milestone id -> manual completion dated by the as-of date
    manual: dict[int, dict[str, ManualCompletion]]
    #: the usage each events condition reads, from the lake's roll-up
    events: Usage
    #: metric -> (account index, ordinal day, value) of snapshots taken by the as-of date
    metrics: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    #: health snapshots in load order: account index, ordinal day, band, score
    health_account: np.ndarray
    health_day: np.ndarray
    health_band: list[str | None]
    health_score: np.ndarray  # NaN: no score
    tracking_started: date | None

    @property
    def size(self) -> int:
        return len(self.account_ids)

    def contract_starts(self) -> np.ndarray:
        """Ordinal of each account's first contract line start; -1 without a started line."""
        out = np.full(self.size, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(out, self.line_account, self.line_start)
        out[out == np.iinfo(np.int64).max] = -1
        return out


def lake_tracking_start(platform: Platform, share: float | None = None) -> date | None:
    """The business day onboarding tracking began, as the lake shows it (None: empty lake).

    The first UTC event day on which at least ``share`` (default: the setting
    ``tracking_start_share``) of the store's accounts, and at least two, had
    events; the answer is the business day of that partition's first event. A
    lone outlier (one account's mistyped year) cannot move it. When no day
    qualifies (a lake of a handful of accounts) or ``share`` is 0, it is the
    first event day.
    """
    layout = LakeLayout(platform.settings.lake_dir)
    by_day: dict[date, list[str]] = {}
    for part in committed_parts(layout):
        by_day.setdefault(part.event_date, []).append(str(part.path))
    if not by_day:
        return None
    share = platform.settings.tracking_start_share if share is None else share
    first = min(by_day)
    if share > 0:
        with platform.store.engine.connect() as conn:
            accounts = conn.execute(sa.select(sa.func.count()).select_from(Account)).scalar_one()
        needed = max(min(2, accounts), math.ceil(share * accounts))
        for day in sorted(by_day):
            ids = pa.concat_arrays(
                [
                    pq.read_table(path, columns=["account_id"])
                    .column("account_id")
                    .combine_chunks()
                    for path in by_day[day]
                ]
            )
            if needed and pc.count_distinct(ids).as_py() >= needed:
                first = day
                break
    engine = Engine.from_settings(platform.settings)
    try:
        events = engine.read_parquet(by_day[first], "kizuna_tracking_events")
        number = day_number(first)
        segments = utc_offsets(platform.settings.tz, number - 1, number + 1)
        found = engine.to_pyarrow(
            events.aggregate(day=business_day(events.timestamp, segments).min())
        )
        earliest = found.column("day")[0].as_py() if found.num_rows else None
    finally:
        engine.close()
    return None if earliest is None else from_day_number(int(earliest))


def tracking_start(platform: Platform, definition: LifecycleDefinition) -> date | None:
    """The day onboarding tracking began: the definition's ``tracking_started``, else the
    lake's first event day, else None (every account is tracked)."""
    return definition.onboarding.tracking_started or lake_tracking_start(platform)


def load_book(
    platform: Platform,
    definition: LifecycleDefinition,
    as_of: date,
    account_ids: list[str] | None = None,
    *,
    with_usage: bool = True,
) -> Book:
    """Load the accounts (all, or ``account_ids``) with everything the definition's rules read.

    Without ``with_usage`` the book's events are left empty, for the caller to read the
    days it needs (:func:`attach_usage`).
    """
    conditions = definition.all_conditions()
    metric_names = sorted({c.metric for c in conditions if c.metric})
    with_health = any(c.health for c in conditions)

    ids: list[str] = []
    names: list[str] = []
    segments: list[str | None] = []
    # Core connections for the bulk reads (the ORM's row handling costs more than the query)
    with platform.store.engine.connect() as conn, platform.store.session() as session:
        q = sa.select(Account.id, Account.name, Account.segment).order_by(Account.id)
        if account_ids is not None:
            q = q.where(Account.id.in_(account_ids))
        for account_id, name, segment in conn.execute(q):
            ids.append(account_id)
            names.append(name)
            segments.append(segment)
        index = {a: i for i, a in enumerate(ids)}

        def scoped(q: Any, column: Any) -> Any:
            return q.where(column.in_(ids)) if account_ids is not None else q

        lines = scoped(
            sa.select(
                ContractLine.account_id,
                ContractLine.start_date,
                ContractLine.end_date,
                ContractLine.arr,
            ).where(ContractLine.start_date <= as_of),
            ContractLine.account_id,
        ).order_by(ContractLine.account_id, ContractLine.start_date, ContractLine.id)
        line_rows = [
            (index[a], s.toordinal(), e.toordinal(), float(arr))
            for a, s, e, arr in conn.execute(lines)
            if a in index
        ]
        # the kind as its stored text (the enum's value), without the enum round trip
        acts = scoped(
            sa.select(
                Activity.account_id,
                Activity.activity_date,
                sa.cast(Activity.kind, sa.String),
                Activity.text,
            ).where(Activity.activity_date <= as_of),
            Activity.account_id,
        ).order_by(Activity.account_id, Activity.activity_date, Activity.id)
        # the driver's rows (the book's every activity, each run): no per-value processing,
        # SQLite's days as text converted once per distinct day
        ordinals: dict[Any, int] = {}
        act_rows = []
        sql = str(acts.compile(conn, compile_kwargs={"literal_binds": True}))
        for a, d, kind, text in conn.exec_driver_sql(sql).fetchall():
            i = index.get(a)
            if i is None:
                continue
            day = ordinals.get(d)
            if day is None:
                on = d if isinstance(d, date) else date.fromisoformat(d)
                day = ordinals[d] = on.toordinal()
            act_rows.append((i, day, kind, (text or "").lower()))
        manual: dict[int, dict[str, ManualCompletion]] = {}
        mq = scoped(
            sa.select(MilestoneCompletion).where(
                MilestoneCompletion.source == CompletionSource.MANUAL,
                MilestoneCompletion.completed_on <= as_of,
            ),
            MilestoneCompletion.account_id,
        )
        for row in session.scalars(mq):
            if row.account_id in index:
                manual.setdefault(index[row.account_id], {})[row.milestone_id] = ManualCompletion(
                    row.milestone_id, row.completed_on, row.completed_by, row.note
                )

    def column(rows: list[tuple[Any, ...]], i: int, dtype: Any) -> np.ndarray:
        return np.array([r[i] for r in rows], dtype=dtype)

    events = load_usage(platform, definition, as_of, index) if with_usage else Usage()
    metrics: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    if metric_names:
        table = read_metric_values(platform, as_of=as_of, metrics=metric_names)
        for name in metric_names:
            rows = [
                (index[r["account_id"]], r["as_of"].toordinal(), float(r["value"]))
                for r in table.filter(pc.equal(table["metric"], name)).to_pylist()
                if r["account_id"] in index and r["value"] is not None
            ]
            metrics[name] = (
                column(rows, 0, np.int64),
                column(rows, 1, np.int64),
                column(rows, 2, np.float64),
            )
    none = np.zeros(0, dtype=np.int64)
    health_account, health_day, health_score = none, none, np.zeros(0)
    health_band: list[str | None] = []
    snapshots = health_snapshot_columns(platform, as_of=as_of) if with_health else None
    if snapshots is not None and snapshots.num_rows:
        # columns all the way: a backfill adds a snapshot of every account per date
        position = pc.index_in(snapshots.column("account_id"), value_set=pa.array(ids, pa.string()))
        keep = position.is_valid()
        kept = snapshots.filter(keep)
        health_account = position.filter(keep).to_numpy(zero_copy_only=False).astype(np.int64)
        days = kept.column("as_of").cast(pa.int32()).to_numpy().astype(np.int64)
        health_day = days + _EPOCH
        health_band = kept.column("band").to_pylist()
        health_score = kept.column("score").fill_null(np.nan).to_numpy().astype(np.float64)
    return Book(
        as_of=as_of,
        account_ids=ids,
        names=names,
        segments=segments,
        line_account=column(line_rows, 0, np.int64),
        line_start=column(line_rows, 1, np.int64),
        line_end=column(line_rows, 2, np.int64),
        line_arr=column(line_rows, 3, np.float64),
        activity_account=column(act_rows, 0, np.int64),
        activity_day=column(act_rows, 1, np.int64),
        activity_kind=[r[2] for r in act_rows],
        activity_text=[r[3] for r in act_rows],
        manual=manual,
        events=events,
        metrics=metrics,
        health_account=health_account,
        health_day=health_day,
        health_band=health_band,
        health_score=health_score,
        tracking_started=tracking_start(platform, definition),
    )


def attach_usage(
    platform: Platform,
    definition: LifecycleDefinition,
    book: Book,
    since: int | None,
    carried: dict[int, int] | None = None,
) -> None:
    """Read the book's usage from the day ``since`` (ordinal; None: every day) on, with the
    counts since the contract start of the ``carried`` accounts carried in
    (:func:`kizuna.lifecycle.usage.load_usage`)."""
    index = {a: i for i, a in enumerate(book.account_ids)}
    book.events = load_usage(platform, definition, book.as_of, index, since=since, carried=carried)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a book's objects are built.

    Evaluating and viewing a whole book creates millions of small acyclic objects
    (transitions, completions, details); each full collection walks every live one, which
    cost a third of the lifecycle step's CPU. Reference counting still frees them; the
    collector resumes afterwards.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
