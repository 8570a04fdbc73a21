"""The daily run's log in the store: each run and each of its steps.

The run writes its log as it goes (a step is ``running`` before it starts, and
``succeeded`` or ``failed`` after), so a process killed mid-step leaves a run
and a step marked ``running``. The next run, holding the daily lock, knows no
other run is alive: it marks such runs ``killed`` and resumes the newest
unfinished run for the same dates from its first step that did not succeed.

Times are wall-clock UTC (``clock`` defaults to the system clock).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa

from kizuna.clock import Clock, SystemClock
from kizuna.store.db import Store
from kizuna.store.ops_models import DailyRunRecord, DailyRunStep

__all__ = [
    "DONE_STATES",
    "TRIGGERS",
    "RunInfo",
    "RunLog",
    "StepInfo",
    "list_runs",
    "run_of",
]

#: Who started a run.
TRIGGERS = ("cli", "scheduler", "api")
#: Step states that mean the step's outputs are persisted.
DONE_STATES = ("succeeded", "reused")


@dataclass(frozen=True, slots=True)
class StepInfo:
    """One step of a logged run."""

    step: str
    position: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    seconds: float | None
    rows: int | None
    detail: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One logged daily run with its steps, in run order."""

    id: int
    first_date: date
    last_date: date
    date_step: int
    dates: int
    trigger: str
    status: str
    owner: str
    started_at: datetime
    finished_at: datetime | None
    seconds: float | None
    failed_step: str | None
    error: str | None
    resumed_from: int | None
    steps: list[StepInfo] = field(default_factory=list)


def _step_info(row: DailyRunStep) -> StepInfo:
    return StepInfo(
        step=row.step,
        position=row.position,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        seconds=row.seconds,
        rows=row.rows,
        detail=row.detail,
        error=row.error,
    )


def _run_info(row: DailyRunRecord, steps: Sequence[DailyRunStep]) -> RunInfo:
    ended = row.finished_at
    return RunInfo(
        id=row.id,
        first_date=row.first_date,
        last_date=row.last_date,
        date_step=row.date_step,
        dates=row.dates,
        trigger=row.trigger,
        status=row.status,
        owner=row.owner,
        started_at=row.started_at,
        finished_at=ended,
        seconds=(ended - row.started_at).total_seconds() if ended is not None else None,
        failed_step=row.failed_step,
        error=row.error,
        resumed_from=row.resumed_from,
        steps=[_step_info(s) for s in sorted(steps, key=lambda s: s.position)],
    )


def list_runs(
    store: Store,
    *,
    limit: int = 20,
    status: str | None = None,
    as_of: date | None = None,
) -> list[RunInfo]:
    """The newest runs first (``status`` and ``as_of`` — a date the run covers — filter)."""
    with store.session() as session:
        query = sa.select(DailyRunRecord).order_by(DailyRunRecord.id.desc()).limit(limit)
        if status is not None:
            query = query.where(DailyRunRecord.status == status)
        if as_of is not None:
            query = query.where(
                DailyRunRecord.first_date <= as_of, DailyRunRecord.last_date >= as_of
            )
        runs = list(session.scalars(query))
        ids = [r.id for r in runs]
        steps: dict[int, list[DailyRunStep]] = {i: [] for i in ids}
        if ids:
            for s in session.scalars(sa.select(DailyRunStep).where(DailyRunStep.run_id.in_(ids))):
                steps[s.run_id].append(s)
        return [_run_info(r, steps[r.id]) for r in runs]


def run_of(store: Store, run_id: int) -> RunInfo | None:
    """One run by its id, or ``None``."""
    with store.session() as session:
        row = session.get(DailyRunRecord, run_id)
        if row is None:
            return None
        steps = session.scalars(sa.select(DailyRunStep).where(DailyRunStep.run_id == run_id))
        return _run_info(row, list(steps))


