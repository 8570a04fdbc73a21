"""What the revenue pages show: the renewal centre, the pipeline, the framework, the growth plan.

The pages call the revenue services (a read of the opportunities) or read the
fifteen metrics the daily run saved (:mod:`kizuna.revenue.readmodel`); they
never compute a book-wide figure in a request.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from kizuna.auth.policy import Caller, account_scope
from kizuna.auth.users import list_users
from kizuna.customers.service import authorise_account, list_records
from kizuna.platform import Platform
from kizuna.revenue import (
    METRICS,
    OpportunityView,
    definition_for,
    list_opportunities,
    renewal_contexts,
)
from kizuna.revenue.access import OwnerChoice, owner_choices, readable_opportunity
from kizuna.revenue.forecast import AccuracyRow
from kizuna.revenue.growth import GrowthPlan, growth_plan
from kizuna.revenue.readmodel import (
    WINDOWS,
    RenewalCentre,
    read_framework,
    read_renewal_centre,
    renewal_rows,
    renewals_csv,
)
from kizuna.web.i18n import N_

#: Labels the revenue pages translate from data: deal types, forecast categories,
#: the default pipeline's stages, sources, the sales role, windows, metric categories.
REVENUE_MESSAGES = (
    N_("renewal"),
    N_("upsell"),
    N_("cross_sell"),
    N_("downsell"),
    N_("commit"),
    N_("best_case"),
    N_("pipeline"),
    N_("won"),
    N_("lost"),
    N_("qualify"),
    N_("discovery"),
    N_("proposal"),
    N_("negotiation"),
    N_("closed_won"),
    N_("closed_lost"),
    N_("automatic"),
    N_("cta"),
    N_("manual"),
    N_("crm"),
    N_("sales"),
    N_("window:quarter"),
    N_("window:year"),
    N_("window:last12"),
    N_("By month"),
    N_("By quarter"),
    N_("onboarding"),
    N_("adoption"),
    N_("expansion"),
    N_("retention"),
    N_("stage"),
    N_("opportunity"),
    N_("risk_model"),
    N_("decided"),
    N_("open"),
)

#: The fifteen metrics' names and definitions (``framework_metrics.yaml``) as msgids.
METRIC_MESSAGES = (
    N_("Time to value"),
    N_(
        "Median days from contract start to the first-value milestone, over accounts whose "
        "contract started in the period and reached it."
    ),
    N_("Activation rate"),
    N_(
        "Accounts that reached the activation milestone within the activation window ÷ accounts "
        "of the cohort whose outcome is known."
    ),
    N_("On-time onboarding rate"),
    N_(
        "Onboardings with every milestone done by the planned date ÷ onboardings whose outcome "
        "is known."
    ),
    N_("Adoption score"),
    N_(
        "Mean score (0–100) of the health scorecard's adoption group on the last health "
        "snapshot in the period."
    ),
    N_("Product and feature usage"),
    N_(
        "Accounts with product events in the last 28 days ÷ accounts with metric values, on the "
        "last computed date in the period; the mean feature breadth beside it."
    ),
    N_("User loyalty (NPS)"),
    N_(
        "Net Promoter Score of the NPS answers given in the period: the share of promoters "
        "(9–10) minus the share of detractors (0–6), times 100."
    ),
    N_("Expansion bookings"),
    N_(
        "ARR change of upsell and cross-sell opportunities won in the period, in the reporting "
        "currency."
    ),
    N_("Net new bookings"),
    N_(
        "ARR gained minus ARR lost in the period per the ARR ledger: new + reactivation + "
        "expansion − contraction − churn."
    ),
    N_("Value expansion rate"),
    N_("Expansion ARR of existing customers in the period ÷ ARR at the start of the period."),
    N_("Retention rate (GRR, NRR)"),
    N_("GRR = (start ARR − contraction − churn) ÷ start ARR; NRR adds expansion."),
    N_("Churn rate (logo, revenue)"),
    N_(
        "Logo churn = customers lost ÷ customers at the start; revenue churn = their start ARR "
        "÷ start ARR."
    ),
    N_("Customer health score distribution"),
    N_(
        "Accounts per health band (red, yellow, green) and the mean score on the last health "
        "snapshot in the period."
    ),
    N_("Resolution rate"),
    N_(
        "Support tickets opened in the period and solved or closed by its end ÷ tickets opened "
        "in the period."
    ),
    N_("Close rate"),
    N_("Opportunities won ÷ opportunities closed (won or lost) in the period."),
    N_("Final renewal rate"),
    N_(
        "ARR of contract lines ending in the period that renewed ÷ ARR renewed or lost (lines "
        "still open are left out)."
    ),
)


#: Renewals the page lists (the CSV download holds them all).
RENEWALS_SHOWN = 200
#: Success plan statuses and churn-risk bands beside a renewal, as msgids.
PLAN_STATUS_TEXT = {
    "on_track": N_("On track"),
    "at_risk": N_("At risk"),
    "off_track": N_("Off track"),
    "achieved": N_("Achieved"),
    "no_data": N_("No data yet"),
}
RISK_BAND_TEXT = {"high": N_("High"), "medium": N_("Medium"), "low": N_("Low")}


@dataclass(frozen=True)
class RenewalCentrePage:
    centre: RenewalCentre | None  # None: the daily run has not saved it yet
    accuracy: list[AccuracyRow]
    period: str


def _unit(period: str) -> Literal["month", "quarter"]:
    return "month" if period == "month" else "quarter"


def renewal_centre(platform: Platform, caller: Caller, period: str) -> RenewalCentrePage:
    """The renewal centre the daily run saved (the caller's accounts) and past accuracy."""
    today = platform.today()
    unit = _unit(period)
    own = account_scope(caller)
    centre = read_renewal_centre(
        platform.settings, today, unit, account_owner=own, limit=RENEWALS_SHOWN
    )
    # the accuracy of past quarters is book-wide history: the daily run saves it once a day
    saved = read_framework(platform.settings, today) if own is None else None
    accuracy = [
        AccuracyRow(
            period=r["period"],
            start=date.fromisoformat(r["start"]),
            end=date.fromisoformat(r["end"]),
            forecast_weighted=Decimal(str(r["forecast_weighted"])),
            forecast_commit=Decimal(str(r["forecast_commit"])),
            actual_won=Decimal(str(r["actual_won"])),
            actual_lost=Decimal(str(r["actual_lost"])),
            accuracy=r["accuracy"],
        )
        for r in ((saved or {}).get("accuracy") or [])
    ]
    return RenewalCentrePage(centre, accuracy, unit)


def renewals_download(platform: Platform, caller: Caller, period: str) -> str | None:
    """The saved renewal centre's rows in the caller's scope as CSV (None: not saved yet)."""
    rows = renewal_rows(
        platform.settings, platform.today(), _unit(period), account_owner=account_scope(caller)
    )
    return renewals_csv(rows) if rows is not None else None


@dataclass(frozen=True)
class StageColumn:
    stage: str
    probability: float
    forecast: str
    count: int
    amount: Decimal
    weighted: Decimal
    opportunities: list[OpportunityView]


def pipeline(platform: Platform, caller: Caller, kind: str | None) -> list[StageColumn]:
    """Open opportunities per stage of the pipeline, in pipeline order."""
    definition = definition_for(platform.settings.home)
    opps = list_opportunities(
        platform, definition, status="open", type=kind, account_owner=account_scope(caller)
    )
    by_stage: dict[str, list[OpportunityView]] = defaultdict(list)
    for o in opps:
        by_stage[o.stage].append(o)
    zero = Decimal("0.00")
    columns = []
    for st in definition.pipeline:
        if st.outcome != "open":
            continue
        rows = by_stage.get(st.id, [])
        columns.append(
            StageColumn(
                stage=st.id,
                probability=st.probability,
                forecast=st.forecast,
                count=len(rows),
                amount=sum((_amount(o) for o in rows), start=zero),
                weighted=sum((o.weighted_arr for o in rows), start=zero),
                opportunities=rows[:50],
            )
        )
    return columns


def _amount(o: OpportunityView) -> Decimal:
    if o.type == "renewal" and o.arr_total is not None:
        return o.arr_total
    return o.arr_change


@dataclass(frozen=True)
class PipelineForms:
    """What the pipeline's and an opportunity's forms offer: stages, owners, accounts."""

    open_stages: list[str]
    owners: list[OwnerChoice]
    accounts: list[tuple[str, str]]

    @property
    def owner_ids(self) -> set[str]:
        return {o.id for o in self.owners}

    @property
    def owner_names(self) -> dict[str, str]:
        return {o.id: o.name for o in self.owners}

    @property
    def owner_pairs(self) -> list[tuple[str, str]]:
        return [(o.id, o.name) for o in self.owners]

    @property
    def stage_pairs(self) -> list[tuple[str, str]]:
        return [(s, s) for s in self.open_stages]

    @property
    def type_pairs(self) -> list[tuple[str, str]]:
        return [(t, t) for t in ("renewal", "upsell", "cross_sell", "downsell")]


#: Accounts the "new opportunity" form suggests (a search field accepts any id).
ACCOUNT_SUGGESTIONS = 500


def pipeline_forms(platform: Platform, caller: Caller) -> PipelineForms:
    definition = definition_for(platform.settings.home)
    accounts = list_records(
        platform, caller, "accounts", sort="name", limit=ACCOUNT_SUGGESTIONS
    ).items
    return PipelineForms(
        open_stages=[s.id for s in definition.pipeline if s.outcome == "open"],
        owners=owner_choices(platform),
        accounts=[(a.id, a.name) for a in accounts],
    )


@dataclass(frozen=True)
class OpportunityPage:
    opportunity: OpportunityView
    account_name: str
    owner_names: dict[str, str]


def opportunity_page(platform: Platform, caller: Caller, opportunity_id: str) -> OpportunityPage:
    """One opportunity with its history, if the caller may read its account (else 404)."""
    view = readable_opportunity(platform, caller, opportunity_id)
    account = authorise_account(platform, caller, view.account_id, "opportunities")
    names = {u.id: u.name for u in list_users(platform)}
    return OpportunityPage(view, account.name, names)


def framework_page(platform: Platform, caller: Caller, window: str) -> dict[str, Any] | None:
    """The fifteen metrics of ``window`` as the daily run saved them (None: none saved).

    A CSM limited to their own book sees their book's figures (their group of the
    windows by owner), never the book-wide ones.
    """
    saved = read_framework(platform.settings, platform.today())
    if saved is None:
        return None
    window = window if window in WINDOWS else "quarter"
    own = account_scope(caller)
    if own is None:
        report = saved["windows"].get(window)
    else:
        report = _own_group(((saved.get("owner_windows") or {}).get(window)), own)
    if report is None:
        return None
    units = {m.id: m.unit for m in METRICS}
    names = {m.id: m.name["en"] for m in METRICS}
    definitions = {m.id: m.definition["en"] for m in METRICS}
    rows = []
    for i, m in enumerate(report["overall"]):
        rows.append(
            {
                "id": m["id"],
                "category": m["category"],
                "name": names[m["id"]],
                "definition": definitions[m["id"]],
                "unit": units[m["id"]],
                "value": m["value"],
                "parts": m["parts"],
                "groups": [g["metrics"][i]["value"] for g in report["groups"]],
            }
        )
    return {
        "own": own is not None,
        "as_of": date.fromisoformat(saved["as_of"]),
        "start": date.fromisoformat(report["start"]),
        "end": date.fromisoformat(report["end"]),
        "groups": [g["key"] for g in report["groups"]],
        "rows": rows,
        "health_as_of": report["health_as_of"],
        "metrics_as_of": report["metrics_as_of"],
    }


def _own_group(report: dict[str, Any] | None, owner_id: str) -> dict[str, Any] | None:
    """A saved by-owner report narrowed to one owner's group (all ``None`` without one)."""
    if report is None:
        return None
    mine = next((g for g in report["groups"] if g["key"] == owner_id), None)
    metrics = (
        mine["metrics"]
        if mine is not None
        else [{**m, "value": None, "parts": {}} for m in report["overall"]]
    )
    return {**report, "overall": metrics, "groups": []}


def growth_for(platform: Platform, caller: Caller, account_id: str) -> GrowthPlan:
    """The account's growth plan (the caller may read the account: checked here too)."""
    authorise_account(platform, caller, account_id, "growth-plan")
    return growth_plan(
        platform,
        definition_for(platform.settings.home),
        account_id,
        as_of=platform.today(),
        context=renewal_contexts(platform),
    )
