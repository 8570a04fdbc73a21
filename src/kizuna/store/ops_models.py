"""Store tables of the daily run's log and of the locks between processes (issue 19).

They live in the store, not in a process, so every server and every scheduler
instance sees the same runs and competes for the same lock.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.store.models import Base, UTCDateTime


class DailyRunRecord(Base):
    """One daily run: the dates it covers, who started it and how it ended.

    ``status`` is ``running``, ``succeeded``, ``failed`` or ``killed`` (a run
    whose process stopped without saying so: its lock expired). A run that
    resumed an unfinished one names it in ``resumed_from``.
    """

    __tablename__ = "daily_runs"

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    first_date: Mapped[date] = mapped_column(sa.Date, index=True)
    last_date: Mapped[date] = mapped_column(sa.Date, index=True)
    date_step: Mapped[int] = mapped_column(sa.Integer, default=1)
    dates: Mapped[int] = mapped_column(sa.Integer)
    trigger: Mapped[str] = mapped_column(sa.String(20))
    status: Mapped[str] = mapped_column(sa.String(20), index=True)
    owner: Mapped[str] = mapped_column(sa.String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_step: Mapped[str | None] = mapped_column(sa.String(50))
    error: Mapped[str | None] = mapped_column(sa.Text)
    resumed_from: Mapped[int | None] = mapped_column(sa.BigInteger)


class DailyRunStep(Base):
    """One step of a daily run: when it ran, what it counted, how it ended.

    ``status`` is ``running``, ``succeeded``, ``failed`` or ``reused`` (done by
    the unfinished run this one resumed, so not run again).
    """

    __tablename__ = "daily_run_steps"

    run_id: Mapped[int] = mapped_column(
        sa.ForeignKey("daily_runs.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    seconds: Mapped[float | None] = mapped_column(sa.Float)
    rows: Mapped[int | None] = mapped_column(sa.BigInteger)
    detail: Mapped[str | None] = mapped_column(sa.Text)
    error: Mapped[str | None] = mapped_column(sa.Text)


class OpsLock(Base):
    """A named lock held by one owner until ``expires_at``; the owner renews it.

    A holder that dies stops renewing, and after ``expires_at`` another owner
    may take the lock over.
    """

    __tablename__ = "ops_locks"

    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    owner: Mapped[str] = mapped_column(sa.String(200))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
