"""Success plans for the demo: enterprise and some mid-market accounts get a plan.

Each plan starts eight weeks before the demo's last day, with its KPIs
bound to metrics (baselines measured at the start), so the demo shows live
progress: an account whose usage grew is on track, one whose usage fell is off
track. The manual KPIs get a check-in and the meeting series their meetings in
line with how the account is doing — an account going badly has skipped its
latest meetings, and its evaluator has not heard from the team for a while.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa

from kizuna.metrics.service import compute_metrics
from kizuna.plans.evaluate import evaluate_plans
from kizuna.plans.progress import occurrence
from kizuna.plans.service import add_checkin, create_plan
from kizuna.platform import Platform
from kizuna.store.models import (
    Account,
    Activity,
    ActivityKind,
    Contact,
    ContractLine,
    SuccessRole,
)
from kizuna.store.plans_models import MeetingSeries, MilestoneState, Plan, PlanKpi, PlanMilestone

PLAN_DAYS = 56  # eight weeks in: a third of a six-month plan, two thirds of a three-month one


def seed_demo_plans(platform: Platform, as_of: date, *, mid_market_every: int = 2) -> int:
    """Create the demo's plans; returns how many. Computes the metrics it needs."""
    start = as_of - timedelta(days=PLAN_DAYS)
    compute_metrics(platform, [start, as_of])
    with platform.store.session() as session:
        rows = session.execute(
            sa.select(Account.id, Account.segment, Account.region)
            .where(Account.segment.in_(["enterprise", "mid-market"]))
            .where(sa.or_(Account.created_date.is_(None), Account.created_date <= start))
            .where(  # customers still under contract on the demo's last day
                Account.id.in_(
                    sa.select(ContractLine.account_id).where(
                        ContractLine.start_date <= start, ContractLine.end_date >= as_of
                    )
                )
            )
            .order_by(Account.id)
        ).all()
        evaluators = {
            a: c
            for a, c in session.execute(
                sa.select(Contact.account_id, Contact.id).where(
                    Contact.success_role == SuccessRole.EVALUATOR
                )
            )
        }
    created: list[str] = []
    mid = 0
    for account_id, segment, region in rows:
        if segment == "mid-market":
            mid += 1
            if mid % mid_market_every:
                continue
        template = "enterprise_high_touch" if segment == "enterprise" else "mid_market"
        language = "ja" if region == "APAC" else "en"
        created.append(
            create_plan(
                platform,
                account_id,
                template,
                start=start,
                language=language,
                plan_id=f"plan-{account_id}"[:64],
            )
        )
    if not created:
        return 0
    results = evaluate_plans(platform, as_of, plan_ids=created)
    with platform.store.session() as session:
        manual = list(
            session.execute(
                sa.select(PlanKpi.plan_id, PlanKpi.key, PlanKpi.baseline, PlanKpi.target).where(
                    PlanKpi.plan_id.in_(created), PlanKpi.metric.is_(None)
                )
            )
        )
        series = list(
            session.scalars(sa.select(MeetingSeries).where(MeetingSeries.plan_id.in_(created)))
        )
        accounts = dict(
            session.execute(sa.select(Plan.id, Plan.account_id).where(Plan.id.in_(created))).all()
        )
    # how far the account's usage KGI got against its line: >= 0 ahead, < 0 behind
    lead: dict[str, float] = {}
    got: dict[str, float] = {}
    for plan_id, r in results.items():
        kgi = r.kgi
        if kgi is None or kgi.progress is None:
            lead[plan_id], got[plan_id] = -1.0, 0.0
        else:
            lead[plan_id] = kgi.progress - kgi.expected_progress
            got[plan_id] = kgi.progress
    for plan_id, key, baseline, target in manual:
        # the team's own measures move with the account's usage
        share = min(1.0, max(0.0, got[plan_id]))
        value = round(baseline + (target - baseline) * share, 1)
        add_checkin(
            platform, plan_id, key, value=value, day=as_of - timedelta(days=7), by="Demo promoter"
        )
    activities = []
    seen_latest: set[str] = set()
    for s in series:
        behind = lead[s.plan_id] < -0.25
        account_id = accounts[s.plan_id]
        days = []
        k = 0
        while (day := occurrence(s.first_date, s.cadence.value, k)) <= as_of:
            days.append(day)
            k += 1
        if behind:  # an account going badly skipped its latest meetings
            days = days[:-2]
        for n, day in enumerate(days):
            contact = evaluators.get(account_id) if s.audience == "evaluator" else None
            activities.append(
                {
                    "id": f"{s.id}-{n}"[:64],
                    "account_id": account_id,
                    "kind": ActivityKind.MEETING,
                    "activity_date": min(day + timedelta(days=1), as_of),
                    "text": s.name,
                    "contact_id": contact,
                    "meeting_series_id": s.id,
                }
            )
    with platform.store.session() as session:
        # milestones already due: done on time, except the latest for an account going badly
        for m in session.scalars(
            sa.select(PlanMilestone)
            .where(PlanMilestone.plan_id.in_(created), PlanMilestone.due_date <= as_of)
            .order_by(PlanMilestone.plan_id, PlanMilestone.due_date.desc())
        ):
            latest = m.plan_id not in seen_latest
            seen_latest.add(m.plan_id)
            if latest and lead[m.plan_id] < -0.25:
                continue
            m.state = MilestoneState.DONE
            m.done_on = m.due_date
        for start_at in range(0, len(activities), 2000):
            session.execute(sa.insert(Activity), activities[start_at : start_at + 2000])
    return len(created)
