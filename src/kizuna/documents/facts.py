"""What a document says about an account as of a date, read from the store and the lake.

:class:`SeriesCache` reads metric values for many accounts at once, so a batch
of EBRs reads each metric date file once (the benchmark's fast path) while a
single document reads only its own account.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kizuna.actions.ctas import CtaView, list_ctas
from kizuna.errors import NotFound
from kizuna.health.snapshots import account_history
from kizuna.metrics.service import read_metric_values
from kizuna.metrics.store import stored_dates
from kizuna.plans import plan_of_account, plan_view
from kizuna.plans.service import PlanView
from kizuna.platform import Platform
from kizuna.risk.report import account_risk
from kizuna.risk.scores import latest_score_date
from kizuna.store.models import (
    Account,
    Activity,
    ActivityKind,
    ContractLine,
    ContractStatus,
    Ticket,
)

#: Adoption measures of the EBR and the meeting report's usage movement.
ADOPTION_METRICS = ("active_users_28d", "feature_breadth_28d", "seat_utilisation_28d")
USAGE_METRICS = ("active_users_28d", "logins_28d", "feature_breadth_28d", "seat_utilisation_28d")
Point = tuple[date, float]


class SeriesCache:
    """Metric values per (account, metric) over the stored dates, read in one pass."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._series: dict[tuple[str, str], list[Point]] = {}
        self._loaded: set[tuple[str, str]] = set()

    def preload(self, account_ids: Sequence[str], metrics: Iterable[str]) -> None:
        """Read every stored date's values of these accounts and metrics at once."""
        wanted = [(a, m) for a in account_ids for m in metrics if (a, m) not in self._loaded]
        if not wanted:
            return
        days = stored_dates(self.platform.settings.home)
        accounts = sorted({a for a, _ in wanted})
        names = sorted({m for _, m in wanted})
        collected: dict[tuple[str, str], list[Point]] = defaultdict(list)
        if days:
            table = read_metric_values(
                self.platform, as_of=days, account_id=accounts, metrics=names
            )
            for day, account, metric, value in zip(
                table.column("as_of").to_pylist(),
                table.column("account_id").to_pylist(),
                table.column("metric").to_pylist(),
                table.column("value").to_pylist(),
                strict=True,
            ):
                if value is not None:
                    collected[(account, metric)].append((day, float(value)))
        for pair in wanted:
            self._series[pair] = sorted(collected.get(pair, []))
            self._loaded.add(pair)

    def series(self, account_id: str, metric: str, start: date, end: date) -> list[Point]:
        self.preload([account_id], [metric])
        return [p for p in self._series[(account_id, metric)] if start <= p[0] <= end]

    def value_on(self, account_id: str, metric: str, day: date) -> Point | None:
        """The value computed for the latest date on or before ``day``."""
        self.preload([account_id], [metric])
        found = [p for p in self._series[(account_id, metric)] if p[0] <= day]
        return found[-1] if found else None


@dataclass
class Support:
    opened: int
    closed: int
    open_now: int
    urgent_or_high: int
    median_hours_to_close: float | None
    csat: float | None


@dataclass
class Contract:
    arr: Decimal
    currency: str
    products: list[str]
    renewal_date: date | None
    seats: int | None


