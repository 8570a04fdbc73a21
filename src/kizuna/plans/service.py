"""Service functions of success plans: create, read, check in, list, status history.

Functions here trust their caller (the CLI runs as the local operator); the
API and the UI go through :mod:`kizuna.plans.access`, which checks roles and
the account scope and writes the audit log before calling these.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kizuna.errors import Conflict, InvalidInput, NotFound, Problem
from kizuna.metrics.definitions import load_definitions
from kizuna.plans.evaluate import (
    KpiResult,
    PlanResult,
    evaluate_plans,
    metric_values_as_of,
)
from kizuna.plans.progress import (
    KpiStatus,
    PlanStatus,
    RankedInitiative,
    effective_order,
    missed_windows,
    next_meeting,
    occurrence,
    proposed_order,
)
from kizuna.plans.templates import PlanTemplate, get_template
from kizuna.platform import Platform
from kizuna.store.models import Account, Activity, ActivityKind, Contact, SuccessRole, TeamMember
from kizuna.store.plans_models import (
    Direction,
    MeetingSeries,
    MilestoneState,
    Plan,
    PlanCheckin,
    PlanChecklistItem,
    PlanInitiative,
    PlanIssue,
    PlanKpi,
    PlanMilestone,
    PlanRole,
    PlanState,
    PlanStatusSnapshot,
)

CUSTOMER_ROLES = (
    SuccessRole.EVALUATOR,
    SuccessRole.FINAL_EVALUATOR,
    SuccessRole.PROMOTER,
    SuccessRole.END_USER,
)
TOUCH_KINDS = (ActivityKind.MEETING, ActivityKind.CALL, ActivityKind.EMAIL)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _add_months(day: date, months: int) -> date:

    return occurrence(day, "monthly", months)


# -- creating a plan -----------------------------------------------------------


def metric_names(platform: Platform) -> set[str]:
    """Names of the metrics of the active definitions (a KPI may be bound to any)."""
    own = platform.settings.home / "metrics.yaml"
    return set(load_definitions(own if own.exists() else None).names)


def _target_from_template(kpi_baseline: float, t: Any, measured: float | None) -> float:
    """The template's target, or the measured baseline changed by ``target_change_pct``."""
    if measured is not None and t.target_change_pct is not None and measured != 0:
        target = float(measured) * (1 + t.target_change_pct / 100)
        if t.direction == "higher" and target > measured:
            return round(target, 4)
        if t.direction == "lower" and target < measured:
            return round(target, 4)
    if t.target != kpi_baseline and (t.direction == "higher") == (t.target > kpi_baseline):
        return float(t.target)
    step = max(1.0, abs(kpi_baseline) * 0.2)
    return kpi_baseline + step if t.direction == "higher" else kpi_baseline - step


def create_plan(
    platform: Platform,
    account_id: str,
    template_name: str,
    *,
    start: date | None = None,
    language: str | None = None,
    owner_id: str | None = None,
    plan_id: str | None = None,
    state: PlanState = PlanState.ACTIVE,
    previous_plan_id: str | None = None,
) -> str:
    """A new plan for ``account_id`` from a template; returns its id.

    Metric-bound KPIs take their baseline from the metric's value as of the
    start (the template's baseline when there is none yet). Refused when the
    account already has an active plan (close it first).
    """
    template = get_template(platform.settings, template_name)
    start = start or platform.today()
    language = language or "en"
    if language not in ("en", "ja"):
        raise InvalidInput("bad language", [Problem("use en or ja", field="language")])
    with platform.store.session() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise NotFound(f"no account {account_id}")
        if state is PlanState.ACTIVE and _active_plan_id(session, account_id):
            raise Conflict(f"account {account_id} already has an active plan; close it first")
        owner = owner_id or account.owner_id
    kpi_templates = [template.kgi] + [k for i in template.initiatives for k in i.kpis]
    wanted = {(account_id, k.metric) for k in kpi_templates if k.metric}
    measured = metric_values_as_of(platform, start, wanted)
    plan_id = plan_id or new_id("plan")
    end = _add_months(start, template.months)
    with platform.store.session() as session:
        plan = Plan(
            id=plan_id,
            account_id=account_id,
            template=template.name,
            title=template.label.in_(language),
            language=language,
            state=state,
            start_date=start,
            end_date=end,
            owner_id=owner,
            previous_plan_id=previous_plan_id,
        )
        session.add(plan)
        session.flush()
        _fill_from_template(session, plan, template, measured, language)
    return plan_id


