"""Seed 004's fifteen metrics by lifecycle category, for a period, per segment or owner.

Every figure comes from the capability that owns it; nothing here re-implements
their logic:

* onboarding — :func:`kizuna.lifecycle.onboarding_report` (time to value,
  activation, on-time onboarding), regrouped with its own ``summarise``;
* adoption — the health snapshot of the last date in the period that has one
  (its ``adoption`` group), the stored metric values of the last computed date
  (product and feature usage), NPS answers given in the period;
* upsell and cross-sell — won opportunities (bookings), the ARR ledger's
  movements (net new ARR, expansion);
* retention — :func:`kizuna.retention.period_movements` and
  :func:`~kizuna.retention.rates_from_movements` (GRR, NRR, logo and revenue
  churn), the health snapshot's bands;
* renewal — tickets opened in the period, opportunities closed in it, and
  :func:`kizuna.retention.renewals` (final renewal rate).

Grouping: ARR figures group by the *entity* (top-level parent) like every
retention report; opportunity figures by the opportunity's owner when grouping
by owner; the rest by the account's own segment or owner.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any, Literal

import pyarrow.compute as pc
import sqlalchemy as sa
import yaml

from kizuna.errors import InvalidInput, Problem
from kizuna.health.snapshots import read_snapshot, snapshot_dates
from kizuna.lifecycle.onboarding import AccountOnboarding, OnboardingReport
from kizuna.lifecycle.onboarding import summarise as summarise_onboarding
from kizuna.metrics.store import read_values, stored_dates
from kizuna.platform import Platform
from kizuna.portfolio.attention import NPS_DETRACTOR_MAX, NPS_PROMOTER_MIN
from kizuna.retention.ledger import Ledger
from kizuna.retention.movements import PeriodMovements, period_movements
from kizuna.retention.periods import Period
from kizuna.retention.rates import rates_from_movements
from kizuna.retention.renewals import renewals, summarise
from kizuna.store.models import FxRate, SurveyKind, SurveyResponse, Ticket, TicketStatus
from kizuna.store.revenue_models import Opportunity, OpportunityStatus, OpportunityType

FrameworkBy = Literal["segment", "owner"]
Category = Literal["onboarding", "adoption", "expansion", "retention", "renewal"]

#: The health scorecard group whose score is the adoption score.
ADOPTION_GROUP = "adoption"
#: Stored metrics read for product and feature usage.
USAGE_METRIC = "events_28d"
FEATURE_METRIC = "feature_breadth_28d"
NONE_GROUP = "(none)"


@dataclass(frozen=True, slots=True)
class MetricDefinition:
    """One of the fifteen: its id, category, unit, and name and definition in en and ja."""

    id: str
    category: Category
    unit: str  # days | ratio | score | nps | money | count
    name: dict[str, str]
    definition: dict[str, str]


def _load_metrics() -> tuple[MetricDefinition, ...]:
    text = (resources.files("kizuna.revenue") / "framework_metrics.yaml").read_text("utf-8")
    return tuple(
        MetricDefinition(m["id"], m["category"], m["unit"], m["name"], m["definition"])
        for m in yaml.safe_load(text)
    )


#: The fifteen metrics (``framework_metrics.yaml``), in the order reports list them.
METRICS: tuple[MetricDefinition, ...] = _load_metrics()


@dataclass(frozen=True, slots=True)
class MetricValue:
    """A figure: the headline ``value`` and its parts (``None``: no data to compute it)."""

    id: str
    category: str
    value: float | None
    parts: dict[str, float | int | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FrameworkGroup:
    key: str | None
    metrics: list[MetricValue]


@dataclass(frozen=True, slots=True)
class FrameworkReport:
    """``kizuna framework``: the fifteen metrics of ``[start, end]``, overall and per group."""

    start: date
    end: date
    as_of: date
    by: str | None
    currency: str
    health_as_of: date | None
    metrics_as_of: date | None
    definitions: list[MetricDefinition]
    overall: list[MetricValue]
    groups: list[FrameworkGroup] = field(default_factory=list)


def _ratio(num: float | int | Decimal, den: float | int | Decimal) -> float | None:
    return round(float(num) / float(den), 6) if den else None


class _Grouped:
    """Per-group accumulation of one figure: the overall key is ``None``."""

    def __init__(self) -> None:
        self.values: dict[str | None, dict[str, Any]] = defaultdict(dict)

    def put(self, key: str | None, metric: MetricValue) -> None:
        self.values[key][metric.id] = metric


def _group_keys(by: FrameworkBy | None, value: str | None) -> tuple[str | None, ...]:
    return (None,) if by is None else (None, value if value is not None else NONE_GROUP)


def _fx(platform: Platform) -> Callable[[str, date], float | None]:
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


def _day_bounds(platform: Platform, start: date, end: date) -> tuple[datetime, datetime]:
    tz = platform.settings.tz
    lo = datetime.combine(start, time(), tz).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time(), tz).astimezone(UTC)
    return lo, hi


def framework(
    platform: Platform,
    start: date,
    end: date,
    *,
    by: FrameworkBy | None = None,
    as_of: date | None = None,
    ledger: Ledger | None = None,
    onboarding: OnboardingReport | None = None,
    accounts: Mapping[str, tuple[str | None, str | None]] | None = None,
) -> FrameworkReport:
    """The fifteen metrics of ``[start, end]`` as of ``as_of`` (default: ``min(end, today)``).

    Parameters
    ----------
    ledger
        The ARR ledger to use (default: loaded from the store, rollup on).
    onboarding
        An onboarding report as of ``as_of`` whose cohort covers ``[start, end]``
        (the daily run computes one for the whole book); its accounts with a
        contract start in the period are used. Default: computed here.
    accounts
        ``account_id → (segment, owner_id)``; default: read from the store.
    """
    if end < start:
        raise InvalidInput(
            "invalid period", [Problem(f"--to {end} is before --from {start}", field="to")]
        )
    as_of = as_of or min(end, platform.today())
    out = _Grouped()
    own_ledger = ledger is None
    if ledger is None:
        ledger = Ledger.load(platform.store, platform.settings)
    try:
        if accounts is None:  # every account's own segment and owner, from the loaded ledger
            table = ledger.engine.to_pyarrow(
                ledger.accounts.select("account_id", "segment", "owner_id")
            )
            accounts = dict(
                zip(
                    table.column("account_id").to_pylist(),
                    zip(
                        table.column("segment").to_pylist(),
                        table.column("owner_id").to_pylist(),
                        strict=True,
                    ),
                    strict=True,
                )
            )
        pick = 0 if by == "segment" else 1

        def group_of(account_id: str) -> str | None:
            attrs = accounts.get(account_id)
            return attrs[pick] if attrs else None

        _onboarding(platform, start, end, as_of, by, group_of, onboarding, out)
        health_day = _health(platform, start, end, by, group_of, out)
        metrics_day = _usage(platform, start, end, by, group_of, out)
        _nps(platform, start, end, by, group_of, out)
        _opportunities(platform, start, end, by, group_of, out)
        _ledger_figures(ledger, start, end, as_of, by, out)
        _tickets(platform, start, end, by, group_of, out)
        currency = ledger.reporting_currency
    finally:
        if own_ledger:
            ledger.close()
    order = [m.id for m in METRICS]
    category = {m.id: m.category for m in METRICS}

    def listing(key: str | None) -> list[MetricValue]:
        found = out.values.get(key, {})
        return [found.get(i) or MetricValue(i, category[i], None) for i in order]

    keys = sorted((k for k in out.values if k is not None), key=lambda k: (k == NONE_GROUP, k))
    return FrameworkReport(
        start=start,
        end=end,
        as_of=as_of,
        by=by,
        currency=currency,
        health_as_of=health_day,
        metrics_as_of=metrics_day,
        definitions=list(METRICS),
        overall=listing(None),
        groups=[FrameworkGroup(k, listing(k)) for k in keys] if by else [],
    )


def own_book(report: FrameworkReport, owner_id: str) -> FrameworkReport:
    """The figures of one owner's book, from a report grouped by owner.

    For a CSM limited to their own book (``csm_scope=own``): the overall figures
    are their group's — ARR figures over the entities they own, opportunity
    figures over the opportunities they own, the rest over their accounts — so
    no book-wide number is shown to them. Without a group (nothing in their
    book) every figure is ``None``.
    """
    if report.by != "owner":
        raise ValueError("own_book needs a report grouped by owner")
    mine = next((g for g in report.groups if g.key == owner_id), None)
    metrics = (
        mine.metrics if mine is not None else [MetricValue(m.id, m.category, None) for m in METRICS]
    )
    return FrameworkReport(
        start=report.start,
        end=report.end,
        as_of=report.as_of,
        by="owner",
        currency=report.currency,
        health_as_of=report.health_as_of,
        metrics_as_of=report.metrics_as_of,
        definitions=report.definitions,
        overall=metrics,
        groups=[FrameworkGroup(owner_id, metrics)],
    )


# -- the figures, one capability at a time ----------------------------------------


def _onboarding(
    platform: Platform,
    start: date,
    end: date,
    as_of: date,
    by: FrameworkBy | None,
    group_of: Callable[[str], str | None],
    report: OnboardingReport | None,
    out: _Grouped,
) -> None:
    if report is None:
        from kizuna.lifecycle import definition_for, onboarding_report

        definition = definition_for(platform.settings.home)
        report = onboarding_report(platform, definition, start, end, as_of)
    rows: dict[str | None, list[AccountOnboarding]] = defaultdict(list)
    for row in report.accounts:
        if not start <= row.contract_start <= end:
            continue  # a wider report handed on (the daily run's)
        for key in _group_keys(by, group_of(row.account_id)):
            rows[key].append(row)
    rows.setdefault(None, [])
    for key, members in rows.items():
        s = summarise_onboarding(members)
        ttv = s.time_to_value
        out.put(
            key,
            MetricValue(
                "time_to_value",
                "onboarding",
                ttv.median,
                {
                    "q1": ttv.q1,
                    "q3": ttv.q3,
                    "reached": ttv.reached,
                    "not_reached": ttv.not_reached,
                },
            ),
        )
        out.put(
            key,
            MetricValue(
                "activation_rate",
                "onboarding",
                s.activation.rate,
                {"activated": s.activation.hits, "eligible": s.activation.eligible},
            ),
        )
        out.put(
            key,
            MetricValue(
                "on_time_onboarding_rate",
                "onboarding",
                s.on_time.rate,
                {"on_time": s.on_time.hits, "eligible": s.on_time.eligible},
            ),
        )


def _last_on_or_before(days: Iterable[date], start: date, end: date) -> date | None:
    found = [d for d in days if start <= d <= end]
    return max(found) if found else None


def _health(
    platform: Platform,
    start: date,
    end: date,
    by: FrameworkBy | None,
    group_of: Callable[[str], str | None],
    out: _Grouped,
) -> date | None:
    day = _last_on_or_before(snapshot_dates(platform.settings), start, end)
    if day is None:
        return None
    table = read_snapshot(platform.settings, day, columns=["account_id", "score", "band", "groups"])
    if table is None:
        return None
    ids = table.column("account_id").to_pylist()
    scores = table.column("score").to_pylist()
    bands = table.column("band").to_pylist()
    flat = pc.list_flatten(table.column("groups"))
    offsets = table.column("groups").combine_chunks().offsets.to_pylist()
    names = pc.struct_field(flat, "name").to_pylist()
    group_scores = pc.struct_field(flat, "score").to_pylist()
    adoption: list[float | None] = []
    for i in range(len(ids)):
        value = None
        for j in range(offsets[i], offsets[i + 1]):
            if names[j] == ADOPTION_GROUP:
                value = group_scores[j]
        adoption.append(value)
    acc: dict[str | None, dict[str, Any]] = defaultdict(
        lambda: {"adopt": [], "score": [], "red": 0, "yellow": 0, "green": 0}
    )
    for account_id, score, band, adopt in zip(ids, scores, bands, adoption, strict=True):
        for key in _group_keys(by, group_of(account_id)):
            a = acc[key]
            if adopt is not None:
                a["adopt"].append(adopt)
            if score is not None:
                a["score"].append(score)
            if band in ("red", "yellow", "green"):
                a[band] += 1
    acc[None]  # the overall row exists even with no data
    for key, a in acc.items():
        mean_adopt = round(sum(a["adopt"]) / len(a["adopt"]), 2) if a["adopt"] else None
        out.put(
            key,
            MetricValue("adoption_score", "adoption", mean_adopt, {"accounts": len(a["adopt"])}),
        )
        total = a["red"] + a["yellow"] + a["green"]
        mean = round(sum(a["score"]) / len(a["score"]), 2) if a["score"] else None
        out.put(
            key,
            MetricValue(
                "health_distribution",
                "retention",
                mean,
                {
                    "red": a["red"],
                    "yellow": a["yellow"],
                    "green": a["green"],
                    "red_share": _ratio(a["red"], total),
                    "yellow_share": _ratio(a["yellow"], total),
                    "green_share": _ratio(a["green"], total),
                },
            ),
        )
    return day


def _usage(
    platform: Platform,
    start: date,
    end: date,
    by: FrameworkBy | None,
    group_of: Callable[[str], str | None],
    out: _Grouped,
) -> date | None:
    home = platform.settings.home
    day = _last_on_or_before(stored_dates(home), start, end)
    if day is None:
        return None
    long = read_values(home, day, metrics=[USAGE_METRIC, FEATURE_METRIC])
    acc: dict[str | None, dict[str, Any]] = defaultdict(
        lambda: {"n": set(), "active": set(), "breadth": []}
    )
    for account_id, metric, value in zip(
        long.column("account_id").to_pylist(),
        long.column("metric").to_pylist(),
        long.column("value").to_pylist(),
        strict=True,
    ):
        for key in _group_keys(by, group_of(account_id)):
            a = acc[key]
            if metric == USAGE_METRIC:
                a["n"].add(account_id)
                if value is not None and value > 0:
                    a["active"].add(account_id)
            elif value is not None:
                a["breadth"].append(value)
    acc[None]  # the overall row exists even with no data
    for key, a in acc.items():
        breadth = round(sum(a["breadth"]) / len(a["breadth"]), 4) if a["breadth"] else None
        out.put(
            key,
            MetricValue(
                "product_usage",
                "adoption",
                _ratio(len(a["active"]), len(a["n"])),
                {
                    "active_accounts": len(a["active"]),
                    "accounts": len(a["n"]),
                    "mean_feature_breadth": breadth,
                },
            ),
        )
    return day


def _nps(
    platform: Platform,
    start: date,
    end: date,
    by: FrameworkBy | None,
    group_of: Callable[[str], str | None],
    out: _Grouped,
) -> None:
    lo, hi = _day_bounds(platform, start, end)
    promoter = sa.case((SurveyResponse.score >= NPS_PROMOTER_MIN, 1), else_=0)
    detractor = sa.case((SurveyResponse.score <= NPS_DETRACTOR_MAX, 1), else_=0)
    with platform.store.session() as s:
        rows = s.execute(
            sa.select(
                SurveyResponse.account_id,
                sa.func.count(),
                sa.func.sum(promoter),
                sa.func.sum(detractor),
            )
            .where(
                SurveyResponse.kind == SurveyKind.NPS,
                SurveyResponse.answered_at >= lo,
                SurveyResponse.answered_at < hi,
            )
            .group_by(SurveyResponse.account_id)
        ).all()
    acc: dict[str | None, list[int]] = defaultdict(lambda: [0, 0, 0])
    acc[None]  # the overall row exists even with no data
    for account_id, answers, promoters, detractors in rows:
        for key in _group_keys(by, group_of(account_id)):
            a = acc[key]
            a[0] += int(answers)
            a[1] += int(promoters or 0)
            a[2] += int(detractors or 0)
    for key, (n, promoters, detractors) in acc.items():
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


def _opportunities(
    platform: Platform,
    start: date,
    end: date,
    by: FrameworkBy | None,
    group_of: Callable[[str], str | None],
    out: _Grouped,
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
    rate = _fx(platform)
    acc: dict[str | None, dict[str, Any]] = defaultdict(
        lambda: {"won": 0, "lost": 0, "bookings": Decimal(0), "deals": 0, "missing_rate": 0}
    )
    acc[None]  # the overall row exists even with no data
    for r in rows:
        key_value = r.owner_id if by == "owner" else group_of(r.account_id)
        for key in _group_keys(by, key_value):
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
                _ratio(a["won"], a["won"] + a["lost"]),
                {"won": a["won"], "lost": a["lost"]},
            ),
        )


def _ledger_figures(
    ledger: Ledger, start: date, end: date, as_of: date, by: FrameworkBy | None, out: _Grouped
) -> None:
    period = [Period(start, end)]
    groups: dict[str | None, PeriodMovements] = {}
    if by is None:
        groups[None] = period_movements(ledger, period)[None][0]
    else:  # one query; every entity is in exactly one group, so the groups add up
        for value, rows in period_movements(ledger, period, by).items():
            groups[value if value is not None else NONE_GROUP] = rows[0]
        groups[None] = _add_up(list(groups.values()), start, end)
    for key, m in groups.items():
        r = rates_from_movements(m)
        net = m.new + m.reactivation + m.expansion - m.contraction - m.churn
        out.put(
            key,
            MetricValue(
                "net_new_bookings",
                "expansion",
                float(net),
                {
                    "new": float(m.new),
                    "reactivation": float(m.reactivation),
                    "expansion": float(m.expansion),
                    "contraction": float(m.contraction),
                    "churn": float(m.churn),
                },
            ),
        )
        out.put(
            key,
            MetricValue(
                "value_expansion_rate",
                "expansion",
                _ratio(m.expansion, m.start_arr),
                {"expansion": float(m.expansion), "start_arr": float(m.start_arr)},
            ),
        )
        out.put(
            key,
            MetricValue(
                "retention_rate",
                "retention",
                _f(r.grr),
                {"grr": _f(r.grr), "nrr": _f(r.nrr)},
            ),
        )
        out.put(
            key,
            MetricValue(
                "churn_rate",
                "retention",
                _f(r.logo_churn),
                {
                    "logo_churn": _f(r.logo_churn),
                    "revenue_churn": _f(r.revenue_churn),
                    "accounts_start": r.accounts_start,
                    "accounts_churned": r.accounts_churned,
                },
            ),
        )
    report = renewals(ledger, start, end, as_of=as_of, period="quarter")
    lines_by: dict[str | None, list[Any]] = defaultdict(list)
    lines_by[None] = list(report.lines)
    if by is not None:
        ent = ledger.entities()
        column = "segment" if by == "segment" else "owner_id"
        attrs = {
            r["entity_id"]: r[column]
            for r in ledger.engine.to_pyarrow(ent.select("entity_id", column)).to_pylist()
        }
        for ln in report.lines:
            value = attrs.get(ln.account_id)
            lines_by[value if value is not None else NONE_GROUP].append(ln)
    for key, lines in lines_by.items():
        t = summarise(lines)
        out.put(
            key,
            MetricValue(
                "final_renewal_rate",
                "renewal",
                _f(t.decided_renewal_rate),
                {
                    "arr_renewed": float(t.arr_renewed),
                    "arr_lost": float(t.arr_lost),
                    "arr_open": float(t.arr_open),
                    "logo_renewal_rate": _f(t.logo_renewal_rate),
                },
            ),
        )


def _add_up(parts: list[PeriodMovements], start: date, end: date) -> PeriodMovements:
    """The movements of groups that partition the book, added up."""
    zero = Decimal("0.00")

    def total(name: str) -> Any:
        return sum((getattr(p, name) for p in parts), start=zero if name.endswith(_MONEY) else 0)

    names = [
        n for n in PeriodMovements.__dataclass_fields__ if n not in ("period_start", "period_end")
    ]
    return PeriodMovements(period_start=start, period_end=end, **{n: total(n) for n in names})


_MONEY = ("arr", "new", "expansion", "contraction", "churn", "reactivation")


def _f(value: Decimal | None) -> float | None:
    return round(float(value), 6) if value is not None else None


def _tickets(
    platform: Platform,
    start: date,
    end: date,
    by: FrameworkBy | None,
    group_of: Callable[[str], str | None],
    out: _Grouped,
) -> None:
    lo, hi = _day_bounds(platform, start, end)
    resolved = sa.and_(
        Ticket.status.in_([TicketStatus.SOLVED, TicketStatus.CLOSED]),
        Ticket.closed_at.is_not(None),
        Ticket.closed_at < hi,
    )
    with platform.store.session() as s:
        rows = s.execute(
            sa.select(
                Ticket.account_id,
                sa.func.count(),
                sa.func.sum(sa.case((resolved, 1), else_=0)),
            )
            .where(Ticket.opened_at >= lo, Ticket.opened_at < hi)
            .group_by(Ticket.account_id)
        ).all()
    acc: dict[str | None, list[int]] = defaultdict(lambda: [0, 0])
    acc[None]  # the overall row exists even with no data
    for account_id, opened, done in rows:
        for key in _group_keys(by, group_of(account_id)):
            acc[key][0] += int(opened)
            acc[key][1] += int(done or 0)
    for key, (opened, done) in acc.items():
        out.put(
            key,
            MetricValue(
                "resolution_rate",
                "renewal",
                _ratio(done, opened),
                {"opened": opened, "resolved": done},
            ),
        )
