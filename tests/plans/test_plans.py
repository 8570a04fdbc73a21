"""Success plans on a hand-built account, with hand-computed values (SQLite and PostgreSQL).

The plan ``p1`` of account ``acme`` runs 2025-01-01 → 2025-05-01 (120 days):

* KGI ``churn_tickets`` (manual, lower is better): baseline 100, target 50;
* KPI ``logins`` bound to metric ``logins_28d``: baseline 10, target 110;
* KPI ``hours`` (manual): baseline 0, target 10.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
import yaml

from kizuna.errors import InvalidInput
from kizuna.metrics.store import write_values
from kizuna.plans import (
    KpiStatus,
    PlanStatus,
    Tolerances,
    add_checkin,
    create_plan,
    effective_order,
    evaluate_plans,
    export_plan,
    export_yaml,
    import_plan_data,
    missed_windows,
    next_meeting,
    plan_status,
    plan_view,
    proposed_order,
    record_plan_status,
    status_history,
)
from kizuna.plans.progress import RankedInitiative, kpi_status
from kizuna.plans.service import get_plan, list_plans
from kizuna.platform import Platform
from kizuna.store.models import Account, Activity, ActivityKind, Contact, SuccessRole, TeamMember
from kizuna.store.plans_models import Plan, PlanState, PlanStatusSnapshot

START, END = date(2025, 1, 1), date(2025, 5, 1)


def plan_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kizuna_plan": 1,
        "id": "p1",
        "account_id": "acme",
        "template": "enterprise_high_touch",
        "title": "Acme plan",
        "language": "en",
        "state": "active",
        "start_date": START,
        "end_date": END,
        "owner_id": "carl",
        "closed_on": None,
        "previous_plan_id": None,
        "vendor_roles": [{"role": "csm", "member_id": "carl", "name": None}],
        "checklist": [
            {
                "label": "Kick-off held",
                "failure_pattern": "No evaluator",
                "done": True,
                "done_on": date(2025, 1, 10),
                "note": "with Eve",
            }
        ],
        "issues": [
            {
                "business_issue": "Slow",
                "problem": "Manual",
                "solution": "Reports",
                "benefit": "Fast",
            }
        ],
        "kgi": {
            "key": "churn_tickets",
            "name": "Tickets per month",
            "unit": "tickets",
            "direction": "lower",
            "baseline": 100.0,
            "baseline_date": START,
            "target": 50.0,
            "target_date": END,
            "evaluation_method": "Helpdesk count",
            "metric": None,
            "checkins": [],
        },
        "initiatives": [
            {
                "key": "reporting",
                "name": "Reporting",
                "purpose": None,
                "approach": None,
                "extent": None,
                "impact": 5,
                "difficulty": 2,
                "tie_break": None,
                "order_override": None,
                "kpis": [
                    {
                        "key": "logins",
                        "name": "Logins",
                        "unit": "logins",
                        "direction": "higher",
                        "baseline": 10.0,
                        "baseline_date": START,
                        "target": 110.0,
                        "target_date": END,
                        "evaluation_method": None,
                        "metric": "logins_28d",
                        "checkins": [],
                    }
                ],
            },
            {
                "key": "api",
                "name": "API",
                "purpose": None,
                "approach": None,
                "extent": None,
                "impact": 3,
                "difficulty": 4,
                "tie_break": None,
                "order_override": None,
                "kpis": [
                    {
                        "key": "hours",
                        "name": "Hours saved",
                        "unit": "hours",
                        "direction": "higher",
                        "baseline": 0.0,
                        "baseline_date": START,
                        "target": 10.0,
                        "target_date": END,
                        "evaluation_method": "Reported",
                        "metric": None,
                        "checkins": [],
                    }
                ],
            },
        ],
        "milestones": [
            {"name": "Kick-off", "due_date": date(2025, 1, 14), "state": "done", "done_on": None},
            {
                "name": "Reports live",
                "due_date": date(2025, 2, 14),
                "state": "open",
                "done_on": None,
            },
        ],
        "meetings": [
            {
                "id": "ms-users",
                "name": "Weekly with users",
                "cadence": "weekly",
                "audience": "end_user",
                "first_date": date(2025, 1, 6),
                "last_date": END,
            },
            {
                "id": "ms-eval",
                "name": "Monthly with the evaluator",
                "cadence": "monthly",
                "audience": "evaluator",
                "first_date": date(2025, 1, 31),
                "last_date": END,
            },
        ],
    }
    data.update(changes)
    return data


def seed(platform: Platform, *, evaluator: bool = True, promoter: bool = True) -> None:
    with platform.store.session() as s:
        s.add(TeamMember(id="carl", name="Carl CSM", email="carl@example.com"))
        s.flush()
        s.add(Account(id="acme", name="Acme Corp", segment="enterprise", owner_id="carl"))
        s.flush()
        if evaluator:
            s.add(
                Contact(id="eve", account_id="acme", name="Eve", success_role=SuccessRole.EVALUATOR)
            )
        if promoter:
            s.add(
                Contact(id="pat", account_id="acme", name="Pat", success_role=SuccessRole.PROMOTER)
            )
        s.add(Contact(id="uma", account_id="acme", name="Uma", success_role=SuccessRole.END_USER))


def metric_values(platform: Platform, rows: list[tuple[date, str, float | None]]) -> None:
    wide = pa.table(
        {
            "as_of": pa.array([r[0] for r in rows], pa.date32()),
            "account_id": [r[1] for r in rows],
            "logins_28d": pa.array([r[2] for r in rows], pa.float64()),
        }
    )
    write_values(platform.settings.home, wide, ["logins_28d"])


def activity(platform: Platform, aid: str, day: date, kind: ActivityKind, **extra: Any) -> None:
    with platform.store.session() as s:
        s.add(Activity(id=aid, account_id="acme", kind=kind, activity_date=day, **extra))


# -- pure rules ------------------------------------------------------------------


def test_proposed_order_and_override() -> None:
    items = [
        RankedInitiative("a", impact=3, difficulty=1),
        RankedInitiative("b", impact=5, difficulty=4),
        RankedInitiative("c", impact=5, difficulty=2),
        RankedInitiative("d", impact=3, difficulty=1, tie_break=1),
        RankedInitiative("e", impact=3, difficulty=1, tie_break=2),
    ]
    # impact 5 first (c easier than b), then the impact-3 ties by the user's tie-break, unset last
    assert proposed_order(items) == ["c", "b", "d", "e", "a"]
    items[0] = RankedInitiative("a", impact=3, difficulty=1, order_override=1)
    assert effective_order(items) == ["a", "c", "b", "d", "e"]


def test_kpi_status_bands() -> None:
    tol = Tolerances(0.10, 0.25)
    d, t = date(2025, 3, 1), date(2025, 5, 1)
    assert kpi_status(None, 0.5, d, t, tol) is KpiStatus.NO_DATA
    assert kpi_status(0.4, 0.5, d, t, tol) is KpiStatus.ON_TRACK  # gap 0.10 exactly
    assert kpi_status(0.3, 0.5, d, t, tol) is KpiStatus.AT_RISK  # gap 0.20
    assert kpi_status(0.2, 0.5, d, t, tol) is KpiStatus.OFF_TRACK  # gap 0.30
    assert kpi_status(1.0, 0.5, d, t, tol) is KpiStatus.ACHIEVED
    assert kpi_status(0.95, 1.0, date(2025, 5, 2), t, tol) is KpiStatus.OFF_TRACK  # past target


def test_meeting_dates_and_missed_windows() -> None:
    first = date(2025, 1, 6)
    held = [date(2025, 1, 7), date(2025, 1, 14)]
    # windows [01-06, 01-13) and [01-13, 01-20) have a meeting; [01-20, 01-27) has none
    assert missed_windows(first, "weekly", date(2025, 1, 28), held) == [date(2025, 1, 20)]
    assert missed_windows(first, "weekly", date(2025, 1, 26), held) == []
    assert next_meeting(first, "weekly", date(2025, 1, 28)) == date(2025, 2, 3)
    assert next_meeting(first, "weekly", date(2025, 2, 3)) == date(2025, 2, 3)
    assert next_meeting(date(2025, 1, 31), "monthly", date(2025, 2, 1)) == date(2025, 2, 28)
    assert next_meeting(date(2025, 1, 31), "monthly", date(2025, 3, 1)) == date(2025, 3, 31)
    assert next_meeting(first, "biweekly", date(2025, 1, 7)) == date(2025, 1, 20)
    assert next_meeting(first, "weekly", date(2025, 3, 1), last=date(2025, 2, 28)) is None


def test_plan_status_rule() -> None:
    on, risk, off, done = (
        KpiStatus.ON_TRACK,
        KpiStatus.AT_RISK,
        KpiStatus.OFF_TRACK,
        KpiStatus.ACHIEVED,
    )
    assert plan_status(done, [off, off], 3) is PlanStatus.ACHIEVED
    assert plan_status(on, [on, on], 0) is PlanStatus.ON_TRACK
    assert plan_status(on, [on, KpiStatus.NO_DATA], 1) is PlanStatus.AT_RISK
    assert plan_status(on, [on, risk], 0) is PlanStatus.AT_RISK
    assert plan_status(on, [on, off, on], 0) is PlanStatus.AT_RISK  # 1 of 3 off track
    assert plan_status(on, [on, off], 0) is PlanStatus.OFF_TRACK  # half off track
    assert plan_status(off, [on], 0) is PlanStatus.OFF_TRACK


# -- on the store ------------------------------------------------------------------


def _kpis(platform: Platform, day: date) -> dict[str, Any]:
    result = evaluate_plans(platform, day)["p1"]
    out = {k.key: k for k in result.kpis}
    assert result.kgi is not None
    out[result.kgi.key] = result.kgi
    return {"status": result.status, **out}


def test_kpi_progress_and_status_on_several_dates(platform: Platform) -> None:
    seed(platform)
    import_plan_data(platform, plan_data())
    metric_values(
        platform,
        [
            (date(2025, 1, 31), "acme", 20.0),
            (date(2025, 3, 1), "acme", 40.0),
            (date(2025, 3, 1), "other", 99.0),
        ],
    )
    add_checkin(platform, "p1", "hours", value=3, day=date(2025, 1, 31), by="Pat")
    add_checkin(platform, "p1", "churn_tickets", value=80, day=date(2025, 3, 1), by="Pat")

    # 2025-02-15 (45 of 120 days: expected 0.375): logins from 01-31 = 20 → 0.1, off track
    r = _kpis(platform, date(2025, 2, 15))
    logins = r["logins"]
    assert (logins.current, logins.measured_on) == (20.0, date(2025, 1, 31))
    assert logins.progress == pytest.approx(0.1)
    assert logins.expected_progress == pytest.approx(0.375)
    assert logins.status is KpiStatus.OFF_TRACK
    hours = r["hours"]  # 3 of 10 → 0.3 against 0.375: gap 0.075, on track
    assert (hours.current, hours.progress, hours.status) == (
        3.0,
        pytest.approx(0.3),
        KpiStatus.ON_TRACK,
    )
    assert r["churn_tickets"].status is KpiStatus.NO_DATA
    # 1 of 2 measured KPIs off track → the plan is off track; the milestone due 02-14 is overdue
    assert r["status"] is PlanStatus.OFF_TRACK

    # 2025-03-01 (59 days: 0.491667): logins 40 → 0.3, gap 0.19 at risk;
    # hours 0.3, gap 0.19 at risk; KGI 100 → 80 of 50: 0.4, gap 0.09 on track
    r = _kpis(platform, date(2025, 3, 1))
    assert r["logins"].progress == pytest.approx(0.3)
    assert r["logins"].expected_progress == pytest.approx(59 / 120)
    assert r["logins"].status is KpiStatus.AT_RISK
    assert r["hours"].status is KpiStatus.AT_RISK
    assert r["churn_tickets"].progress == pytest.approx(0.4)
    assert r["churn_tickets"].status is KpiStatus.ON_TRACK
    assert r["status"] is PlanStatus.AT_RISK

    # a check-in reaching the target: achieved
    add_checkin(platform, "p1", "hours", value=10, day=date(2025, 3, 2), by="Pat", note="done")
    assert _kpis(platform, date(2025, 3, 2))["hours"].status is KpiStatus.ACHIEVED
    # before any metric date, the metric KPI has no data
    assert _kpis(platform, date(2025, 1, 15))["logins"].status is KpiStatus.NO_DATA

    with pytest.raises(InvalidInput):
        add_checkin(platform, "p1", "logins", value=1, day=date(2025, 3, 2), by="Pat")


def test_warnings(platform: Platform) -> None:
    seed(platform, promoter=False)
    import_plan_data(platform, plan_data())
    plan = get_plan(platform, "p1")
    activity(platform, "a1", date(2025, 1, 10), ActivityKind.CALL, contact_id="eve")
    activity(platform, "a2", date(2025, 2, 20), ActivityKind.NOTE, contact_id="eve")  # not a touch
    kinds = {w.kind: w for w in plan_view(platform, plan, date(2025, 2, 24)).warnings}
    # 45 days after the call: not yet a warning; 46 days: a warning
    assert "evaluator_not_touched" not in kinds
    assert "no_promoter" in kinds and "no_evaluator" not in kinds
    w = {w.kind: w for w in plan_view(platform, plan, date(2025, 2, 25)).warnings}
    touched = w["evaluator_not_touched"]
    assert (touched.contact_id, touched.days, touched.since) == ("eve", 46, date(2025, 1, 10))
    assert "milestone_overdue" in w  # "Reports live" due 02-14, still open

    activity(platform, "a3", date(2025, 2, 24), ActivityKind.EMAIL, contact_id="eve")
    later = {w.kind for w in plan_view(platform, plan, date(2025, 2, 25)).warnings}
    assert "evaluator_not_touched" not in later
    with platform.store.session() as s:
        s.execute(sa.update(Contact).where(Contact.id == "eve").values(success_role="end_user"))
    none = {w.kind for w in plan_view(platform, plan, date(2025, 2, 25)).warnings}
    assert "no_evaluator" in none


def test_next_meetings_and_a_missed_series(platform: Platform) -> None:
    seed(platform)
    import_plan_data(platform, plan_data())
    plan = get_plan(platform, "p1")
    for aid, day in (("m1", date(2025, 1, 7)), ("m2", date(2025, 1, 14))):
        activity(platform, aid, day, ActivityKind.MEETING, meeting_series_id="ms-users")
    activity(platform, "m3", date(2025, 1, 31), ActivityKind.MEETING, meeting_series_id="ms-eval")
    view = plan_view(platform, plan, date(2025, 1, 28))
    users, evaluator = view.meetings[0], view.meetings[1]
    assert (users.id, users.next_date, users.missed) == ("ms-users", date(2025, 2, 3), True)
    assert users.missed_dates == [date(2025, 1, 20)]
    assert users.last_held == date(2025, 1, 14)
    assert (evaluator.next_date, evaluator.missed) == (date(2025, 1, 31), False)
    assert "meeting_missed" in {w.kind for w in view.warnings}
    # the overview lists the nearest next meeting of the plan
    [summary] = list_plans(platform, date(2025, 1, 28))
    assert summary.next_meeting == date(2025, 1, 31)


def test_plan_status_is_stored_per_date_and_kgi_achieved_proposes_the_next_plan(
    platform: Platform,
) -> None:
    seed(platform)
    import_plan_data(platform, plan_data())
    add_checkin(platform, "p1", "hours", value=3, day=date(2025, 1, 31), by="Pat")
    run = record_plan_status(platform, date(2025, 2, 1))
    assert (run.plans, run.by_status) == (1, {"on_track": 1})
    record_plan_status(platform, date(2025, 2, 1))  # idempotent per date
    add_checkin(platform, "p1", "churn_tickets", value=45, day=date(2025, 3, 10), by="Pat")
    run = record_plan_status(platform, date(2025, 3, 10))
    assert run.achieved == ["p1"] and len(run.proposed) == 1
    assert status_history(platform, "p1") == [
        (date(2025, 2, 1), "on_track"),
        (date(2025, 3, 10), "achieved"),
    ]
    with platform.store.session() as s:
        old = s.get(Plan, "p1")
        new = s.get(Plan, run.proposed[0])
        assert old is not None and new is not None
        assert (old.state, old.closed_on) == (PlanState.ACHIEVED, date(2025, 3, 10))
        assert (new.state, new.previous_plan_id, new.start_date) == (
            PlanState.PROPOSED,
            "p1",
            date(2025, 3, 11),
        )
        assert s.scalar(sa.select(sa.func.count()).select_from(PlanStatusSnapshot)) == 2
    # closed plans keep their history and are listed with --all only
    assert list_plans(platform, date(2025, 3, 11)) == []
    assert {p.plan_id for p in list_plans(platform, date(2025, 3, 11), include_closed=True)} == {
        "p1",
        run.proposed[0],
    }


def test_yaml_round_trip_gives_an_identical_plan(platform: Platform) -> None:
    seed(platform)
    import_plan_data(platform, plan_data())
    add_checkin(platform, "p1", "hours", value=3, day=date(2025, 1, 31), by="Pat", note="est.")
    first = export_yaml(platform, "p1")
    import_plan_data(platform, yaml.safe_load(first))
    assert export_yaml(platform, "p1") == first
    exported = export_plan(platform, "p1")
    assert exported["initiatives"][1]["kpis"][0]["checkins"] == [
        {"value": 3.0, "date": date(2025, 1, 31), "by": "Pat", "note": "est."}
    ]
    # a meeting recorded against a series stays linked across a re-import
    activity(platform, "m1", date(2025, 1, 7), ActivityKind.MEETING, meeting_series_id="ms-users")
    import_plan_data(platform, yaml.safe_load(first))
    with platform.store.session() as s:
        row = s.get(Activity, "m1")
        assert row is not None and row.meeting_series_id == "ms-users"


def test_a_bad_file_reports_every_problem_and_changes_nothing(platform: Platform) -> None:
    seed(platform)
    import_plan_data(platform, plan_data())
    before = export_yaml(platform, "p1")
    bad = plan_data(title="Changed")
    bad["initiatives"][0]["impact"] = 7
    bad["initiatives"][1]["kpis"][0]["key"] = "logins"
    bad["kgi"]["target"] = 100.0
    bad["milestones"][0]["due_date"] = "soon"
    with pytest.raises(InvalidInput) as shape:
        import_plan_data(platform, bad, "bad.yaml")
    fields = {p.field for p in shape.value.problems}
    # shape problems first (the file cannot be read as a plan)...
    assert fields == {"initiatives.0.impact", "milestones.0.due_date"}
    assert all(p.where.startswith("bad.yaml, field ") for p in shape.value.problems)
    bad["initiatives"][0]["impact"] = 4
    bad["milestones"][0]["due_date"] = date(2025, 1, 14)
    bad["initiatives"][0]["kpis"][0]["metric"] = "no_such_metric"
    bad["owner_id"] = "nobody"
    bad["account_id"] = "ghost"
    with pytest.raises(InvalidInput) as refs:
        import_plan_data(platform, bad, "bad.yaml")
    assert {p.field for p in refs.value.problems} == {
        "kgi.target",
        "initiatives.1.kpis.0.key",
        "initiatives.0.kpis.0.metric",
        "owner_id",
        "account_id",
        "id",
    }
    assert export_yaml(platform, "p1") == before


def test_create_from_a_template_takes_metric_baselines(platform: Platform) -> None:
    seed(platform)
    metric_values(platform, [(date(2025, 1, 1), "acme", 40.0)])
    plan_id = create_plan(platform, "acme", "mid_market", start=date(2025, 1, 2), language="ja")
    view = plan_view(platform, get_plan(platform, plan_id), date(2025, 1, 2))
    assert view.plan.title == "ミッドマーケット成果支援計画(3か月)"
    assert view.plan.end_date == date(2025, 4, 2)
    kgi = view.kgi
    assert kgi is not None and kgi.metric == "logins_28d"
    # baseline measured on 01-01 (the latest date on or before the start), target +10 %
    assert (kgi.baseline, kgi.target, kgi.current) == (40.0, 44.0, 40.0)
    assert [i.key for i in view.initiatives] == ["dashboards", "training"]
    assert [m.next_date for m in view.meetings] == [date(2025, 1, 16), date(2025, 2, 1)]
    from kizuna.errors import Conflict

    with pytest.raises(Conflict):
        create_plan(platform, "acme", "mid_market")


def test_older_activity_files_import_unchanged_and_new_columns_are_checked(
    platform: Platform, tmp_path: Any
) -> None:
    from kizuna.dataio.importer import import_file

    seed(platform)
    import_plan_data(platform, plan_data())
    old = tmp_path / "activities.csv"
    old.write_text("id,account_id,kind,activity_date,text\na1,acme,call,2025-01-02,hello\n")
    import_file(platform, "activities", old)
    new = tmp_path / "activities2.csv"
    new.write_text(
        "id,account_id,kind,activity_date,contact_id,meeting_series_id\n"
        "a2,acme,meeting,2025-01-07,eve,ms-users\n"
    )
    import_file(platform, "activities", new)
    bad = tmp_path / "activities3.csv"
    bad.write_text(
        "id,account_id,kind,activity_date,contact_id,meeting_series_id\n"
        "a3,acme,meeting,2025-01-07,nobody,ms-none\n"
    )
    with pytest.raises(InvalidInput) as err:
        import_file(platform, "activities", bad)
    assert {p.field for p in err.value.problems} == {"contact_id", "meeting_series_id"}
    with platform.store.session() as s:
        rows = {a.id: (a.contact_id, a.meeting_series_id) for a in s.scalars(sa.select(Activity))}
    assert rows == {"a1": (None, None), "a2": ("eve", "ms-users")}


def test_the_stored_plan_status_is_a_health_measure_source(platform: Platform) -> None:
    from decimal import Decimal

    from kizuna.health.inputs import _gather_plan_status, _Reader
    from kizuna.health.scorecard import PlanStatusSource
    from kizuna.store.models import ContractLine

    seed(platform)
    with platform.store.session() as s:
        s.add(Account(id="beta", name="Beta", segment="smb"))
        s.flush()
        for aid in ("acme", "beta"):
            s.add(
                ContractLine(
                    id=f"{aid}-1",
                    account_id=aid,
                    product="core",
                    arr=Decimal("1000"),
                    currency="USD",
                    start_date=date(2024, 7, 1),
                    end_date=date(2025, 6, 30),
                )
            )
    import_plan_data(platform, plan_data())
    add_checkin(platform, "p1", "hours", value=3, day=date(2025, 1, 31), by="Pat")
    record_plan_status(platform, date(2025, 2, 1))  # on track
    record_plan_status(platform, date(2025, 2, 15))  # at risk: "Reports live" is overdue
    reader = _Reader(platform, date(2025, 2, 10))
    accounts = reader.accounts()
    values = dict(
        zip(
            accounts.ids,
            _gather_plan_status(reader, PlanStatusSource(kind="plan_status"), accounts),
            strict=True,
        )
    )
    assert values["acme"] == 1.0  # the newest status on or before 02-10: on track
    assert values["beta"] != values["beta"]  # no plan: missing (NaN)
    later = _Reader(platform, date(2025, 2, 20))
    frame = later.accounts()
    got = dict(zip(frame.ids, _gather_plan_status(later, None, frame), strict=True))
    assert got["acme"] == 0.5