def create_plans(
    platform: Platform,
    account_ids: list[str],
    template_name: str,
    *,
    start: date,
    language: str = "en",
    state: PlanState = PlanState.ACTIVE,
    previous: dict[str, str] | None = None,
) -> list[str]:
    """Plans for many accounts from one template in one transaction.

    Ids are ``plan-<account>`` for active plans; proposed plans get new ids and
    ``previous`` (account -> the plan they follow).

    Like :func:`create_plan` (metric baselines as of ``start``), with one read of
    the metric values for all of them. Accounts that already have an active plan
    are refused together (nothing is created).
    """
    template = get_template(platform.settings, template_name)
    kpi_templates = [template.kgi] + [k for i in template.initiatives for k in i.kpis]
    metrics = {k.metric for k in kpi_templates if k.metric}
    measured = metric_values_as_of(platform, start, {(a, m) for a in account_ids for m in metrics})
    end = _add_months(start, template.months)
    created = []
    with platform.store.session() as session:
        owners = {}
        for chunk in range(0, len(account_ids), 5000):
            ids = account_ids[chunk : chunk + 5000]
            owners.update(
                dict(
                    session.execute(
                        sa.select(Account.id, Account.owner_id).where(Account.id.in_(ids))
                    ).all()
                )
            )
            busy = session.scalars(
                sa.select(Plan.account_id).where(
                    Plan.account_id.in_(ids), Plan.state == PlanState.ACTIVE
                )
            ).first()
            if busy:
                raise Conflict(f"account {busy} already has an active plan; close it first")
        missing = [a for a in account_ids if a not in owners]
        if missing:
            raise NotFound(f"no account {missing[0]} (and {len(missing) - 1} more)")
        for account_id in account_ids:
            plan = Plan(
                id=f"plan-{account_id}"[:64] if state is PlanState.ACTIVE else new_id("plan"),
                account_id=account_id,
                template=template.name,
                title=template.label.in_(language),
                language=language,
                state=state,
                start_date=start,
                end_date=end,
                owner_id=owners[account_id],
                previous_plan_id=(previous or {}).get(account_id),
            )
            session.add(plan)
            session.flush()
            _fill_from_template(session, plan, template, measured, language)
            created.append(plan.id)
    return created


def _fill_from_template(
    session: Session,
    plan: Plan,
    template: PlanTemplate,
    measured: dict[tuple[str, str], tuple[float | None, date]],
    language: str,
) -> None:
    lang = language
    owner = plan.owner_id
    for r in template.vendor_roles:
        member = owner if r.role == "csm" else None
        session.add(PlanRole(plan_id=plan.id, role=r.role, member_id=member))
    for pos, c in enumerate(template.checklist):
        fp = c.failure_pattern.in_(lang) if c.failure_pattern else None
        session.add(
            PlanChecklistItem(
                plan_id=plan.id, position=pos, label=c.label.in_(lang), failure_pattern=fp
            )
        )
    for pos, row_t in enumerate(template.issues):
        session.add(
            PlanIssue(
                plan_id=plan.id,
                position=pos,
                business_issue=row_t.business_issue.in_(lang),
                problem=row_t.problem.in_(lang) if row_t.problem else None,
                solution=row_t.solution.in_(lang) if row_t.solution else None,
                benefit=row_t.benefit.in_(lang) if row_t.benefit else None,
            )
        )

    def kpi(t: Any, initiative_id: int | None, is_kgi: bool) -> PlanKpi:
        value = measured.get((plan.account_id, t.metric)) if t.metric else None
        known = value[0] if value and value[0] is not None and math.isfinite(value[0]) else None
        baseline = float(known) if known is not None else float(t.baseline)
        return PlanKpi(
            plan_id=plan.id,
            initiative_id=initiative_id,
            is_kgi=is_kgi,
            key=t.key,
            name=t.name.in_(lang),
            unit=t.unit,
            direction=Direction(t.direction),
            baseline=baseline,
            baseline_date=plan.start_date,
            target=_target_from_template(baseline, t, known),
            target_date=plan.end_date,
            evaluation_method=t.evaluation_method.in_(lang) if t.evaluation_method else None,
            metric=t.metric,
        )

    session.add(kpi(template.kgi, None, True))
    for i in template.initiatives:
        row = PlanInitiative(
            plan_id=plan.id,
            key=i.key,
            name=i.name.in_(lang),
            purpose=i.purpose.in_(lang) if i.purpose else None,
            approach=i.approach.in_(lang) if i.approach else None,
            extent=i.extent.in_(lang) if i.extent else None,
            impact=i.impact,
            difficulty=i.difficulty,
        )
        session.add(row)
        session.flush()
        for k in i.kpis:
            session.add(kpi(k, row.id, False))
    for m in template.milestones:
        session.add(
            PlanMilestone(
                plan_id=plan.id,
                name=m.name.in_(lang),
                due_date=plan.start_date + timedelta(days=m.due_days),
            )
        )
    for s in template.meetings:
        session.add(
            MeetingSeries(
                id=f"{plan.id}-{s.key}"[:64],
                plan_id=plan.id,
                name=s.name.in_(lang),
                cadence=s.cadence,
                audience=s.audience,
                first_date=plan.start_date + timedelta(days=s.first_days),
                last_date=plan.end_date,
            )
        )


