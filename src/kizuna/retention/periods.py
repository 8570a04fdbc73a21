"""Calendar helpers: month and quarter periods and the points ARR is measured at.

A *period* ``[start, end]`` is a closed range of calendar days. Its opening ARR
is the ARR in force on ``start - 1 day`` (the closing ARR of the previous
period) and its closing ARR the ARR on ``end``; so consecutive periods chain and
their movements add up to the change over the whole range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from kizuna.errors import InvalidInput, Problem

PeriodUnit = Literal["month", "quarter"]
ONE_DAY = timedelta(days=1)
#: The range of days a period may cover: wide enough for any contract history.
EARLIEST = date(1900, 1, 1)
LATEST = date(2999, 12, 31)


@dataclass(frozen=True, slots=True)
class Period:
    """A closed range of days ``[start, end]``."""

    start: date
    end: date

    @property
    def opening_date(self) -> date:
        """The day whose ARR opens the period (the day before ``start``)."""
        return self.start - ONE_DAY


def month_end(day: date) -> date:
    """Last day of ``day``'s month."""
    first_next = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return first_next - ONE_DAY


def quarter_end(day: date) -> date:
    """Last day of ``day``'s calendar quarter."""
    last_month = ((day.month - 1) // 3) * 3 + 3
    return month_end(date(day.year, last_month, 1))


def period_end(day: date, unit: PeriodUnit) -> date:
    return month_end(day) if unit == "month" else quarter_end(day)


def month_label(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def quarter_label(day: date) -> str:
    return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"


def period_label(day: date, unit: PeriodUnit) -> str:
    return month_label(day) if unit == "month" else quarter_label(day)


def split_periods(start: date, end: date, unit: PeriodUnit) -> list[Period]:
    """Calendar months or quarters covering ``[start, end]``, the first and last clipped.

    ``split_periods(2025-01-15, 2025-03-10, "month")`` gives ``[01-15, 01-31]``,
    ``[02-01, 02-28]`` and ``[03-01, 03-10]``.
    """
    check_range(start, end)
    periods: list[Period] = []
    cursor = start
    while cursor <= end:
        stop = min(period_end(cursor, unit), end)
        periods.append(Period(cursor, stop))
        cursor = stop + ONE_DAY
    return periods


def month_ends(first: date, last: date) -> list[date]:
    """Month-end dates from ``first``'s month through ``last``'s month."""
    ends = []
    cursor = month_end(first)
    while cursor <= month_end(last):
        ends.append(cursor)
        cursor = month_end(cursor + ONE_DAY)
    return ends


def check_range(
    start: date, end: date, *, start_field: str = "start", end_field: str = "end"
) -> None:
    """Raise :class:`InvalidInput` unless ``start <= end`` and both lie in
    :data:`EARLIEST`..:data:`LATEST` (outside it the calendar arithmetic of a period —
    the day before its start, the end of its month — leaves the calendar)."""
    outside = [
        Problem(
            f"{name} {day.isoformat()} is outside {EARLIEST.isoformat()}..{LATEST.isoformat()}",
            where=f"--{name}",
            field=name,
        )
        for name, day in ((start_field, start), (end_field, end))
        if not EARLIEST <= day <= LATEST
    ]
    if outside:
        raise InvalidInput("the period is outside the supported calendar", outside)
    if start > end:
        raise InvalidInput(
            "the period is empty",
            [
                Problem(
                    f"{start_field} {start.isoformat()} is after {end_field} {end.isoformat()}",
                    where=f"--{start_field}",
                    field=start_field,
                )
            ],
        )
