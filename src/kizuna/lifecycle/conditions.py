"""Evaluating rule conditions for one account, day by day (the reference path).

:mod:`kizuna.lifecycle.grid` evaluates the whole book as columns; this module
is the plain definition of the same semantics, kept to check the columnar path
against (tests, ``bench/lifecycle``). An :class:`AccountContext` answers "does
this condition hold on day D?" using only data dated on or before D. Window
counts over events and activities are computed once per account as daily series
(a sliding window, so a year of days costs one pass, not one scan per day).
"""

from __future__ import annotations

import bisect
from collections import Counter
from datetime import date, timedelta
from typing import Any

from kizuna.lifecycle.definitions import (
    ActivitySpec,
    Condition,
    EventsSpec,
    OnboardingTemplate,
    Rule,
)
from kizuna.lifecycle.sources import AccountData


class AccountContext:
    """One account's facts and condition values on any day in [anchor, until].

    ``anchor`` is the contract start (customer since); ``done`` maps milestone
    ids to the day they were done, filled in by milestone evaluation. An
    account that is not ``tracked`` (live before tracking began) has every
    milestone done on its contract start.
    """

    def __init__(
        self,
        data: AccountData,
        template: OnboardingTemplate,
        anchor: date,
        until: date,
        tracked: bool = True,
    ) -> None:
        self.data = data
        self.template = template
        self.anchor = anchor
        self.until = until
        self.tracked = tracked
        self.done: dict[str, date] = {} if tracked else {m.id: anchor for m in template.milestones}
        self._series: dict[Any, list[float]] = {}
        self._metric_dates: dict[str, list[date]] = {
            name: [d for d, _ in series] for name, series in data.metrics.items()
        }
        self._health_dates = [h[0] for h in data.health]
        start_lines = [ln for ln in data.lines if ln.start <= anchor <= ln.end]
        self._arr_at_start = sum(ln.arr for ln in start_lines)

    # -- facts ----------------------------------------------------------------

    def milestone_done(self, milestone_id: str, day: date) -> bool:
        done = self.done.get(milestone_id)
        return done is not None and done <= day

    def fact(self, name: str, day: date) -> Any:
        """The value of fact ``name`` (see ``definitions.FACTS``) on ``day``."""
        lines = self.data.lines
        if name == "was_customer":
            return any(ln.start <= day for ln in lines)
        in_force = [ln for ln in lines if ln.start <= day <= ln.end]
        if name == "has_contract":
            return bool(in_force)
        if name == "days_since_contract_start":
            return (day - self.anchor).days if self.anchor <= day else None
        if name == "days_to_renewal":
            return (max(ln.end for ln in in_force) - day).days if in_force else None
        if name == "arr":
            return sum(ln.arr for ln in in_force)
        if name == "arr_growth":
            if not self._arr_at_start:
                return None
            return sum(ln.arr for ln in in_force) / self._arr_at_start - 1
        milestones = self.template.milestones
        if name == "onboarding_complete":
            return all(self.milestone_done(m.id, day) for m in milestones)
        if name == "overdue_milestones":
            return sum(
                1
                for m in milestones
                if not self.milestone_done(m.id, day)
                and day > self.anchor + timedelta(days=m.due_days)
            )
        if name == "milestones_done":
            return sum(1 for m in milestones if self.milestone_done(m.id, day))
        if name == "days_since_first_value":
            done = self.done.get(self.template.first_value.id)
            return (day - done).days if done is not None and done <= day else None
        raise KeyError(name)  # definitions are validated, so this is a bug

    # -- condition values -----------------------------------------------------

    def value(self, cond: Condition, day: date) -> Any:
        """What the condition's subject is on ``day`` (``None``: unknown)."""
        if cond.fact is not None:
            return self.fact(cond.fact, day)
        if cond.milestone is not None:
            return self.milestone_done(cond.milestone, day)
        if cond.metric is not None:
            dates = self._metric_dates.get(cond.metric, [])
            i = bisect.bisect_right(dates, day)
            return self.data.metrics[cond.metric][i - 1][1] if i else None
        if cond.health is not None:
            i = bisect.bisect_right(self._health_dates, day)
            if not i:
                return None
            _, band, score = self.data.health[i - 1]
            return band if cond.health == "band" else score
        spec: EventsSpec | ActivitySpec | None = cond.events or cond.activity
        assert spec is not None
        if day < self.anchor or day > self.until:
            return None
        series = self._series.get(spec)
        if series is None:
            series = self._series[spec] = self._build_series(spec)
        return series[(day - self.anchor).days]

    def holds(self, cond: Condition, day: date) -> tuple[bool, str]:
        """Whether ``cond`` holds on ``day``, and the condition with its value."""
        value = self.value(cond, day)
        if cond.milestone is not None:
            return value == cond.done, cond.describe()
        detail = f"{cond.describe()} (is {_fmt(value)})"
        if value is None:
            return False, detail
        ok = True
        if cond.eq is not None:
            ok &= value == cond.eq
        if cond.ne is not None:
            ok &= value != cond.ne
        if cond.in_ is not None:
            ok &= value in cond.in_
        for op, bound in (("lt", cond.lt), ("lte", cond.lte), ("gt", cond.gt), ("gte", cond.gte)):
            if bound is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                return False, detail
            ok &= {
                "lt": value < bound,
                "lte": value <= bound,
                "gt": value > bound,
                "gte": value >= bound,
            }[op]
        return bool(ok), detail

    def rule(self, rule: Rule, day: date) -> tuple[bool, str]:
        """Whether ``rule`` holds on ``day``, and the reason: the conditions that decided it."""
        results = [self.holds(c, day) for c in rule.conditions]
        if rule.mode == "all":
            ok = all(r for r, _ in results)
            return ok, "; ".join(d for _, d in results)
        held = [d for r, d in results if r]
        return bool(held), "; ".join(held) if held else "; ".join(d for _, d in results)

    # -- window series ----------------------------------------------------------

    def _build_series(self, spec: EventsSpec | ActivitySpec) -> list[float]:
        per_day: dict[date, dict[str, int]] = {}
        distinct = False
        if isinstance(spec, EventsSpec):
            distinct = spec.measure == "distinct_users"
            for day, by_event in self.data.events.items():
                merged: Counter[str] = Counter()
                for name in spec.names:
                    merged.update(by_event.get(name, {}))
                if merged:
                    per_day[day] = dict(merged)
        else:
            needle = (spec.text_contains or "").lower()
            for day, kind, text in self.data.activities:
                if (spec.kind is None or kind == spec.kind) and needle in text:
                    bucket = per_day.setdefault(day, {"": 0})
                    bucket[""] += 1
        return _window_series(per_day, self.anchor, self.until, spec.window_days, distinct)


def _window_series(
    per_day: dict[date, dict[str, int]],
    anchor: date,
    until: date,
    window: int | None,
    distinct: bool,
) -> list[float]:
    """Value on each day of [anchor, until]: events in the trailing ``window`` days
    (the day itself included) or since ``anchor``; distinct non-empty user ids or a count.
    """
    users: Counter[str] = Counter()
    total = 0

    def apply(day: date, sign: int) -> None:
        nonlocal total
        for user, n in per_day.get(day, {}).items():
            total += sign * n
            if user:
                users[user] += sign * n
                if users[user] <= 0:
                    del users[user]

    if window:
        # preload [anchor - window, anchor - 1]; day anchor then drops anchor - window
        for back in range(window, 0, -1):
            apply(anchor - timedelta(days=back), +1)
    out: list[float] = []
    for i in range((until - anchor).days + 1):
        day = anchor + timedelta(days=i)
        apply(day, +1)
        if window:
            apply(day - timedelta(days=window), -1)
        out.append(float(len(users)) if distinct else float(total))
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