# -- finding plans -------------------------------------------------------------


def _active_plan_id(session: Session, account_id: str) -> str | None:
    return session.scalar(
        sa.select(Plan.id).where(Plan.account_id == account_id, Plan.state == PlanState.ACTIVE)
    )


def plan_of_account(platform: Platform, account_id: str, plan_id: str | None = None) -> Plan:
    """The account's active plan (or the given one of its plans; else its newest)."""
    with platform.store.session() as session:
        if session.get(Account, account_id) is None:
            raise NotFound(f"no account {account_id}")
        if plan_id is not None:
            plan = session.get(Plan, plan_id)
            if plan is None or plan.account_id != account_id:
                raise NotFound(f"no plan {plan_id} for account {account_id}")
            return plan
        active = _active_plan_id(session, account_id)
        if active:
            plan = session.get(Plan, active)
        else:
            plan = session.scalars(
                sa.select(Plan)
                .where(Plan.account_id == account_id)
                .order_by(Plan.start_date.desc(), Plan.created_at.desc())
                .limit(1)
            ).first()
        if plan is None:
            raise NotFound(f"account {account_id} has no success plan")
        return plan


def get_plan(platform: Platform, plan_id: str) -> Plan:
    with platform.store.session() as session:
        plan = session.get(Plan, plan_id)
        if plan is None:
            raise NotFound(f"no plan {plan_id}")
        return plan


# -- the plan as of a date -----------------------------------------------------


@dataclass
class Warning:
    """Something about the plan a CSM should act on; ``kind`` names the rule."""

    #: no_evaluator, no_promoter, evaluator_not_touched, milestone_overdue, meeting_missed
    kind: str
    message: str
    contact_id: str | None = None
    days: int | None = None
    since: date | None = None


@dataclass
class MeetingView:
    id: str
    name: str
    cadence: str
    audience: str | None
    first_date: date
    last_date: date | None
    next_date: date | None
    last_held: date | None
    missed: bool
    missed_dates: list[date]


@dataclass
class InitiativeView:
    id: int
    key: str
    name: str
    purpose: str | None
    approach: str | None
    extent: str | None
    impact: int
    difficulty: int
    tie_break: int | None
    order_override: int | None
    proposed_rank: int
    position: int
    kpis: list[KpiResult] = field(default_factory=list)


@dataclass
class PlanView:
    """Everything a plan page, ``plan show`` or a document needs, as of a date."""

    plan: Plan
    account_name: str
    as_of: date
    status: PlanStatus
    contacts: dict[str, list[dict[str, Any]]]
    vendor_roles: list[dict[str, Any]]
    checklist: list[PlanChecklistItem]
    issues: list[PlanIssue]
    initiatives: list[InitiativeView]
    kgi: KpiResult | None
    kpis: list[KpiResult]
    checkins: dict[int, list[PlanCheckin]]
    milestones: list[dict[str, Any]]
    meetings: list[MeetingView]
    warnings: list[Warning]
    proposed_order: list[str]


