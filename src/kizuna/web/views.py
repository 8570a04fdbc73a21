"""View models of the UI's store-backed pages: the account list and the account 360.

These functions turn query parameters into checked queries (every problem
reported, per field) and call the core services (:mod:`kizuna.customers`,
:mod:`kizuna.auth`) and :mod:`kizuna.web.insights` for computed figures. Route
handlers only parse the request, call one of these and render.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from kizuna.auth.policy import Caller, account_scope, can_write
from kizuna.auth.users import list_users
from kizuna.customers import get_record, list_records
from kizuna.errors import NotFound
from kizuna.platform import Platform
from kizuna.store.models import Account, SuccessRole
from kizuna.web import insights, lifecycle_views, retention_views, risk_views
from kizuna.web.charts import Chart
from kizuna.web.i18n import N_

PAGE_SIZE = 50
#: Sort keys of the account list; "-" in front means descending.
ACCOUNT_SORTS = (
    "name", "arr", "health", "renewal", "segment", "region", "owner", "stage", "risk"
)  # fmt: skip
#: Churn-risk bands (kizuna.risk.vocab.BANDS) the account list filters on.
RISK_BANDS = ("high", "medium", "low")
#: The roles a success project needs at least once (seed 001).
REQUIRED_ROLES = (SuccessRole.EVALUATOR, SuccessRole.PROMOTER)


# -- the account list ------------------------------------------------------------


@dataclass(frozen=True)
class AccountQuery:
    """What the account list is asked for: search, filters, sort and page."""

    q: str = ""
    segment: str = ""
    owner: str = ""
    region: str = ""
    band: str = ""
    sort: str = "name"
    page: int = 1
    risk: str = ""

    def params(self, **changes: Any) -> dict[str, Any]:
        """Query-string parameters of this query with ``changes`` applied."""
        data = replace(self, **changes).__dict__
        return {k: v for k, v in data.items() if v not in ("", None) and (k, v) != ("page", 1)}


MAX_SEARCH = 200
FILTERS = ("segment", "owner", "region")
_FILTER_ERRORS = {
    "segment": N_("Unknown segment."),
    "owner": N_("Unknown owner."),
    "region": N_("Unknown region."),
}


def _clean_text(value: str) -> str | None:
    """``value`` stripped, or None when it holds control characters (never sent to the store)."""
    value = value.strip()
    return None if any(ord(c) < 32 or ord(c) == 127 for c in value) else value


def parse_account_query(
    params: Mapping[str, str], options: Mapping[str, list[tuple[str, str]]] | None = None
) -> tuple[AccountQuery, dict[str, str]]:
    """The account query in ``params`` and a message per bad field (every one of them).

    A bad value is reported and left out of the query (the page still lists
    what the other parameters ask for). With ``options`` (the values the
    caller's book offers, :func:`filter_options`) a segment, owner or region
    not among them is reported as unknown.
    """
    errors: dict[str, str] = {}
    sort = params.get("sort", "name") or "name"
    if sort.removeprefix("-") not in ACCOUNT_SORTS:
        errors["sort"] = "Unknown sort order."
        sort = "name"
    page_text = params.get("page", "1") or "1"
    try:
        page = int(page_text) if len(page_text) <= 9 else 0
        if page < 1:
            raise ValueError
    except ValueError:
        errors["page"] = "The page must be a whole number from 1."
        page = 1
    band = params.get("band", "")
    if band and band not in insights.BANDS:
        errors["band"] = "Unknown health band."
        band = ""
    risk = params.get("risk", "")
    if risk and risk not in RISK_BANDS:
        errors["risk"] = N_("Unknown risk band.")
        risk = ""
    q = _clean_text(params.get("q", ""))
    if q is None:
        errors["q"] = N_("Remove control characters from the search.")
        q = ""
    elif len(q) > MAX_SEARCH:
        errors["q"] = N_("Search for at most 200 characters.")
        q = q[:MAX_SEARCH]
    chosen: dict[str, str] = {}
    for name in FILTERS:
        value = _clean_text(params.get(name, ""))
        known = {v for v, _ in options[name]} if options is not None else None
        if value is None or (value and known is not None and value not in known):
            errors[name] = _FILTER_ERRORS[name]
            value = ""
        chosen[name] = value
    query = AccountQuery(q=q, band=band, sort=sort, page=page, risk=risk, **chosen)
    return query, errors


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: str
    name: str
    segment: str | None
    region: str | None
    owner_id: str | None
    owner_name: str | None
    arr: Decimal | None
    health_score: float | None
    health_band: str | None
    stage: str | None
    renewal_date: date | None
    churn_probability: float | None = None
    risk_band: str | None = None


@dataclass
class AccountList:
    rows: list[AccountRow]
    total: int
    page: int
    pages: int
    as_of: date
    total_arr: Decimal | None
    options: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def _owner_names(platform: Platform) -> dict[str, str]:
    return {u.id: u.name for u in list_users(platform)}


def filter_options(platform: Platform, caller: Caller) -> dict[str, list[tuple[str, str]]]:
    """Values offered by the segment, owner and region filters (value, label).

    Only values of accounts the caller may read; kept with the book-wide facts.
    """
    options: dict[str, list[tuple[str, str]]] = insights._cache.get(
        insights._key(platform, "options", account_scope(caller)),
        lambda: _filter_options(platform, caller),
    )
    return options


def _filter_options(platform: Platform, caller: Caller) -> dict[str, list[tuple[str, str]]]:
    accounts = list_records(platform, caller, "accounts", limit=1_000_000).items
    names = _owner_names(platform)
    segments = sorted({a.segment for a in accounts if a.segment})
    regions = sorted({a.region for a in accounts if a.region})
    owners = sorted({a.owner_id for a in accounts if a.owner_id}, key=lambda o: names.get(o, o))
    return {
        "segment": [(s, s) for s in segments],
        "region": [(r, r) for r in regions],
        "owner": [(o, names.get(o, o)) for o in owners],
    }


def _sort_key(key: str) -> Any:
    def text(value: str | None) -> tuple[bool, str]:
        return (value is None, (value or "").lower())

    def number(value: Any) -> tuple[bool, float]:
        return (value is None, float(value) if value is not None else 0.0)

    keys: dict[str, Any] = {
        "name": lambda r: text(r.name),
        "segment": lambda r: text(r.segment),
        "region": lambda r: text(r.region),
        "owner": lambda r: text(r.owner_name),
        "stage": lambda r: text(r.stage),
        "arr": lambda r: number(r.arr),
        "health": lambda r: number(r.health_score),
        "renewal": lambda r: (r.renewal_date is None, r.renewal_date or date.min),
        "risk": lambda r: number(r.churn_probability),
    }
    return keys[key]


def account_rows(platform: Platform, caller: Caller, query: AccountQuery) -> list[AccountRow]:
    """Every account the caller may read that matches ``query``, in its sort order."""
    filters = {
        "segment": query.segment or None,
        "owner_id": query.owner or None,
        "region": query.region or None,
    }
    accounts = list_records(
        platform, caller, "accounts", filters=filters, search=query.q or None, limit=1_000_000
    ).items
    facts = insights.account_facts(platform)
    names = _owner_names(platform)
    risk = risk_views.risk_by_account(platform)
    rows = []
    for a in accounts:
        f = facts.get(a.id, insights.NO_FACTS)
        if query.band and f.health_band != query.band:
            continue
        p, risk_band = risk.get(a.id, (None, None))
        if query.risk and risk_band != query.risk:
            continue
        rows.append(
            AccountRow(
                id=a.id,
                name=a.name,
                segment=a.segment,
                region=a.region,
                owner_id=a.owner_id,
                owner_name=names.get(a.owner_id or "", a.owner_id),
                arr=f.arr,
                health_score=f.health_score,
                health_band=f.health_band,
                stage=f.stage,
                renewal_date=f.renewal_date,
                churn_probability=p,
                risk_band=risk_band,
            )
        )
    key = query.sort.removeprefix("-")
    # Missing values go last whichever the direction: sort present and missing apart.
    present = [r for r in rows if _sort_key(key)(r)[0] is False]
    missing = [r for r in rows if _sort_key(key)(r)[0] is True]
    present.sort(key=_sort_key(key), reverse=query.sort.startswith("-"))
    missing.sort(key=_sort_key("name"))
    return present + missing


def account_list(
    platform: Platform,
    caller: Caller,
    query: AccountQuery,
    options: dict[str, list[tuple[str, str]]] | None = None,
) -> AccountList:
    """One page of the account list with its totals and filter options."""
    rows = account_rows(platform, caller, query)
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(query.page, pages)
    arrs = [r.arr for r in rows if r.arr is not None]
    return AccountList(
        rows=rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        total=len(rows),
        page=page,
        pages=pages,
        as_of=platform.today(),
        total_arr=sum(arrs, Decimal(0)) if arrs else None,
        options=options if options is not None else filter_options(platform, caller),
    )


CSV_COLUMNS = (
    "id",
    "name",
    "segment",
    "region",
    "owner_id",
    "owner_name",
    "arr",
    "health_score",
    "health_band",
    "stage",
    "renewal_date",
)


def accounts_csv(rows: list[AccountRow]) -> str:
    """The rows as CSV (UTF-8, header row, ISO dates, plain decimal numbers)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        values = [getattr(r, c) for c in CSV_COLUMNS]
        writer.writerow(
            ["" if v is None else v.isoformat() if isinstance(v, date) else v for v in values]
        )
    return out.getvalue()


# -- the account 360 -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelineItem:
    """One thing that happened with the account, newest first on the page."""

    at: date
    kind: str  # meeting | call | email | note | ticket | nps | csat | milestone | stage
    title: str
    detail: str | None = None
    tone: str = ""  # "bad", "good" or "" to colour the entry


@dataclass
class Account360:
    account: Account
    owner_name: str | None
    can_write: bool
    facts: insights.AccountFacts
    contacts: list[Any]
    missing_roles: list[SuccessRole]
    contracts: list[Any]
    timeline: list[TimelineItem]
    lifecycle: lifecycle_views.LifecycleDetail | None


def check_account_id(account_id: str) -> None:
    """NotFound for ids no account can have (too long, control characters), before the store."""
    if len(account_id) > 64 or any(ord(c) < 32 for c in account_id):
        raise NotFound(f"no account {account_id.encode('unicode_escape').decode()[:80]}")


def _day(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value


def account_360(platform: Platform, caller: Caller, account_id: str) -> Account360:
    """Everything the account page shows; NotFound also outside the caller's book."""
    check_account_id(account_id)
    account = get_record(platform, caller, "accounts", account_id)

    def records(resource: str, sort: str) -> list[Any]:
        return list_records(
            platform,
            caller,
            resource,
            filters={"account_id": account_id},
            sort=sort,
            limit=10_000,
        ).items

    contacts = records("contacts", "name")
    contracts = records("contracts", "-start_date")
    tickets = records("tickets", "-opened_at")
    surveys = records("surveys", "-answered_at")
    activities = records("activities", "-activity_date")
    names = _owner_names(platform)
    roles = {SuccessRole(c.success_role) for c in contacts}
    if SuccessRole.FINAL_EVALUATOR in roles:
        roles.add(SuccessRole.EVALUATOR)
    missing = [r for r in REQUIRED_ROLES if r not in roles]

    timeline: list[TimelineItem] = []
    for act in activities:
        timeline.append(
            TimelineItem(
                at=act.activity_date,
                kind=str(act.kind),
                title=names.get(act.author_id or "", act.author_id or ""),
                detail=act.text,
            )
        )
    for t in tickets:
        timeline.append(
            TimelineItem(
                at=_day(t.opened_at),
                kind="ticket",
                title=t.subject or t.id,
                detail=f"{t.priority} · {t.status}",
                tone="bad" if str(t.priority) in ("high", "urgent") else "",
            )
        )
    for s in surveys:
        low = 6 if str(s.kind) == "nps" else 2
        high = 9 if str(s.kind) == "nps" else 4
        timeline.append(
            TimelineItem(
                at=_day(s.answered_at),
                kind=str(s.kind),
                title=str(s.score),
                detail=s.comment,
                tone="bad" if s.score <= low else "good" if s.score >= high else "",
            )
        )
    lifecycle = lifecycle_views.lifecycle_detail(platform, account_id)
    for item in lifecycle_views.lifecycle_timeline(lifecycle):
        timeline.append(
            TimelineItem(at=item.at, kind=item.kind, title=item.title, detail=item.detail)
        )
    timeline.sort(key=lambda i: i.at, reverse=True)
    return Account360(
        account=account,
        owner_name=names.get(account.owner_id or "", account.owner_id),
        can_write=can_write(caller, account.owner_id),
        facts=insights.account_facts(platform).get(account_id, insights.NO_FACTS),
        contacts=contacts,
        missing_roles=missing,
        contracts=contracts,
        timeline=timeline,
        lifecycle=lifecycle,
    )


# -- the portfolio dashboard -------------------------------------------------------

PERIODS = ("month", "quarter", "year")
#: A health drop of this many points over 30 days puts an account on the attention list.
ATTENTION_DROP = 10.0


def parse_portfolio_query(
    params: Mapping[str, str], options: Mapping[str, list[tuple[str, str]]] | None = None
) -> tuple[AccountQuery, str, dict[str, str]]:
    """Filters and period of the dashboard, and a message per bad field."""
    query, errors = parse_account_query(params, options)
    for ignored in ("sort", "page", "q", "band"):  # not parameters of these pages
        errors.pop(ignored, None)
    period = params.get("period", "quarter") or "quarter"
    if period not in PERIODS:
        errors["period"] = "Unknown period."
        period = "quarter"
    return replace(query, q="", band="", sort="name", page=1), period, errors


@dataclass(frozen=True, slots=True)
class Attention:
    row: AccountRow
    reasons: tuple[str, ...]  # "red", "drop", "overdue"
    change_30d: float | None


@dataclass
class Portfolio:
    as_of: date
    period: str
    accounts: int
    total_arr: Decimal | None
    band_counts: dict[str, int]
    band_arr: dict[str, Decimal]
    unscored: int
    stage_counts: list[tuple[str, int]]
    renewals_90: list[AccountRow]
    renewals_180: list[AccountRow]
    attention: list[Attention]
    #: False while overdue onboarding is still being computed (a fresh worker).
    onboarding_known: bool
    retention: retention_views.RetentionSummary | None
    health_trend: Chart | None
    options: dict[str, list[tuple[str, str]]]
    #: Date of the daily-run snapshot the figures come from (None: live-computed).
    figures_as_of: date | None = None
    #: ARR up for renewal, expected and at risk over these accounts (None: not scored).
    risk: dict[str, Any] | None = None


def portfolio(
    platform: Platform,
    caller: Caller,
    query: AccountQuery,
    period: str,
    options: dict[str, list[tuple[str, str]]] | None = None,
) -> Portfolio:
    """The dashboard over the accounts the caller may read that match the filters.

    Every figure counts the same accounts: those of :func:`account_rows` for
    the caller and the filters (ARR, bands, stages, renewals, attention, the
    health trend), and retention over a ledger with the same filters and book.
    """
    rows = account_rows(platform, caller, replace(query, band=""))
    facts = insights.account_facts(platform)
    overdue = lifecycle_views.overdue_milestones(platform)
    today = platform.today()
    band_counts = dict.fromkeys(insights.BANDS, 0)
    band_arr = dict.fromkeys(insights.BANDS, Decimal(0))
    stages: dict[str, int] = {}
    attention: list[Attention] = []
    for r in rows:
        f = facts.get(r.id, insights.NO_FACTS)
        if r.health_band in band_counts:
            band_counts[r.health_band] += 1
            band_arr[r.health_band] += r.arr or Decimal(0)
        if r.stage:
            stages[r.stage] = stages.get(r.stage, 0) + 1
        reasons = []
        if r.health_band == "red":
            reasons.append("red")
        if f.health_change_30d is not None and f.health_change_30d <= -ATTENTION_DROP:
            reasons.append("drop")
        if overdue and overdue.get(r.id):
            reasons.append("overdue")
        if reasons:
            attention.append(Attention(r, tuple(reasons), f.health_change_30d))
    # Most reasons first, then the biggest drop, then the most ARR at stake.
    attention.sort(
        key=lambda a: (-len(a.reasons), a.change_30d or 0.0, -(a.row.arr or 0), a.row.name)
    )
    renewing = sorted(
        (r for r in rows if r.renewal_date is not None and r.renewal_date >= today),
        key=lambda r: (r.renewal_date, r.name),
    )
    arrs = [r.arr for r in rows if r.arr is not None]
    return Portfolio(
        as_of=today,
        period=period,
        accounts=len(rows),
        total_arr=sum(arrs, Decimal(0)) if arrs else None,
        band_counts=band_counts,
        band_arr=band_arr,
        unscored=sum(1 for r in rows if r.health_band is None),
        stage_counts=sorted(stages.items(), key=lambda kv: (-kv[1], kv[0])),
        renewals_90=[r for r in renewing if (r.renewal_date - today).days <= 90],  # type: ignore[operator]
        renewals_180=[
            r
            for r in renewing
            if 90 < (r.renewal_date - today).days <= 180  # type: ignore[operator]
        ],
        attention=attention[:25],
        onboarding_known=overdue is not None,
        retention=retention_views.retention_summary(platform, caller, query, period),
        health_trend=insights.health_distribution_trend(platform, {r.id for r in rows}),
        options=options if options is not None else filter_options(platform, caller),
        figures_as_of=insights.figures_as_of(platform),
        risk=risk_views.arr_at_risk(platform, {r.id for r in rows}),
    )