@dataclass
class Facts:
    """Everything the documents of one account as of one date may show."""

    account_id: str
    account_name: str
    segment: str | None
    as_of: date
    view: PlanView
    series: SeriesCache
    support: Support
    contract: Contract | None
    activities: list[dict[str, Any]] = field(default_factory=list)
    health: list[dict[str, Any]] = field(default_factory=list)
    #: Internal edition only: the churn risk stored on the latest scored date on or before
    #: ``as_of`` (None: not scored), and the calls to action open in the period.
    risk: dict[str, Any] | None = None
    ctas: list[CtaView] = field(default_factory=list)

    @property
    def language(self) -> str:
        return self.view.plan.language


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def gather(
    platform: Platform,
    account_id: str,
    as_of: date,
    *,
    since: date,
    series: SeriesCache | None = None,
    internal: bool = False,
) -> Facts:
    """The facts of ``account_id`` as of ``as_of``; the period for support and activities
    starts the day after ``since``."""
    plan = plan_of_account(platform, account_id)
    view = plan_view(platform, plan, as_of)
    with platform.store.session() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise NotFound(f"no account {account_id}")
        tickets = list(
            session.scalars(
                sa.select(Ticket).where(
                    Ticket.account_id == account_id,
                    Ticket.opened_at < _day_start(as_of + timedelta(days=1)),
                )
            )
        )
        lines = list(
            session.scalars(
                sa.select(ContractLine).where(
                    ContractLine.account_id == account_id,
                    ContractLine.status == ContractStatus.ACTIVE,
                    ContractLine.start_date <= as_of,
                    ContractLine.end_date >= as_of,
                )
            )
        )
        acts = session.execute(
            sa.select(
                Activity.activity_date,
                Activity.kind,
                Activity.text,
                Activity.shared_with_customer,
            )
            .where(
                Activity.account_id == account_id,
                Activity.activity_date > since,
                Activity.activity_date <= as_of,
            )
            .order_by(Activity.activity_date, Activity.id)
        ).all()
        name, segment = account.name, account.segment
    start, end = _day_start(since + timedelta(days=1)), _day_start(as_of + timedelta(days=1))
    in_period = [t for t in tickets if start <= t.opened_at < end]
    closed = [t for t in tickets if t.closed_at is not None and start <= t.closed_at < end]
    hours = sorted(
        (t.closed_at - t.opened_at).total_seconds() / 3600 for t in closed if t.closed_at
    )
    csats = [t.csat for t in closed if t.csat is not None]
    support = Support(
        opened=len(in_period),
        closed=len(closed),
        open_now=sum(1 for t in tickets if t.closed_at is None or t.closed_at >= end),
        urgent_or_high=sum(1 for t in in_period if t.priority.value in ("urgent", "high")),
        median_hours_to_close=statistics.median(hours) if hours else None,
        csat=sum(csats) / len(csats) if csats else None,
    )
    contract = None
    if lines:
        contract = Contract(
            arr=sum((line.arr for line in lines), Decimal(0)),
            currency=lines[0].currency,
            products=sorted({line.product for line in lines}),
            renewal_date=min(line.end_date for line in lines),
            seats=sum(line.quantity or 0 for line in lines) or None,
        )
    activities = [
        {
            "date": day,
            "kind": kind.value if isinstance(kind, ActivityKind) else kind,
            "text": text or "",
            "shared": bool(shared),
        }
        for day, kind, text, shared in acts
    ]
    health: list[dict[str, Any]] = []
    risk: dict[str, Any] | None = None
    ctas: list[CtaView] = []
    if internal:
        health = account_history(
            platform.settings, account_id, start=as_of - timedelta(days=180), end=as_of
        )
        risk = _risk_of(platform, account_id, as_of, view.plan.language)
        ctas = [
            c
            for c in list_ctas(platform, account_id=account_id)
            if c.opened_on is not None
            and c.opened_on <= as_of
            and (c.closed_on is None or c.closed_on > since)
        ]
    return Facts(
        account_id=account_id,
        account_name=name,
        segment=segment,
        as_of=as_of,
        view=view,
        series=series or SeriesCache(platform),
        support=support,
        contract=contract,
        activities=activities,
        health=health,
        risk=risk,
        ctas=ctas,
    )


def _risk_of(platform: Platform, account_id: str, as_of: date, lang: str) -> dict[str, Any] | None:
    """The account's stored churn risk on the latest scored date on or before ``as_of``."""
    day = latest_score_date(platform.settings, as_of)
    if day is None:
        return None
    try:
        return account_risk(platform.settings, account_id, day, lang)
    except NotFound:  # scored that day, but not this account (e.g. no contract then)
        return None


def previous_meeting(platform: Platform, account_id: str, day: date) -> date | None:
    """The latest meeting held with the account before ``day``."""
    with platform.store.session() as session:
        found: date | None = session.scalar(
            sa.select(sa.func.max(Activity.activity_date)).where(
                Activity.account_id == account_id,
                Activity.kind == ActivityKind.MEETING,
                Activity.activity_date < day,
            )
        )
    return found
