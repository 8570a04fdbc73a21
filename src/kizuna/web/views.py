"""View models of the UI's store-backed pages: the account list and the account 360.

These functions turn query parameters into checked queries (every problem
reported, per field) and call the core services (:mod:`kizuna.customers`,
:mod:`kizuna.auth`) and :mod:`kizuna.web.insights` for computed figures. Route
handlers only parse the request, call one of these and render.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from kizuna.auth.policy import Caller, account_scope, can_write
from kizuna.auth.users import list_users
from kizuna.customers import get_record, list_records
from kizuna.dataio.spreadsheet import spreadsheet_csv
from kizuna.errors import NotFound
from kizuna.labels import Label
from kizuna.platform import Platform
from kizuna.portfolio import (
    ATTENTION_REASONS,
    BANDS,
    attention_reasons,
    dropped,
    survey_band,
    survey_tone,
)
from kizuna.store.models import Account, SuccessRole
from kizuna.web import insights, lifecycle_views, retention_views, risk_views
from kizuna.web.i18n import N_
from kizuna.web.insights import Figures

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
    #: Lifecycle stage id.
    stage: str = ""
    #: Renewal window: "90" (due in the next 90 days) or "180" (in 91 to 180 days).
    renewal: str = ""
    #: 30-day health trend: "drop" (the attention rule's drop), "down" or "up".
    trend: str = ""
    #: Attention reason ("red", "drop", "overdue") or "any".
    attention: str = ""
    #: Retention cohort (month of the first ARR, "2025-03") and, with it, the months
    #: since start at which the account still had ARR (a heat map cell).
    cohort: str = ""
    retained: str = ""
    #: An ARR movement ("churn", "new", ...) in a month ("2025-03"): a bar of the movements chart.
    movement: str = ""
    month: str = ""
    sort: str = "name"
    page: int = 1
    risk: str = ""

    def params(self, **changes: Any) -> dict[str, Any]:
        """Query-string parameters of this query with ``changes`` applied."""
        data = replace(self, **changes).__dict__
        return {k: v for k, v in data.items() if v not in ("", None) and (k, v) != ("page", 1)}


MAX_SEARCH = 200
FILTERS = ("segment", "owner", "region")
#: Renewal windows of the account list: (first, last) days from today.
RENEWAL_WINDOWS = {"90": (0, 90), "180": (91, 180)}
TRENDS = ("drop", "down", "up")
MOVEMENTS = ("new", "expansion", "contraction", "churn", "reactivation")
_COHORT = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
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
    if band and band not in BANDS:
        errors["band"] = N_("Unknown health band.")
        band = ""
    drill = _parse_drill(params, errors)
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
    query = AccountQuery(q=q, band=band, sort=sort, page=page, risk=risk, **chosen, **drill)
    return query, errors


def _parse_drill(params: Mapping[str, str], errors: dict[str, str]) -> dict[str, str]:
    """The drill-down filters (stage, renewal window, trend, attention, cohort cell)."""
    out = {}
    stage = _clean_text(params.get("stage", ""))
    if stage is None or len(stage) > 64:
        errors["stage"] = N_("Unknown stage.")
        stage = ""
    out["stage"] = stage
    checks = {
        "renewal": (tuple(RENEWAL_WINDOWS), N_("Unknown renewal window.")),
        "trend": (TRENDS, N_("Unknown health trend.")),
        "attention": ((*ATTENTION_REASONS, "any"), N_("Unknown attention reason.")),
    }
    for name, (allowed, message) in checks.items():
        value = params.get(name, "")
        if value and value not in allowed:
            errors[name] = message
            value = ""
        out[name] = value
    cohort = params.get("cohort", "")
    if cohort and not _COHORT.match(cohort):
        errors["cohort"] = N_("Give the cohort as a month like 2025-03.")
        cohort = ""
    retained = params.get("retained", "")
    if retained and (not retained.isdigit() or len(retained) > 3 or not cohort):
        errors["retained"] = N_("Months since start must be a whole number, with a cohort.")
        retained = ""
    out["cohort"], out["retained"] = cohort, retained
    movement, month = params.get("movement", ""), params.get("month", "")
    if movement and movement not in MOVEMENTS:
        errors["movement"] = N_("Unknown ARR movement.")
        movement = ""
    if month and not _COHORT.match(month):
        errors["month"] = N_("Give the month like 2025-03.")
        month = ""
    out["movement"], out["month"] = movement, month
    return out


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
    health_change_30d: float | None = None
    attention: tuple[str, ...] = ()
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
    #: Label of every stage id (the definition's stages and any id found on a row).
    stages: dict[str, Label] = field(default_factory=dict)


def _owner_names(platform: Platform) -> dict[str, str]:
    return {u.id: u.name for u in list_users(platform)}


def filter_options(figures: Figures, caller: Caller) -> dict[str, list[tuple[str, str]]]:
    """Values offered by the segment, owner and region filters (value, label).

    Only values of accounts the caller may read; kept with the book-wide facts.
    """
    options: dict[str, list[tuple[str, str]]] = figures.facts.get(
        figures.key("options", account_scope(caller)),
        lambda: _filter_options(figures.platform, caller),
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


def account_rows(figures: Figures, caller: Caller, query: AccountQuery) -> list[AccountRow]:
    """Every account the caller may read that matches ``query``, in its sort order."""
    platform = figures.platform
    filters = {
        "segment": query.segment or None,
        "owner_id": query.owner or None,
        "region": query.region or None,
    }
    accounts = list_records(
        platform, caller, "accounts", filters=filters, search=query.q or None, limit=1_000_000
    ).items
    facts = insights.account_facts(figures)
    names = _owner_names(platform)
    keep = _drill_filter(figures, query)
    risk = risk_views.risk_by_account(platform)
    rows = []
    for a in accounts:
        f = facts.get(a.id, insights.NO_FACTS)
        if query.band and f.health_band != query.band:
            continue
        if keep is not None and not keep(a.id, f):
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
                health_change_30d=f.health_change_30d,
                attention=f.attention,
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


def _drill_filter(figures: Figures, query: AccountQuery) -> Any:
    """A predicate ``(account_id, facts)`` for the drill-down filters (None: none set).

    Each aggregate of the portfolio and retention pages links to the account list
    with these filters, so the list holds exactly the accounts it counted.
    """
    platform = figures.platform
    if not any(getattr(query, name) for name in DRILL_PARAMS):
        return None
    today = platform.today()
    window = RENEWAL_WINDOWS.get(query.renewal)
    overdue = lifecycle_views.overdue_milestones(figures) if query.attention else None
    cell = _cohort_cell(figures, query) if query.retained else None
    moved = _moved(figures, query) if query.movement or query.month else None

    def keep(account_id: str, f: insights.AccountFacts) -> bool:
        if query.stage and f.stage != query.stage:
            return False
        if window is not None:
            days = (f.renewal_date - today).days if f.renewal_date is not None else None
            if days is None or not window[0] <= days <= window[1]:
                return False
        if query.trend:
            change = f.health_change_30d
            if change is None:
                return False
            if query.trend == "drop" and not dropped(change):
                return False
            if query.trend == "down" and change >= 0:
                return False
            if query.trend == "up" and change <= 0:
                return False
        if query.attention:
            reasons = attention_of(account_id, f, overdue)
            if not reasons or (query.attention != "any" and query.attention not in reasons):
                return False
        if query.cohort and f.cohort != query.cohort:
            return False
        if moved is not None and account_id not in moved:
            return False
        return cell is None or account_id in cell

    return keep


def attention_of(
    account_id: str, f: insights.AccountFacts, overdue: Mapping[str, int] | None
) -> tuple[str, ...]:
    """The account's attention reasons as the domain decided them (:func:`attention_reasons`).

    The daily run's snapshot holds the decision; live figures lack overdue onboarding
    until the book-wide onboarding report is ready (``overdue``), so it is added then.
    """
    if f.overdue_milestones is not None or overdue is None:
        return f.attention
    return attention_reasons(f.health_band, f.health_change_30d, overdue.get(account_id))


def _moved(figures: Figures, query: AccountQuery) -> set[str]:
    """Accounts with the query's ARR movement (any, if not given) in its month (any of the
    last twelve, if not given)."""
    moves = insights.monthly_movements(figures) or []
    return {
        m.account_id
        for m in moves
        if (not query.movement or m.movement == query.movement)
        and (not query.month or m.period_end.isoformat()[:7] == query.month)
    }


def _cohort_cell(figures: Figures, query: AccountQuery) -> set[str] | None:
    """Accounts with ARR at the end of month ``retained`` since their cohort's month."""
    book = insights.arr_book(figures)
    if book is None:
        return set()
    year, month = int(query.cohort[:4]), int(query.cohort[5:7])
    index = year * 12 + month - 1 + int(query.retained)
    target = (index // 12, index % 12 + 1)
    col = next((i for i, m in enumerate(book.months) if (m.year, m.month) == target), None)
    if col is None:
        return set()
    return {a for a, series in book.history.items() if series[col] > 0}


def account_list(
    figures: Figures,
    caller: Caller,
    query: AccountQuery,
    options: dict[str, list[tuple[str, str]]] | None = None,
) -> AccountList:
    """One page of the account list with its totals and filter options."""
    platform = figures.platform
    rows = account_rows(figures, caller, query)
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
        options=options if options is not None else filter_options(figures, caller),
        stages=stage_labels(platform, {r.stage for r in rows if r.stage}),
    )


