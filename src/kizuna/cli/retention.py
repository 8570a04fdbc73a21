"""Retention commands: ``kizuna retention``, ``arr ...``, ``renewals`` and ``cohorts``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from kizuna.cli._common import JsonOption, console, emit, get_platform, parse_dates
from kizuna.retention import (
    DEFAULT_GRACE_DAYS,
    Ledger,
    LedgerFilters,
    arr_at,
    arr_movements,
    cohort_retention,
    renewals,
    retention_rates,
)
from kizuna.retention.rates import retention_json

arr_app = typer.Typer(help="The ARR ledger: ARR at a date and its movements.", no_args_is_help=True)


class By(StrEnum):
    segment = "segment"
    region = "region"
    owner = "owner"


class Unit(StrEnum):
    month = "month"
    quarter = "quarter"


SegmentOpt = Annotated[str | None, typer.Option("--segment", help="Only this segment.")]
RegionOpt = Annotated[str | None, typer.Option("--region", help="Only this region.")]
OwnerOpt = Annotated[str | None, typer.Option("--owner", help="Only this owner (team member id).")]
ProductOpt = Annotated[str | None, typer.Option("--product", help="Only lines of this product.")]
RollupOpt = Annotated[
    bool,
    typer.Option(
        "--rollup/--no-rollup",
        help="Count children's ARR at their top-level parent account (default) or separately.",
    ),
]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("retention")(retention)
    app.command("renewals")(renewals_command)
    app.command("cohorts")(cohorts)
    app.add_typer(arr_app, name="arr")


@contextmanager
def open_ledger(
    segment: str | None, region: str | None, owner: str | None, product: str | None, rollup: bool
) -> Iterator[tuple[Ledger, date]]:
    platform = get_platform()
    filters = LedgerFilters(segment=segment, region=region, owner=owner, product=product)
    with Ledger.load(platform.store, platform.settings, filters=filters, rollup=rollup) as ledger:
        yield ledger, platform.today()


def _pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{float(value) * 100:.1f}%"


def _money(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def retention(
    start: Annotated[str, typer.Option("--start", help="First day of the period (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--end", help="Last day of the period, inclusive.")],
    by: Annotated[
        By | None, typer.Option("--by", help="Also per segment, region or owner.")
    ] = None,
    segment: SegmentOpt = None,
    region: RegionOpt = None,
    owner: OwnerOpt = None,
    product: ProductOpt = None,
    rollup: RollupOpt = True,
    as_json: JsonOption = False,
) -> None:
    """GRR, NRR, logo and revenue churn and the ARR bridge of one period."""
    d = parse_dates(start=start, end=end)
    assert d["start"] and d["end"]
    with open_ledger(segment, region, owner, product, rollup) as (ledger, _today):
        report = retention_rates(ledger, d["start"], d["end"], by=by.value if by else None)
    body = retention_json(report)

    def render(_: Any) -> None:
        table = Table(title=f"Retention {report.start} → {report.end} ({report.currency})")
        table.add_column("")
        rows = [(None, report.rates), *((g.value, g.rates) for g in report.groups)]
        for label, _r in rows:
            table.add_column("all" if label is None else str(label), justify="right")
        for key in (
            "start_arr",
            "new",
            "reactivation",
            "expansion",
            "contraction",
            "churn",
            "end_arr",
        ):
            table.add_row(key, *(_money(getattr(r, key)) for _, r in rows))
        for key in ("grr", "nrr", "logo_churn", "revenue_churn"):
            table.add_row(key, *(_pct(getattr(r, key)) for _, r in rows))
        for key in ("accounts_start", "accounts_churned"):
            table.add_row(key, *(str(getattr(r, key)) for _, r in rows))
        console.print(table)

    emit(body, as_json, render)


@arr_app.command("movements")
def movements(
    from_: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD).")],
    to: Annotated[str, typer.Option("--to", help="Last day, inclusive.")],
    period: Annotated[Unit, typer.Option("--period", help="month or quarter.")] = Unit.month,
    accounts: Annotated[
        bool, typer.Option("--accounts", help="Also list every account's movement.")
    ] = False,
    segment: SegmentOpt = None,
    region: RegionOpt = None,
    owner: OwnerOpt = None,
    product: ProductOpt = None,
    rollup: RollupOpt = True,
    as_json: JsonOption = False,
) -> None:
    """ARR movements (new, expansion, contraction, churn, reactivation) per month or quarter."""
    d = parse_dates(from_=from_, to=to)
    assert d["from_"] and d["to"]
    with open_ledger(segment, region, owner, product, rollup) as (ledger, _today):
        report = arr_movements(
            ledger, d["from_"], d["to"], period=period.value, with_accounts=accounts
        )

    def render(r: Any) -> None:
        table = Table(title=f"ARR movements ({r.currency})")
        cols = ("start_arr", "new", "reactivation", "expansion", "contraction", "churn", "end_arr")
        table.add_column("period")
        for c in cols:
            table.add_column(c, justify="right")
        for p in [*r.periods, r.totals]:
            label = "total" if p is r.totals else f"{p.period_start} → {p.period_end}"
            table.add_row(label, *(_money(getattr(p, c)) for c in cols))
        console.print(table)
        if r.accounts:
            detail = Table(title="Account movements")
            for c in ("period", "account", "movement", "from", "to", "amount"):
                detail.add_column(c)
            for m in r.accounts:
                detail.add_row(
                    str(m.period_start),
                    m.account_id,
                    m.movement,
                    _money(m.start_arr),
                    _money(m.end_arr),
                    _money(m.amount),
                )
            console.print(detail)

    emit(report, as_json, render)


@arr_app.command("at")
def at(
    on: Annotated[
        str | None, typer.Option("--date", help="The day (YYYY-MM-DD); default today.")
    ] = None,
    segment: SegmentOpt = None,
    region: RegionOpt = None,
    owner: OwnerOpt = None,
    product: ProductOpt = None,
    rollup: RollupOpt = True,
    as_json: JsonOption = False,
) -> None:
    """ARR of every account on one day."""
    d = parse_dates(date=on)
    with open_ledger(segment, region, owner, product, rollup) as (ledger, today):
        snapshot = arr_at(ledger, d["date"] or today)

    def render(s: Any) -> None:
        table = Table(title=f"ARR on {s.on}: {_money(s.total_arr)} {s.currency}")
        for c in ("account", "name", "segment", "arr"):
            table.add_column(c, justify="right" if c == "arr" else "left")
        for a in s.accounts:
            table.add_row(a.account_id, a.name or "", a.segment or "", _money(a.arr))
        console.print(table)

    emit(snapshot, as_json, render)


def renewals_command(
    from_: Annotated[str, typer.Option("--from", help="First end date considered (YYYY-MM-DD).")],
    to: Annotated[str, typer.Option("--to", help="Last end date considered, inclusive.")],
    grace_days: Annotated[
        int, typer.Option("--grace-days", help="Days a renewal may start after the end.")
    ] = DEFAULT_GRACE_DAYS,
    period: Annotated[Unit, typer.Option("--period", help="Totals per month or quarter.")] = (
        Unit.month
    ),
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Decides open vs. lost; default today.")
    ] = None,
    segment: SegmentOpt = None,
    region: RegionOpt = None,
    owner: OwnerOpt = None,
    product: ProductOpt = None,
    rollup: RollupOpt = True,
    as_json: JsonOption = False,
) -> None:
    """Lines up for renewal, renewal rates by ARR and logo, and the open pipeline."""
    d = parse_dates(from_=from_, to=to, as_of=as_of)
    assert d["from_"] and d["to"]
    with open_ledger(segment, region, owner, product, rollup) as (ledger, today):
        report = renewals(
            ledger,
            d["from_"],
            d["to"],
            as_of=d["as_of"] or today,
            grace_days=grace_days,
            period=period.value,
        )

    def render(r: Any) -> None:
        table = Table(title=f"Renewals due {r.start} → {r.end} ({r.currency}, as of {r.as_of})")
        cols = ("lines_due", "arr_due", "arr_renewed", "arr_lost", "arr_open")
        table.add_column("period")
        for c in (*cols, "renewal_rate", "logo_renewal_rate"):
            table.add_column(c, justify="right")
        for t in [*r.by_period, r.totals]:
            table.add_row(
                t.period or "total",
                str(t.lines_due),
                *(_money(getattr(t, c)) for c in cols[1:]),
                _pct(t.renewal_rate),
                _pct(t.logo_renewal_rate),
            )
        console.print(table)
        pipe = Table(title="Open renewal pipeline")
        for c in ("renewal date", "account", "product", "arr", "days", "health", "risk"):
            pipe.add_column(c)
        for ln in r.pipeline:
            pipe.add_row(
                str(ln.renewal_date),
                ln.account_id,
                ln.product,
                _money(ln.arr),
                str(ln.days_until_renewal),
                ln.health_band or "—",
                "—" if ln.churn_risk is None else f"{ln.churn_risk:.0%}",
            )
        console.print(pipe)

    emit(report, as_json, render)


def cohorts(
    by: Annotated[Unit, typer.Option("--by", help="Cohorts by start month or quarter.")] = (
        Unit.month
    ),
    by_segment: Annotated[
        bool, typer.Option("--by-segment", help="Split every cohort by segment.")
    ] = False,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Measure months ended by this day; default today.")
    ] = None,
    segment: SegmentOpt = None,
    region: RegionOpt = None,
    owner: OwnerOpt = None,
    product: ProductOpt = None,
    rollup: RollupOpt = True,
    as_json: JsonOption = False,
) -> None:
    """Logo and revenue retention per start cohort and month since start."""
    d = parse_dates(as_of=as_of)
    with open_ledger(segment, region, owner, product, rollup) as (ledger, today):
        report = cohort_retention(
            ledger, as_of=d["as_of"] or today, by=by.value, by_segment=by_segment
        )

    def render(r: Any) -> None:
        table = Table(title=f"Cohorts by {r.by} (as of {r.as_of}, {r.currency})")
        for c in ("cohort", "segment", "month", "accounts", "retained", "logo", "arr", "revenue"):
            table.add_column(c)
        for row in r.rows:
            table.add_row(
                row.cohort,
                row.segment or "",
                str(row.months_since_start),
                str(row.accounts),
                str(row.accounts_retained),
                _pct(row.logo_retention),
                _money(row.arr),
                _pct(row.revenue_retention),
            )
        console.print(table)

    emit(report, as_json, render)
