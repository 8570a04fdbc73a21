"""Did it work? Per rule: CTAs opened, how they closed, and what happened to the accounts.

For every firing a rule run recorded (:class:`~kizuna.store.actions_models.RuleFiring`),
the account's health score on the firing date and 30 and 90 days later (the newest
snapshot at most :data:`~kizuna.health.report.BASELINE_SLACK_DAYS` older than each
day), and whether it still had ARR 90 days later. Firings that opened a CTA
(``opened``/``released``) are compared with those that met the same condition while
the account's CTA was ``queued`` or ``snoozed`` — the accounts nobody acted on yet.
Changes are only counted once the later day has passed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa

from kizuna.platform import Platform
from kizuna.store.actions_models import CallToAction, RuleFiring

__all__ = ["GroupOutcome", "RuleReport", "rule_report"]

ACTED = ("opened", "released")
NOT_ACTED = ("queued", "snoozed")
LATER_DAYS = (30, 90)


@dataclass
class GroupOutcome:
    """Firings of one group: how many, mean health change after 30/90 days, ARR kept."""

    firings: int = 0
    health_change: dict[int, float | None] = field(default_factory=dict)
    measured: dict[int, int] = field(default_factory=dict)
    still_customer_90d: float | None = None


@dataclass
class RuleReport:
    rule_id: str
    opened: int
    closed: dict[str, int]
    acted: GroupOutcome
    not_acted: GroupOutcome


class _Health:
    """Health scores by date, read once per snapshot date."""

    def __init__(self, platform: Platform) -> None:
        from kizuna.health.snapshots import snapshot_dates

        self.platform = platform
        self.dates = snapshot_dates(platform.settings)
        self.cache: dict[date, dict[str, float]] = {}

    def score(self, account: str, day: date) -> float | None:
        from kizuna.health.report import BASELINE_SLACK_DAYS
        from kizuna.health.snapshots import read_snapshot

        found = [d for d in self.dates if day - timedelta(days=BASELINE_SLACK_DAYS) <= d <= day]
        if not found:
            return None
        when = found[-1]
        if when not in self.cache:
            table = read_snapshot(self.platform.settings, when, columns=["account_id", "score"])
            self.cache[when] = (
                {}
                if table is None
                else dict(
                    zip(table["account_id"].to_pylist(), table["score"].to_pylist(), strict=True)
                )
            )
        return self.cache[when].get(account)


def _outcome(
    platform: Platform, firings: list[tuple[str, date]], health: _Health, arr: dict[date, set[str]]
) -> GroupOutcome:
    today = platform.today()
    out = GroupOutcome(firings=len(firings))
    for days in LATER_DAYS:
        changes = []
        for account, day in firings:
            later = day + timedelta(days=days)
            if later > today:
                continue
            before, after = health.score(account, day), health.score(account, later)
            if before is not None and after is not None:
                changes.append(after - before)
        out.measured[days] = len(changes)
        out.health_change[days] = sum(changes) / len(changes) if changes else None
    kept = [
        account in arr[day + timedelta(days=90)]
        for account, day in firings
        if day + timedelta(days=90) <= today
    ]
    out.still_customer_90d = sum(kept) / len(kept) if kept else None
    return out


def rule_report(platform: Platform) -> list[RuleReport]:
    """The "did it work?" figures of every rule that has fired."""
    from kizuna.retention import Ledger, arr_at

    with platform.store.session() as session:
        rows = session.execute(
            sa.select(
                RuleFiring.rule_id, RuleFiring.account_id, RuleFiring.as_of, RuleFiring.outcome
            ).where(RuleFiring.dry.is_(False), RuleFiring.outcome.in_((*ACTED, *NOT_ACTED)))
        ).all()
        closed = session.execute(
            sa.select(
                CallToAction.rule_id, CallToAction.status, CallToAction.outcome, sa.func.count()
            )
            .where(CallToAction.rule_id.is_not(None), CallToAction.closed_on.is_not(None))
            .group_by(CallToAction.rule_id, CallToAction.status, CallToAction.outcome)
        ).all()
    health = _Health(platform)
    today = platform.today()
    later = sorted(
        {d + timedelta(days=90) for _, _, d, _ in rows if d + timedelta(days=90) <= today}
    )
    arr: dict[date, set[str]] = {}
    if later:
        with Ledger.load(platform.store, platform.settings, rollup=False) as ledger:
            for day in later:
                arr[day] = {a.account_id for a in arr_at(ledger, day).accounts}
    closes: dict[str, Counter[str]] = {}
    for rule_id, status, outcome, n in closed:
        key = "condition cleared" if outcome == "resolved: condition cleared" else status
        closes.setdefault(rule_id or "", Counter())[key] += int(n)
    out = []
    for rule_id in sorted({r[0] for r in rows} | set(closes)):
        acted = [(a, d) for r, a, d, o in rows if r == rule_id and o in ACTED]
        waiting = [(a, d) for r, a, d, o in rows if r == rule_id and o in NOT_ACTED]
        out.append(
            RuleReport(
                rule_id=rule_id,
                opened=len(acted),
                closed=dict(closes.get(rule_id, Counter())),
                acted=_outcome(platform, acted, health, arr),
                not_acted=_outcome(platform, waiting, health, arr),
            )
        )
    return out