def plan_view(platform: Platform, plan: Plan, as_of: date) -> PlanView:
    """The plan ``plan`` as of ``as_of``: KPIs, order, meetings, warnings and status."""
    result = evaluate_plans(platform, as_of, plan_ids=[plan.id])[plan.id]
    touch_days = platform.settings.plan_evaluator_touch_days
    with platform.store.session() as session:
        account = session.get(Account, plan.account_id)
        assert account is not None
        contacts: dict[str, list[dict[str, Any]]] = {r.value: [] for r in CUSTOMER_ROLES}
        contacts["other"] = []
        for c in session.scalars(
            sa.select(Contact).where(Contact.account_id == plan.account_id).order_by(Contact.name)
        ):
            role = c.success_role.value if c.success_role in CUSTOMER_ROLES else "other"
            contacts[role].append(
                {
                    "id": c.id,
                    "name": c.name,
                    "title": c.title,
                    "email": c.email,
                    "role": c.success_role.value,
                }
            )
        members = dict(session.execute(sa.select(TeamMember.id, TeamMember.name)).all())
        vendor = [
            {
                "id": r.id,
                "role": r.role,
                "member_id": r.member_id,
                "name": r.name or members.get(r.member_id or ""),
            }
            for r in session.scalars(
                sa.select(PlanRole).where(PlanRole.plan_id == plan.id).order_by(PlanRole.id)
            )
        ]
        checklist = list(
            session.scalars(
                sa.select(PlanChecklistItem)
                .where(PlanChecklistItem.plan_id == plan.id)
                .order_by(PlanChecklistItem.position, PlanChecklistItem.id)
            )
        )
        issues = list(
            session.scalars(
                sa.select(PlanIssue)
                .where(PlanIssue.plan_id == plan.id)
                .order_by(PlanIssue.position, PlanIssue.id)
            )
        )
        inits = list(
            session.scalars(sa.select(PlanInitiative).where(PlanInitiative.plan_id == plan.id))
        )
        checkins: dict[int, list[PlanCheckin]] = {}
        kpi_ids = [k.id for k in result.kpis] + ([result.kgi.id] if result.kgi else [])
        for checkin in session.scalars(
            sa.select(PlanCheckin)
            .where(PlanCheckin.kpi_id.in_(kpi_ids))
            .order_by(PlanCheckin.checkin_date, PlanCheckin.id)
        ):
            checkins.setdefault(checkin.kpi_id, []).append(checkin)
        milestones = [
            {
                "id": m.id,
                "name": m.name,
                "due_date": m.due_date,
                "state": m.state.value,
                "done_on": m.done_on,
                "overdue": m.state is MilestoneState.OPEN and m.due_date < as_of,
            }
            for m in session.scalars(
                sa.select(PlanMilestone)
                .where(PlanMilestone.plan_id == plan.id)
                .order_by(PlanMilestone.due_date, PlanMilestone.id)
            )
        ]
        series = list(
            session.scalars(
                sa.select(MeetingSeries)
                .where(MeetingSeries.plan_id == plan.id)
                .order_by(MeetingSeries.first_date, MeetingSeries.id)
            )
        )
        held: dict[str, list[date]] = {s.id: [] for s in series}
        if series:
            for sid, day in session.execute(
                sa.select(Activity.meeting_series_id, Activity.activity_date).where(
                    Activity.meeting_series_id.in_(list(held)),
                    Activity.kind == ActivityKind.MEETING,
                    Activity.activity_date <= as_of,
                )
            ):
                if sid is not None:
                    held[sid].append(day)
        evaluators = contacts[SuccessRole.EVALUATOR.value]
        last_touch: dict[str, date] = {}
        if evaluators:
            last_touch = {
                str(contact_id): day
                for contact_id, day in session.execute(
                    sa.select(Activity.contact_id, sa.func.max(Activity.activity_date))
                    .where(
                        Activity.contact_id.in_([e["id"] for e in evaluators]),
                        Activity.kind.in_(TOUCH_KINDS),
                        Activity.activity_date <= as_of,
                    )
                    .group_by(Activity.contact_id)
                )
            }
        account_name = account.name
        session.expunge_all()

    ranked = [
        RankedInitiative(i.key, i.impact, i.difficulty, i.tie_break, i.order_override)
        for i in inits
    ]
    proposal = proposed_order(ranked)
    order = effective_order(ranked)
    by_key = {i.key: i for i in inits}
    initiative_views = [
        InitiativeView(
            id=by_key[key].id,
            key=key,
            name=by_key[key].name,
            purpose=by_key[key].purpose,
            approach=by_key[key].approach,
            extent=by_key[key].extent,
            impact=by_key[key].impact,
            difficulty=by_key[key].difficulty,
            tie_break=by_key[key].tie_break,
            order_override=by_key[key].order_override,
            proposed_rank=proposal.index(key) + 1,
            position=pos + 1,
            kpis=[k for k in result.kpis if k.initiative_id == by_key[key].id],
        )
        for pos, key in enumerate(order)
    ]
    meetings = []
    for s in series:
        missed = missed_windows(s.first_date, s.cadence.value, as_of, held[s.id], s.last_date)
        past = [d for d in held[s.id]]
        meetings.append(
            MeetingView(
                id=s.id,
                name=s.name,
                cadence=s.cadence.value,
                audience=s.audience,
                first_date=s.first_date,
                last_date=s.last_date,
                next_date=next_meeting(s.first_date, s.cadence.value, as_of, s.last_date),
                last_held=max(past) if past else None,
                missed=bool(missed) and missed[-1] == _last_window(s, as_of),
                missed_dates=missed,
            )
        )
    warnings = _warnings(contacts, last_touch, touch_days, as_of, milestones, meetings)
    return PlanView(
        plan=plan,
        account_name=account_name,
        as_of=as_of,
        status=result.status,
        contacts=contacts,
        vendor_roles=vendor,
        checklist=checklist,
        issues=issues,
        initiatives=initiative_views,
        kgi=result.kgi,
        kpis=result.kpis,
        checkins=checkins,
        milestones=milestones,
        meetings=meetings,
        warnings=warnings,
        proposed_order=proposal,
    )