def stage_labels(platform: Platform, found: set[str] = frozenset()) -> dict[str, Label]:  # type: ignore[assignment]
    """Labels of the definition's stages, in its order, then of other ``found`` ids."""
    definition = lifecycle_views.definition_of(platform)
    labels = {s.id: s.label for s in definition.stages}
    for stage in sorted(found - set(labels)):
        labels[stage] = definition.stage_label(stage)
    return labels


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
    """The rows as CSV for a spreadsheet (header row, ISO dates, figures rounded by
    :func:`csv_figure`; text that a spreadsheet would run as a formula is neutralised)."""
    return spreadsheet_csv(
        CSV_COLUMNS, ([csv_figure(getattr(r, c)) for c in CSV_COLUMNS] for r in rows)
    )


def csv_figure(value: Any) -> Any:
    """A cell of a download: dates in ISO form, scores to one decimal, money to the cent."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 1)
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"))
    return value


def excel_csv(text: str) -> bytes:
    """CSV text as UTF-8 with a byte order mark: Excel then opens Japanese text correctly."""
    return "\ufeff".encode() + text.encode("utf-8")


# -- the account 360 -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelineItem:
    """One thing that happened with the account, newest first on the page."""

    at: date
    kind: str  # meeting | call | email | note | ticket | nps | csat | milestone | stage
    title: str | Label
    detail: str | None = None
    tone: str = ""  # "bad", "good" or "" to colour the entry
    #: Identifiers shown in words (a ticket's priority and status; a survey answer's band).
    terms: tuple[str | Label, ...] = ()


@dataclass
class Account360:
    account: Account
    owner_name: str | None
    can_write: bool
    facts: insights.AccountFacts
    stage_label: Label | None
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


def account_360(figures: Figures, caller: Caller, account_id: str) -> Account360:
    """Everything the account page shows; NotFound also outside the caller's book."""
    platform = figures.platform
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
                terms=(str(t.priority), str(t.status)),
                tone="bad" if str(t.priority) in ("high", "urgent") else "",
            )
        )
    for s in surveys:
        band = survey_band(str(s.kind), s.score)
        timeline.append(
            TimelineItem(
                at=_day(s.answered_at),
                kind=str(s.kind),
                title=str(s.score),
                detail=s.comment,
                tone=survey_tone(str(s.kind), s.score),
                terms=(band.label,) if band is not None else (),
            )
        )
    lifecycle = lifecycle_views.lifecycle_detail(figures, account_id)
    definition = lifecycle_views.definition_of(platform)
    for item in lifecycle_views.lifecycle_timeline(lifecycle, definition):
        timeline.append(
            TimelineItem(at=item.at, kind=item.kind, title=item.title, detail=item.detail)
        )
    facts = insights.account_facts(figures).get(account_id, insights.NO_FACTS)
    timeline.sort(key=lambda i: i.at, reverse=True)
    return Account360(
        account=account,
        owner_name=names.get(account.owner_id or "", account.owner_id),
        can_write=can_write(caller, account.owner_id),
        facts=facts,
        stage_label=definition.stage_label(facts.stage) if facts.stage else None,
        contacts=contacts,
        missing_roles=missing,
        contracts=contracts,
        timeline=timeline,
        lifecycle=lifecycle,
    )


