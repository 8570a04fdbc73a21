"""The fifteen metrics' figures read from what the book's capabilities computed:
onboarding (the lifecycle's report), health snapshots (adoption score, health
distribution), stored metric values (product and feature usage) and the ARR
ledger (net new bookings, value expansion, retention, churn, final renewal rate).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow.compute as pc

from kizuna.health.snapshots import read_snapshot, snapshot_dates
from kizuna.lifecycle import definition_for, onboarding_report
from kizuna.lifecycle.onboarding import AccountOnboarding, OnboardingReport
from kizuna.lifecycle.onboarding import summarise as summarise_onboarding
from kizuna.metrics.store import read_values, stored_dates
from kizuna.platform import Platform
from kizuna.retention.ledger import Ledger
from kizuna.retention.movements import PeriodMovements, period_movements
from kizuna.retention.periods import Period
from kizuna.retention.rates import rates_from_movements
from kizuna.retention.renewals import renewals, summarise
from kizuna.revenue.framework_model import (
    ADOPTION_GROUP,
    FEATURE_METRIC,
    NONE_GROUP,
    USAGE_METRIC,
    FrameworkBy,
    Grouped,
    MetricValue,
    as_float,
    group_keys,
    last_on_or_before,
    ratio,
)


def onboarding_figures(
    platform: Platform,
    start: date,
    end: date,
    as_of: date,
    by: FrameworkBy | None,
    group_of: Callable[[str], str | None],
    report: OnboardingReport | None,
    out: Grouped,
) -> None:
    if report is None:
        definition = definition_for(platform.settings.home)
        report = onboarding_report(platform, definition, start, end, as_of)
    rows: dict[str | None, list[AccountOnboarding]] = defaultdict(list)
    for row in report.accounts:
        if not start <= row.contract_start <= end:
            continue  # a wider report handed on (the daily run's)
        for key in group_keys(by, group_of(row.account_id)):
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


def health_figures(
    platform: Platform,
    start: date,
    end: date,
    by: FrameworkBy | None,
    group_of: Callable[[str], str | None],
    out: Grouped,
) -> date | None:
    day = last_on_or_before(snapshot_dates(platform.settings), start, end)
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
        for key in group_keys(by, group_of(account_id)):
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
                    "red_share": ratio(a["red"], total),
                    "yellow_share": ratio(a["yellow"], total),
                    "green_share": ratio(a["green"], total),
                },
            ),
        )
    return day


def usage_figures(
    platform: Platform,
    start: date,
    end: date,
    by: FrameworkBy | None,
    group_of: Callable[[str], str | None],
    out: Grouped,
) -> date | None:
    home = platform.settings.home
    day = last_on_or_before(stored_dates(home), start, end)
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
        for key in group_keys(by, group_of(account_id)):
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
                ratio(len(a["active"]), len(a["n"])),
                {
                    "active_accounts": len(a["active"]),
                    "accounts": len(a["n"]),
                    "mean_feature_breadth": breadth,
                },
            ),
        )
    return day


def ledger_figures(
    ledger: Ledger, start: date, end: date, as_of: date, by: FrameworkBy | None, out: Grouped
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
                ratio(m.expansion, m.start_arr),
                {"expansion": float(m.expansion), "start_arr": float(m.start_arr)},
            ),
        )
        out.put(
            key,
            MetricValue(
                "retention_rate",
                "retention",
                as_float(r.grr),
                {"grr": as_float(r.grr), "nrr": as_float(r.nrr)},
            ),
        )
        out.put(
            key,
            MetricValue(
                "churn_rate",
                "retention",
                as_float(r.logo_churn),
                {
                    "logo_churn": as_float(r.logo_churn),
                    "revenue_churn": as_float(r.revenue_churn),
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
                as_float(t.decided_renewal_rate),
                {
                    "arr_renewed": float(t.arr_renewed),
                    "arr_lost": float(t.arr_lost),
                    "arr_open": float(t.arr_open),
                    "logo_renewal_rate": as_float(t.logo_renewal_rate),
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