def _last_window(series: MeetingSeries, as_of: date) -> date | None:
    """The start of the latest window that has ended before ``as_of``."""

    last = None
    k = 0
    while occurrence(series.first_date, series.cadence.value, k + 1) <= as_of:
        start = occurrence(series.first_date, series.cadence.value, k)
        if series.last_date is not None and start > series.last_date:
            break
        last = start
        k += 1
    return last


def _warnings(
    contacts: dict[str, list[dict[str, Any]]],
    last_touch: dict[str, date],
    touch_days: int,
    as_of: date,
    milestones: list[dict[str, Any]],
    meetings: list[MeetingView],
) -> list[Warning]:
    out = []
    evaluators = contacts[SuccessRole.EVALUATOR.value]
    if not evaluators:
        out.append(Warning("no_evaluator", "no evaluator named among the account's contacts"))
    if not contacts[SuccessRole.PROMOTER.value]:
        out.append(Warning("no_promoter", "no promoter named among the account's contacts"))
    for e in evaluators:
        touched = last_touch.get(e["id"])
        if touched is None:
            out.append(
                Warning(
                    "evaluator_not_touched",
                    f"evaluator {e['name']} has no recorded meeting, call or e-mail",
                    contact_id=e["id"],
                )
            )
        elif (as_of - touched).days > touch_days:
            days = (as_of - touched).days
            out.append(
                Warning(
                    "evaluator_not_touched",
                    f"evaluator {e['name']} not touched for {days} days (since {touched})",
                    contact_id=e["id"],
                    days=days,
                    since=touched,
                )
            )
    for m in milestones:
        if m["overdue"]:
            out.append(
                Warning("milestone_overdue", f"milestone {m['name']} was due on {m['due_date']}")
            )
    for s in meetings:
        if s.missed:
            out.append(
                Warning(
                    "meeting_missed",
                    f"{s.name}: no meeting in the window starting {s.missed_dates[-1]}",
                    since=s.missed_dates[-1],
                )
            )
    return out


# -- check-ins -----------------------------------------------------------------


def find_kpi(session: Session, plan_id: str, kpi: str) -> PlanKpi:
    """A KPI of the plan by key, id or exact name."""
    rows = list(session.scalars(sa.select(PlanKpi).where(PlanKpi.plan_id == plan_id)))
    for row in rows:
        if row.key == kpi or str(row.id) == kpi:
            return row
    named = [r for r in rows if r.name == kpi]
    if len(named) == 1:
        return named[0]
    keys = ", ".join(r.key for r in rows)
    raise NotFound(f"no KPI {kpi!r} in plan {plan_id}; its KPIs: {keys}")


