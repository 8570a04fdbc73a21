"""Injectable clocks, so every "as of" computation is deterministic in tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    """Source of the current instant (always timezone-aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock stopped at one instant; tests move it with :meth:`set`."""

    def __init__(self, instant: datetime) -> None:
        self.set(instant)

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._instant = instant.astimezone(UTC)

    def now(self) -> datetime:
        return self._instant


def business_date(instant: datetime, timezone: str | ZoneInfo) -> date:
    """The calendar day ``instant`` belongs to in the business timezone.

    Timestamps are stored in UTC; which *day* an event counts for is a business
    decision (an event at 23:30 UTC is already the next day in Asia/Tokyo).
    """
    tz = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(tz).date()