# -- the portfolio dashboard -------------------------------------------------------

PERIODS = ("month", "quarter", "year")
#: Rows a portfolio list shows before it links to the whole list.
LIST_CAP = 25
DRILL_PARAMS = (
    "stage",
    "renewal",
    "trend",
    "attention",
    "cohort",
    "retained",
    "movement",
    "month",
)


def parse_portfolio_query(
    params: Mapping[str, str], options: Mapping[str, list[tuple[str, str]]] | None = None
) -> tuple[AccountQuery, str, dict[str, str]]:
    """Filters and period of the dashboard, and a message per bad field."""
    query, errors = parse_account_query(params, options)
    for ignored in ("sort", "page", "q", "band", *DRILL_PARAMS):  # not parameters of these pages
        errors.pop(ignored, None)
    period = params.get("period", "quarter") or "quarter"
    if period not in PERIODS:
        errors["period"] = "Unknown period."
        period = "quarter"
    cleared = dict.fromkeys(DRILL_PARAMS, "")
    return replace(query, q="", band="", sort="name", page=1, **cleared), period, errors


@dataclass(frozen=True, slots=True)
class Attention:
    row: AccountRow
    reasons: tuple[str, ...]  # ids of kizuna.portfolio.ATTENTION_REASONS
    change_30d: float | None


@dataclass(frozen=True, slots=True)
class Capped:
    """The first rows of a longer list, and how many there are in all."""

    rows: list[Any]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