def add_checkin(
    platform: Platform,
    plan_id: str,
    kpi: str,
    *,
    value: float,
    day: date,
    by: str,
    note: str | None = None,
) -> PlanCheckin:
    """Record a manual measurement of a KPI (only KPIs without a metric take check-ins)."""
    problems = []
    if not math.isfinite(value):
        problems.append(Problem("must be a finite number", field="value", code="plan.finite"))
    if not by.strip():
        problems.append(Problem("say who measured it", field="by", code="plan.measured_by"))
    if problems:
        raise InvalidInput("cannot record the check-in", problems)
    with platform.store.session() as session:
        row = find_kpi(session, plan_id, kpi)
        if row.metric:
            raise InvalidInput(
                f"KPI {row.key} is measured by metric {row.metric}",
                [
                    Problem(
                        "a metric-bound KPI takes no check-ins",
                        field="kpi",
                        code="plan.no_checkins",
                    )
                ],
            )
        checkin = PlanCheckin(
            kpi_id=row.id, value=float(value), checkin_date=day, checked_by=by.strip(), note=note
        )
        session.add(checkin)
        session.flush()
        return checkin


# -- listing and status history ------------------------------------------------


@dataclass
class PlanSummary:
    plan_id: str
    account_id: str
    account_name: str
    title: str
    template: str
    state: str
    owner_id: str | None
    owner_name: str | None
    start_date: date
    end_date: date
    status: str | None  # None for plans that are not active (their last status is in history)
    next_meeting: date | None
    kpis_off_track: list[str]


def list_plans(
    platform: Platform,
    as_of: date,
    *,
    status: str | None = None,
    include_closed: bool = False,
    account_ids: set[str] | None = None,
    owner_id: str | None = None,
    segment: str | None = None,
) -> list[PlanSummary]:
    """Plans with their status as of ``as_of`` (active plans; ``include_closed`` adds the rest).

    ``status`` keeps active plans of that status. ``account_ids`` limits to a
    caller's readable accounts (None: all).
    """
    results = evaluate_plans(platform, as_of)
    with platform.store.session() as session:
        query = (
            sa.select(Plan, Account.name, TeamMember.name)
            .join(Account, Account.id == Plan.account_id)
            .outerjoin(TeamMember, TeamMember.id == Plan.owner_id)
        )
        if not include_closed:
            query = query.where(Plan.state == PlanState.ACTIVE)
        if owner_id:
            query = query.where(Plan.owner_id == owner_id)
        if segment:
            query = query.where(Account.segment == segment)
        rows = session.execute(query.order_by(Account.name, Plan.start_date)).all()
        series = list(session.scalars(sa.select(MeetingSeries)))
        session.expunge_all()
    next_by_plan: dict[str, date] = {}
    for s in series:
        nxt = next_meeting(s.first_date, s.cadence.value, as_of, s.last_date)
        if nxt is not None and (s.plan_id not in next_by_plan or nxt < next_by_plan[s.plan_id]):
            next_by_plan[s.plan_id] = nxt
    out = []
    for plan, account_name, owner_name in rows:
        if account_ids is not None and plan.account_id not in account_ids:
            continue
        result = results.get(plan.id)
        plan_status_value = result.status.value if result else None
        if status is not None and plan_status_value != status:
            continue
        off = [k.name for k in (result.kpis if result else []) if k.status is KpiStatus.OFF_TRACK]
        out.append(
            PlanSummary(
                plan_id=plan.id,
                account_id=plan.account_id,
                account_name=account_name,
                title=plan.title,
                template=plan.template,
                state=plan.state.value,
                owner_id=plan.owner_id,
                owner_name=owner_name,
                start_date=plan.start_date,
                end_date=plan.end_date,
                status=plan_status_value,
                next_meeting=next_by_plan.get(plan.id) if plan.state is PlanState.ACTIVE else None,
                kpis_off_track=off,
            )
        )
    return out


def plan_status_as_of(platform: Platform, as_of: date) -> dict[str, PlanResult]:
    """The status of every active plan as of ``as_of`` (for rules and scorecards)."""
    return evaluate_plans(platform, as_of)