class RunLog:
    """Writes one run's log as it goes. Build it with :meth:`start`."""

    def __init__(self, store: Store, run_id: int, clock: Clock) -> None:
        self.store = store
        self.run_id = run_id
        self.clock = clock

    # -- before a run ---------------------------------------------------------

    @staticmethod
    def close_abandoned(store: Store) -> list[int]:
        """Mark runs still ``running`` as ``killed`` (and their running step ``failed``).

        Call only while holding the daily lock: then no other run is alive, so a
        ``running`` run is one whose process stopped without finishing its log.
        """
        with store.session() as session:
            runs = list(
                session.scalars(sa.select(DailyRunRecord).where(DailyRunRecord.status == "running"))
            )
            for run in runs:
                step = session.scalars(
                    sa.select(DailyRunStep).where(
                        DailyRunStep.run_id == run.id, DailyRunStep.status == "running"
                    )
                ).first()
                run.status = "killed"
                run.finished_at = run.heartbeat_at
                run.error = "the run's process stopped (its lock expired) before it finished"
                if step is not None:
                    step.status = "failed"
                    step.error = "the process stopped during this step"
                    run.failed_step = step.step
            return [r.id for r in runs]

    @staticmethod
    def resumable(
        store: Store, days: Sequence[date], date_step: int, steps: Sequence[str]
    ) -> tuple[int, set[str]] | None:
        """The newest unfinished run for exactly these dates and its steps already done.

        ``None`` when the newest run for these dates succeeded (nothing to resume),
        when there is none, or when no step of it is done.
        """
        with store.session() as session:
            newest = session.scalars(
                sa.select(DailyRunRecord)
                .where(
                    DailyRunRecord.first_date == days[0],
                    DailyRunRecord.last_date == days[-1],
                    DailyRunRecord.date_step == date_step,
                    DailyRunRecord.dates == len(days),
                )
                .order_by(DailyRunRecord.id.desc())
                .limit(1)
            ).first()
            if newest is None or newest.status not in ("failed", "killed"):
                return None
            done_rows = session.scalars(
                sa.select(DailyRunStep).where(
                    DailyRunStep.run_id == newest.id, DailyRunStep.status.in_(DONE_STATES)
                )
            )
            done = {s.step for s in done_rows}
        # Only a leading run of done steps is reused: a step after a failed one
        # may depend on what the failed step would have written.
        leading: set[str] = set()
        for name in steps:
            if name not in done:
                break
            leading.add(name)
        return (newest.id, leading) if leading else None

    @classmethod
    def start(
        cls,
        store: Store,
        days: Sequence[date],
        *,
        date_step: int,
        trigger: str,
        owner: str,
        resumed_from: int | None = None,
        clock: Clock | None = None,
    ) -> RunLog:
        """Record a new ``running`` run and return its log."""
        if trigger not in TRIGGERS:
            raise ValueError(f"trigger must be one of {TRIGGERS}, not {trigger!r}")
        clock = clock or SystemClock()
        now = clock.now()
        with store.session() as session:
            row = DailyRunRecord(
                first_date=days[0],
                last_date=days[-1],
                date_step=date_step,
                dates=len(days),
                trigger=trigger,
                status="running",
                owner=owner,
                started_at=now,
                heartbeat_at=now,
                resumed_from=resumed_from,
            )
            session.add(row)
            session.flush()
            run_id = row.id
        return cls(store, run_id, clock)

    # -- during a run -----------------------------------------------------------

    def heartbeat(self) -> None:
        """Say the run is alive (its lock's renewal calls this)."""
        with self.store.session() as session:
            run = session.get(DailyRunRecord, self.run_id)
            if run is not None:
                run.heartbeat_at = self.clock.now()

    def step_started(self, step: str, position: int) -> None:
        with self.store.session() as session:
            session.add(
                DailyRunStep(
                    run_id=self.run_id,
                    step=step,
                    position=position,
                    status="running",
                    started_at=self.clock.now(),
                )
            )

    def step_reused(self, step: str, position: int, previous: int) -> None:
        now = self.clock.now()
        with self.store.session() as session:
            session.add(
                DailyRunStep(
                    run_id=self.run_id,
                    step=step,
                    position=position,
                    status="reused",
                    started_at=now,
                    finished_at=now,
                    seconds=0.0,
                    detail=f"done by run {previous}",
                )
            )

    def step_finished(
        self, step: str, *, seconds: float, detail: str, rows: int | None, error: str | None = None
    ) -> None:
        with self.store.session() as session:
            row = session.get(DailyRunStep, (self.run_id, step))
            if row is None:
                return
            row.status = "failed" if error is not None else "succeeded"
            row.finished_at = self.clock.now()
            row.seconds = seconds
            row.rows = rows
            row.detail = detail
            row.error = error

    def finished(self, *, failed_step: str | None = None, error: str | None = None) -> None:
        """Close the run: ``succeeded``, or ``failed`` at ``failed_step``."""
        with self.store.session() as session:
            run = session.get(DailyRunRecord, self.run_id)
            if run is None:
                return
            now = self.clock.now()
            run.status = "failed" if failed_step is not None else "succeeded"
            run.finished_at = now
            run.heartbeat_at = now
            run.failed_step = failed_step
            run.error = error
