"""The fifteen metrics' figures counted in the store: NPS answers, support tickets and
closed opportunities (bookings, close rate), each over the period's days in the
platform's time zone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from kizuna.platform import Platform
from kizuna.portfolio.attention import NPS_DETRACTOR_MAX, NPS_PROMOTER_MIN
from kizuna.revenue.framework_model import FrameworkBy, Grouped, MetricValue, group_keys, ratio
from kizuna.store.models import FxRate, SurveyKind, SurveyResponse, Ticket, TicketStatus
from kizuna.store.revenue_models import Opportunity, OpportunityStatus, OpportunityType

#: ``remember(key, compute)``: ``compute()``'s result, once per key
#: (:meth:`kizuna.retention.Ledger.remembered`): reports over one ledger share what they read.
Remember = Callable[[tuple[Any, ...], Callable[[], Any]], Any]


def fx_rates(platform: Platform) -> Callable[[str, date], float | None]:
    """``rate(currency, day)``: the rate to the reporting currency in force on the day."""
    with platform.store.session() as s:
        rows = s.execute(sa.select(FxRate.currency, FxRate.valid_from, FxRate.rate)).all()
    history: dict[str, list[tuple[date, float]]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: (r.currency, r.valid_from)):
        history[r.currency].append((r.valid_from, r.rate))
    reporting = platform.settings.reporting_currency

    def rate(currency: str, on: date) -> float | None:
        if currency == reporting:
            return 1.0
        found = [v for d, v in history.get(currency, []) if d <= on]
        return found[-1] if found else None

    return rate


def day_bounds(platform: Platform, start: date, end: date) -> tuple[datetime, datetime]:
    """The instants (UTC) of ``[start, end]``'s days in the platform's time zone."""
    tz = platform.settings.tz
    lo = datetime.combine(start, time(), tz).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time(), tz).astimezone(UTC)
    return lo, hi


def counts_by_group(
    platform: Platform,
    table: Any,
    when: Any,
    start: date,
    end: date,
    conditions: Sequence[Any],
    by: FrameworkBy | None,
    group_of: Callable[[str], str | None],
    where: Sequence[Any] = (),
    remember: Remember | None = None,
) -> dict[str | None, list[int]]:
    """Per group (``None``: overall): the rows of ``table`` whose ``when`` falls on the
    period's days, then how many of them meet each of ``conditions``.

    One query counts per account in the store; the accounts' groups add them up. With
    ``remember``, the per-account counts of one query are read once (the by-segment and
    by-owner reports of a window share them).
    """
    lo, hi = day_bounds(platform, start, end)
    query = (
        sa.select(
            table.account_id,
            sa.func.count(),
            *(sa.func.sum(sa.case((condition, 1), else_=0)) for condition in conditions),
        )
        .where(when >= lo, when < hi, *where)
        .group_by(table.account_id)
    )

    def read() -> list[Any]:
        with platform.store.session() as s:
            return list(s.execute(query).all())

    if remember is None:
        rows = read()
    else:
        compiled = query.compile()
        # the SQL and its parameters (lists among them: their text) name the query
        query_key = ("store counts", str(compiled), repr(sorted(compiled.params.items())))
        rows = remember(query_key, read)
    acc: dict[str | None, list[int]] = defaultdict(lambda: [0] * (1 + len(conditions)))
    acc[None]  # the overall row exists even with no data
    for account_id, *counts in rows:
        for key in group_keys(by, group_of(account_id)):
            totals = acc[key]
            for i, n in enumerate(counts):
                totals[i] += int(n or 0)
    return acc


def nps_figures(
    platform: Platform,
    start: date,
    end: date,
    by: FrameworkBy | None,
    group_of: Callable[[str], str | None],
    out: Grouped,
    *,
    remember: Remember | None = None,
) -> None:
    counts = counts_by_group(
        platform,
        SurveyResponse,
        SurveyResponse.answered_at,
        start,
        end,
        [SurveyResponse.score >= NPS_PROMOTER_MIN, SurveyResponse.score <= NPS_DETRACTOR_MAX],
        by,
        group_of,
        where=[SurveyResponse.kind == SurveyKind.NPS],
        remember=remember,
    )
    for key, (n, promoters, detractors) in counts.items():
        value = round(100.0 * (promoters - detractors) / n, 2) if n else None
        out.put(
            key,
            MetricValue(
                "nps",
                "adoption",
                value,
                {"answers": n, "promoters": promoters, "detractors": detractors},
            ),
        )


def opportunity_figures(
    platform: Platform,
    start: date,
    end: date,
    by: FrameworkBy | None,
    group_of: Callable[[str], str | None],
    out: Grouped,
) -> None:
    with platform.store.session() as s:
        rows = s.execute(
            sa.select(
                Opportunity.account_id,
                Opportunity.owner_id,
                Opportunity.type,
                Opportunity.status,
                Opportunity.arr_change,
                Opportunity.currency,
                Opportunity.closed_on,
            ).where(
                Opportunity.status != OpportunityStatus.OPEN,
                Opportunity.closed_on >= start,
                Opportunity.closed_on <= end,
            )
        ).all()
    rate = fx_rates(platform)
    acc: dict[str | None, dict[str, Any]] = defaultdict(
        lambda: {"won": 0, "lost": 0, "bookings": Decimal(0), "deals": 0, "missing_rate": 0}
    )
    acc[None]  # the overall row exists even with no data
    for r in rows:
        key_value = r.owner_id if by == "owner" else group_of(r.account_id)
        for key in group_keys(by, key_value):
            a = acc[key]
            if r.status == OpportunityStatus.WON:
                a["won"] += 1
                if r.type in (OpportunityType.UPSELL, OpportunityType.CROSS_SELL):
                    fx = rate(r.currency, r.closed_on)
                    if fx is None:
                        a["missing_rate"] += 1
                    else:
                        a["bookings"] += r.arr_change * Decimal(str(fx))
                        a["deals"] += 1
            else:
                a["lost"] += 1
    for key, a in acc.items():
        out.put(
            key,
            MetricValue(
                "expansion_bookings",
                "expansion",
                float(a["bookings"].quantize(Decimal("0.01"))),
                {"deals": a["deals"], "without_rate": a["missing_rate"]},
            ),
        )
        out.put(
            key,
            MetricValue(
                "close_rate",
                "renewal",
                ratio(a["won"], a["won"] + a["lost"]),
                {"won": a["won"], "lost": a["lost"]},
            ),
        )


def ticket_figures(
    platform: Platform,
    start: date,
    end: date,
    by: FrameworkBy | None,
    group_of: Callable[[str], str | None],
    out: Grouped,
    *,
    remember: Remember | None = None,
) -> None:
    hi = day_bounds(platform, start, end)[1]
    resolved = sa.and_(
        Ticket.status.in_([TicketStatus.SOLVED, TicketStatus.CLOSED]),
        Ticket.closed_at.is_not(None),
        Ticket.closed_at < hi,
    )
    counts = counts_by_group(
        platform, Ticket, Ticket.opened_at, start, end, [resolved], by, group_of, remember=remember
    )
    for key, (opened, done) in counts.items():
        out.put(
            key,
            MetricValue(
                "resolution_rate",
                "renewal",
                ratio(done, opened),
                {"opened": opened, "resolved": done},
            ),
        )