@dataclass
class StatusRun:
    as_of: date
    plans: int
    by_status: dict[str, int]
    achieved: list[str]
    proposed: list[str]


def record_plan_status(
    platform: Platform, as_of: date, *, close_achieved: bool = True
) -> StatusRun:
    """Store every active plan's status as of ``as_of`` (replacing that date's rows).

    With ``close_achieved``, a plan whose KGI reached its target is marked
    achieved (closed on ``as_of``) and the next plan is proposed from the same
    template, starting the next day, its metric baselines measured then.
    """
    results = evaluate_plans(platform, as_of)
    by_status: dict[str, int] = {}
    rows = []
    for r in results.values():
        by_status[r.status.value] = by_status.get(r.status.value, 0) + 1
        rows.append(
            {
                "plan_id": r.plan_id,
                "as_of": as_of,
                "status": r.status.value,
                "kpis_on_track": r.count(KpiStatus.ON_TRACK),
                "kpis_at_risk": r.count(KpiStatus.AT_RISK),
                "kpis_off_track": r.count(KpiStatus.OFF_TRACK),
                "kpis_achieved": r.count(KpiStatus.ACHIEVED),
                "milestones_overdue": r.milestones_overdue,
            }
        )
    with platform.store.session() as session:
        ids = list(results)
        for start in range(0, len(ids), 5000):
            session.execute(
                sa.delete(PlanStatusSnapshot).where(
                    PlanStatusSnapshot.as_of == as_of,
                    PlanStatusSnapshot.plan_id.in_(ids[start : start + 5000]),
                )
            )
        if rows:
            session.execute(sa.insert(PlanStatusSnapshot), rows)
    achieved = [r.plan_id for r in results.values() if r.status is PlanStatus.ACHIEVED]
    proposed = _achieve(platform, achieved, as_of) if close_achieved and achieved else []
    return StatusRun(
        as_of=as_of,
        plans=len(results),
        by_status=by_status,
        achieved=achieved,
        proposed=proposed,
    )


def _achieve(platform: Platform, plan_ids: list[str], as_of: date) -> list[str]:
    """Close the achieved plans and propose each account's next plan (bulk, per template)."""
    groups: dict[tuple[str, str], dict[str, str]] = {}
    with platform.store.session() as session:
        for start in range(0, len(plan_ids), 5000):
            for plan in session.scalars(
                sa.select(Plan).where(Plan.id.in_(plan_ids[start : start + 5000]))
            ):
                plan.state = PlanState.ACHIEVED
                plan.closed_on = as_of
                groups.setdefault((plan.template, plan.language), {})[plan.account_id] = plan.id
    proposed = []
    for (template, language), previous in groups.items():
        try:
            proposed += create_plans(
                platform,
                list(previous),
                template,
                start=as_of + timedelta(days=1),
                language=language,
                state=PlanState.PROPOSED,
                previous=previous,
            )
        except NotFound:  # the template was removed since: the plans stay achieved, none proposed
            continue
    return proposed


def status_history(platform: Platform, plan_id: str) -> list[tuple[date, str]]:
    """The plan's stored statuses, oldest first."""
    with platform.store.session() as session:
        return [
            (day, status)
            for day, status in session.execute(
                sa.select(PlanStatusSnapshot.as_of, PlanStatusSnapshot.status)
                .where(PlanStatusSnapshot.plan_id == plan_id)
                .order_by(PlanStatusSnapshot.as_of)
            )
        ]


def set_plan_state(platform: Platform, plan_id: str, state: PlanState, on: date) -> Plan:
    """Activate a proposed plan, or close one (at most one active plan per account)."""
    with platform.store.session() as session:
        plan = session.get(Plan, plan_id)
        if plan is None:
            raise NotFound(f"no plan {plan_id}")
        if state is PlanState.ACTIVE and plan.state is not PlanState.ACTIVE:
            other = _active_plan_id(session, plan.account_id)
            if other:
                raise Conflict(f"account {plan.account_id} already has an active plan {other}")
            plan.closed_on = None
        elif state in (PlanState.CLOSED, PlanState.ACHIEVED):
            plan.closed_on = plan.closed_on or on
        plan.state = state
        session.flush()
        return plan
