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

from kizuna.actions.model import ACTIVE_STATUSES, CONDITION_CLEARED
from kizuna.health.report import BASELINE_SLACK_DAYS
from kizuna.health.snapshots import read_snapshot, snapshot_dates
from kizuna.platform import Platform
from kizuna.retention import Ledger, arr_at
from kizuna.store.actions_models import CallToAction, RuleFiring

__all__ = ["GroupOutcome", "PlaybookReport", "RuleReport", "playbook_report", "rule_report"]

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
    #: mean days from opening to closing, over this rule's closed CTAs
    days_to_close: float | None = None
    #: the rule's name as its CTAs carry it (the rule may have left the rule set since)
    title: str | None = None


@dataclass
class PlaybookReport:
    """CTAs run with one playbook (by a rule or by hand) and how they closed."""

    playbook_id: str
    opened: int
    active: int
    closed_won: int
    closed_lost: int
    resolved: int
    days_to_close: float | None


def _closing_days(platform: Platform) -> dict[tuple[str, str], list[int]]:
    """Days from opening to closing of every closed CTA, by (rule id, playbook id)."""
    out: dict[tuple[str, str], list[int]] = {}
    with platform.store.session() as session:
        for rule_id, playbook_id, opened, closed in session.execute(
            sa.select(
                CallToAction.rule_id, CallToAction.playbook_id, CallToAction.opened_on,
                CallToAction.closed_on,
            ).where(CallToAction.closed_on.is_not(None), CallToAction.opened_on.is_not(None))
        ):  # fmt: skip
            if opened is not None and closed is not None:
                key = (rule_id or "", playbook_id or "")
                out.setdefault(key, []).append((closed - opened).days)
    return out


def _mean(values: list[int]) -> float | None:
    return sum(values) / len(values) if values else None


def playbook_report(platform: Platform) -> list[PlaybookReport]:
    """Per playbook: CTAs opened with it, still active, closed won / lost / resolved by the
    rule (condition cleared), and the mean days to close."""

    with platform.store.session() as session:
        rows = session.execute(
            sa.select(
                CallToAction.playbook_id, CallToAction.status, CallToAction.outcome,
                sa.func.count(),
            )
            .where(CallToAction.playbook_id.is_not(None), CallToAction.opened_on.is_not(None))
            .group_by(CallToAction.playbook_id, CallToAction.status, CallToAction.outcome)
        ).all()  # fmt: skip
    days = _closing_days(platform)
    counts: dict[str, Counter[str]] = {}
    for playbook_id, status, outcome, n in rows:
        c = counts.setdefault(playbook_id or "", Counter())
        c["opened"] += int(n)
        if status in ACTIVE_STATUSES:
            c["active"] += int(n)
        elif outcome == CONDITION_CLEARED:
            c["resolved"] += int(n)
        else:
            c[status] += int(n)
    return [
        PlaybookReport(
            pid,
            c["opened"],
            c["active"],
            c["closed_won"],
            c["closed_lost"],
            c["resolved"],
            _mean([d for (_, p), ds in days.items() if p == pid for d in ds]),
        )
        for pid, c in sorted(counts.items())
    ]


class _Health:
    """Health scores by date, read once per snapshot date."""

    def __init__(self, platform: Platform) -> None:

        self.platform = platform
        self.dates = snapshot_dates(platform.settings)
        self.cache: dict[date, dict[str, float]] = {}

    def score(self, account: str, day: date) -> float | None:

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
        titles = dict(
            session.execute(
                sa.select(CallToAction.rule_id, sa.func.max(CallToAction.title))
                .where(CallToAction.rule_id.is_not(None))
                .group_by(CallToAction.rule_id)
            ).all()
        )
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
    days = _closing_days(platform)
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
                days_to_close=_mean([d for (r, _), ds in days.items() if r == rule_id for d in ds]),
                title=titles.get(rule_id),
            )
        )
    return out