@dataclass
class Portfolio:
    as_of: date
    period: str
    accounts: int
    total_arr: Decimal | None
    band_counts: dict[str, int]
    band_arr: dict[str, Decimal]
    unscored: int
    #: (stage id, its label, accounts), most accounts first.
    stage_counts: list[tuple[str, Label, int]]
    renewals_90: Capped
    renewals_180: Capped
    attention: Capped
    #: Accounts with overdue onboarding milestones (None: still being computed).
    overdue_onboarding: int | None
    #: False while overdue onboarding is still being computed (a fresh worker).
    onboarding_known: bool
    retention: retention_views.RetentionSummary | None
    health_trend: insights.BandTrend | None
    options: dict[str, list[tuple[str, str]]]
    #: Date of the daily-run snapshot the figures come from (None: live-computed).
    figures_as_of: date | None = None
    #: ARR up for renewal, expected and at risk over these accounts (None: not scored).
    risk: dict[str, Any] | None = None


def _at_stake(row: AccountRow) -> tuple[Decimal, date]:
    """Sort key: most ARR at stake first, then the earliest renewal."""
    return (-(row.arr or Decimal(0)), row.renewal_date or date.max)


def portfolio(
    figures: Figures,
    caller: Caller,
    query: AccountQuery,
    period: str,
    options: dict[str, list[tuple[str, str]]] | None = None,
) -> Portfolio:
    """The dashboard over the accounts the caller may read that match the filters.

    Every figure counts the same accounts: those of :func:`account_rows` for
    the caller and the filters (ARR, bands, stages, renewals, attention, the
    health trend), and retention over a ledger with the same filters and book.
    Who needs attention and why is the domain's decision
    (:func:`kizuna.portfolio.attention_reasons`, saved by the daily run).
    """
    platform = figures.platform
    rows = account_rows(figures, caller, replace(query, band=""))
    facts = insights.account_facts(figures)
    overdue = lifecycle_views.overdue_milestones(figures)
    today = platform.today()
    band_counts = dict.fromkeys(BANDS, 0)
    band_arr = dict.fromkeys(BANDS, Decimal(0))
    stages: dict[str, int] = {}
    attention: list[Attention] = []
    late = 0
    for r in rows:
        f = facts.get(r.id, insights.NO_FACTS)
        if r.health_band in band_counts:
            band_counts[r.health_band] += 1
            band_arr[r.health_band] += r.arr or Decimal(0)
        if r.stage:
            stages[r.stage] = stages.get(r.stage, 0) + 1
        reasons = attention_of(r.id, f, overdue)
        if "overdue" in reasons:
            late += 1
        if reasons:
            attention.append(Attention(r, reasons, f.health_change_30d))
    attention.sort(key=lambda a: (*_at_stake(a.row), a.row.name))
    renewing = sorted(
        (r for r in rows if r.renewal_date is not None and r.renewal_date >= today),
        key=lambda r: (*_at_stake(r), r.name),
    )
    arrs = [r.arr for r in rows if r.arr is not None]
    definition = lifecycle_views.definition_of(platform)
    due_90 = [r for r in renewing if (r.renewal_date - today).days <= 90]  # type: ignore[operator]
    due_180 = [r for r in renewing if 90 < (r.renewal_date - today).days <= 180]  # type: ignore[operator]
    return Portfolio(
        as_of=today,
        period=period,
        accounts=len(rows),
        total_arr=sum(arrs, Decimal(0)) if arrs else None,
        band_counts=band_counts,
        band_arr=band_arr,
        unscored=sum(1 for r in rows if r.health_band is None),
        stage_counts=[
            (stage, definition.stage_label(stage), n)
            for stage, n in sorted(stages.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        renewals_90=Capped(due_90[:LIST_CAP], len(due_90)),
        renewals_180=Capped(due_180[:LIST_CAP], len(due_180)),
        attention=Capped(attention[:LIST_CAP], len(attention)),
        overdue_onboarding=late if overdue is not None or facts_have_overdue(facts) else None,
        onboarding_known=overdue is not None or facts_have_overdue(facts),
        retention=retention_views.retention_summary(figures, caller, query, period),
        # No account matches: the page says so rather than draw a chart of zeros.
        health_trend=insights.health_distribution_trend(figures, {r.id for r in rows})
        if rows
        else None,
        options=options if options is not None else filter_options(figures, caller),
        figures_as_of=insights.figures_as_of(figures),
        risk=risk_views.arr_at_risk(platform, {r.id for r in rows}),
    )


def facts_have_overdue(facts: Mapping[str, insights.AccountFacts]) -> bool:
    """Whether the facts come with overdue onboarding decided (the daily run's snapshot)."""
    return any(f.overdue_milestones is not None for f in facts.values())
