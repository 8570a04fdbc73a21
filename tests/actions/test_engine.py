"""Rule runs on the hand-built book: open, dedupe and update, snooze, auto-close, budget and
queue, past dates, dry runs, playbook task dates, tier assignment; on both stores."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from kizuna.actions import (
    close_cta,
    get_cta,
    list_ctas,
    list_events,
    parse_rules,
    run_rules,
    set_task_status,
    snooze_cta,
)
from kizuna.clock import FixedClock
from kizuna.platform import Platform
from kizuna.store.actions_models import CallToAction, CtaEvent, CtaTask, RuleFiring, Team

from .conftest import AS_OF, health

PLAYBOOKS = [
    {"id": "save", "name": "Save", "tasks": [
        {"title": "Call the evaluator", "due_days": 2},
        {"title": "Agree a plan", "due_days": 10, "owner": "account_owner"},
    ]},
]  # fmt: skip


def rules(*items: dict[str, Any], budget: int | None = None, tiers: Any = None) -> Any:
    data: dict[str, Any] = {"rules": list(items), "playbooks": PLAYBOOKS}
    if budget:
        data["budget"] = {"per_owner_per_day": budget}
    if tiers:
        data["coverage"] = {"tiers": tiers}
    return parse_rules(data, "test")


RED = {"id": "red", "name": "Red health", "type": "risk", "priority": "high",
       "when": {"attention": "red"}, "playbook": "save", "due_days": 5}  # fmt: skip
LOW = {"id": "low", "name": "Low health", "type": "risk", "priority": "medium",
       "when": {"fact": "health_score", "lt": 60}}  # fmt: skip
RENEWAL = {"id": "renewal", "name": "Renewal soon", "type": "lifecycle", "priority": "urgent",
           "when": {"fact": "days_to_renewal", "lte": 120}}  # fmt: skip


def on(platform: Platform, day: date) -> Platform:
    return Platform(
        platform.settings,
        platform.store,
        FixedClock(datetime(day.year, day.month, day.day, 12, tzinfo=UTC)),
    )


def table(platform: Platform) -> list[tuple[Any, ...]]:
    """Everything the rules write, comparable across runs."""
    with platform.store.session() as s:
        ctas = s.execute(
            sa.select(CallToAction.id, CallToAction.rule_id, CallToAction.account_id,
                      CallToAction.status, CallToAction.reason, CallToAction.priority,
                      CallToAction.owner_id, CallToAction.opened_on, CallToAction.due_date,
                      CallToAction.updated_at).order_by(CallToAction.id)
        ).all()  # fmt: skip
        counts = tuple(
            s.scalar(sa.select(sa.func.count()).select_from(t))
            for t in (CtaTask, CtaEvent, RuleFiring)
        )
    return [*map(tuple, ctas), counts]


def test_run_opens_with_reason_playbook_and_is_idempotent(book: Platform) -> None:
    ruleset = rules(RED, LOW, RENEWAL)
    run = run_rules(book, ruleset=ruleset)
    assert run.fired == {"red": 1, "low": 2, "renewal": 2}
    assert sorted((c.action, c.rule_id, c.account_id, c.owner_id) for c in run.changes) == [
        ("opened", "low", "A1", "T1"),
        ("opened", "low", "A3", "T2"),
        ("opened", "red", "A1", "T1"),
        ("opened", "renewal", "A1", "T1"),
        ("opened", "renewal", "A3", "T2"),
    ]
    [cta] = list_ctas(book, owner="T1", type="risk", status="open")[:1]
    assert (cta.rule_id, cta.priority, cta.due_date) == ("red", "high", AS_OF + timedelta(days=5))
    assert cta.reason == "Red health: health band is red (= red)"
    assert cta.facts == {"health_band": "red"}
    # playbook tasks: due the day the CTA opened + due_days; owners resolved
    assert [(t.title, t.due_date, t.owner_id) for t in cta.tasks] == [
        ("Call the evaluator", date(2025, 7, 2), "T1"),
        ("Agree a plan", date(2025, 7, 10), "T1"),
    ]
    assert [e["kind"] for e in list_events(book, "A1")] == ["opened"] * 3
    before = table(book)
    again = run_rules(book, ruleset=ruleset)
    assert again.changes == [] and again.still_queued == 0
    assert table(book) == before


def test_dedupe_updates_reason_facts_priority(book: Platform) -> None:
    ruleset = rules(LOW)
    run_rules(book, ruleset=ruleset)
    health(book, AS_OF, {"A1": (20.0, "red"), "A2": (80.0, "green"), "A3": (55.0, "yellow")})
    run = run_rules(book, ruleset=ruleset)
    assert [(c.action, c.account_id, c.reason) for c in run.changes] == [
        ("updated", "A1", "Low health: health score is 20 (< 60)")
    ]
    ctas = list_ctas(book, account_id="A1")
    assert len(ctas) == 1 and ctas[0].facts == {"health_score": 20.0}


def test_auto_close_when_condition_clears_and_cooldown(book: Platform) -> None:
    ruleset = rules(LOW)
    run_rules(book, ruleset=ruleset)
    health(book, AS_OF, {"A1": (70.0, "green"), "A2": (80.0, "green"), "A3": (55.0, "yellow")})
    run = run_rules(book, ruleset=ruleset)
    assert [(c.action, c.account_id) for c in run.changes] == [("closed", "A1")]
    [closed] = list_ctas(book, account_id="A1")
    assert (closed.status, closed.outcome, closed.closed_on) == (
        "closed_won", "resolved: condition cleared", AS_OF,
    )  # fmt: skip
    # the condition comes back the same day: within the cooldown no new CTA
    health(book, AS_OF, {"A1": (20.0, "red"), "A2": (80.0, "green"), "A3": (55.0, "yellow")})
    run = run_rules(book, ruleset=ruleset)
    assert run.changes == [] and run.cooling == 1


def test_snooze_stays_quiet_until_its_date(book: Platform) -> None:
    ruleset = rules(LOW)
    run_rules(book, ruleset=ruleset)
    cta = list_ctas(book, account_id="A1")[0]
    snooze_cta(
        book, cta.id, until=AS_OF + timedelta(days=3), reason="customer on holiday", actor="T1"
    )
    day2 = on(book, AS_OF + timedelta(days=2))
    assert [c.action for c in run_rules(day2, ruleset=ruleset).changes] == []
    assert get_cta(book, cta.id).status == "snoozed"
    day3 = on(book, AS_OF + timedelta(days=3))
    assert [(c.action, c.cta_id) for c in run_rules(day3, ruleset=ruleset).changes] == [
        ("woke", cta.id)
    ]
    view = get_cta(book, cta.id)
    assert (view.status, view.snoozed_until) == ("open", None)


def test_budget_queues_by_priority_and_releases_later(book: Platform) -> None:
    # T1 owns A1 (fires red, low, renewal) and A2 (nothing): a budget of 1 per day
    ruleset = rules(LOW, RED, RENEWAL, budget=1)
    run = run_rules(book, ruleset=ruleset)
    t1 = [(c.action, c.rule_id) for c in run.changes if c.owner_id == "T1"]
    assert t1 == [("opened", "renewal"), ("queued", "red"), ("queued", "low")]
    assert run.to_dict()["queued"] == 3  # T2's A3 fires low and renewal: one queued too
    assert [c.status for c in list_ctas(book, owner="T1", status="queued")] == ["queued", "queued"]
    again = run_rules(book, ruleset=ruleset)
    assert again.changes == [] and again.still_queued == 3
    day2 = on(book, AS_OF + timedelta(days=1))
    run2 = run_rules(day2, ruleset=ruleset)
    # (the renewal CTAs are updated too: one day less to renewal is a new reason)
    assert [(c.action, c.rule_id, c.account_id) for c in run2.changes] == [
        ("updated", "renewal", "A1"), ("updated", "renewal", "A3"),
        ("released", "red", "A1"), ("released", "low", "A3"),
    ]  # fmt: skip
    assert run2.still_queued == 1
    day3 = on(book, AS_OF + timedelta(days=2))
    assert [
        (c.action, c.rule_id)
        for c in run_rules(day3, ruleset=ruleset).changes
        if c.action != "updated"
    ] == [("released", "low")]
    released = list_ctas(book, owner="T1", type="risk")
    assert sorted((c.rule_id, c.opened_on) for c in released) == [
        ("low", AS_OF + timedelta(days=2)), ("red", AS_OF + timedelta(days=1)),
    ]  # fmt: skip


def test_per_rule_budget(book: Platform) -> None:
    ruleset = rules({**LOW, "budget_per_day": 1})
    run = run_rules(book, ruleset=ruleset)
    assert [(c.action, c.account_id) for c in run.changes] == [("opened", "A1"), ("queued", "A3")]


def test_past_date_runs_dry_and_records_what_would_fire(book: Platform) -> None:
    ruleset = rules(RED, LOW)
    past = on(book, AS_OF + timedelta(days=5))
    run = run_rules(past, AS_OF, ruleset=ruleset)
    assert (run.dry, run.past, run.fired) == (True, True, {"red": 1, "low": 2})
    assert sorted((c.action, c.rule_id, c.account_id) for c in run.changes) == [
        ("opened", "low", "A1"),
        ("opened", "low", "A3"),
        ("opened", "red", "A1"),
    ]  # fmt: skip  (what it would do; nothing is written)
    with book.store.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(CallToAction)) == 0
        firings = s.execute(
            sa.select(
                RuleFiring.rule_id, RuleFiring.account_id, RuleFiring.outcome, RuleFiring.dry
            ).order_by(RuleFiring.rule_id, RuleFiring.account_id)
        ).all()
    assert [tuple(f) for f in firings] == [
        ("low", "A1", "fired", True), ("low", "A3", "fired", True), ("red", "A1", "fired", True),
    ]  # fmt: skip
    run_rules(past, AS_OF, ruleset=ruleset)
    with book.store.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(RuleFiring)) == 3


def test_dry_run_writes_nothing(book: Platform) -> None:
    run = run_rules(book, dry_run=True, ruleset=rules(RED, LOW))
    assert run.dry and [c.action for c in run.changes] == ["opened"] * 3
    assert table(book) == [(0, 0, 0)]


def test_tiers_assign_owner_team_or_digital(book: Platform) -> None:
    with book.store.session() as s:
        s.add(Team(id="pool", name="Mid-market pool"))
    tiers = [
        {"id": "high", "when": {"fact": "arr", "gte": 100000}, "assign": {"to": "owner"}},
        {"id": "mid", "when": {"fact": "segment", "eq": "mid-market"},
         "assign": {"to": "team", "team": "pool"}},
        {"id": "tech",
         "assign": {"to": "digital", "role": "promoter", "subject": "s", "body": "b"}},
    ]  # fmt: skip
    everyone = {"id": "all", "name": "All", "type": "activity", "when": {"fact": "arr", "gte": 0},
                "playbook": "save"}  # fmt: skip
    run_rules(book, ruleset=rules(everyone, tiers=tiers))
    got = sorted(
        (c.account_id, c.tier, c.assignee_kind, c.owner_id, c.team_id, len(c.tasks))
        for c in list_ctas(book)
    )
    assert got == [
        ("A1", "high", "owner", "T1", None, 2),
        ("A2", "mid", "team", None, "pool", 2),
        ("A3", "tech", "digital", None, None, 0),
        ("A4", "tech", "digital", None, None, 0),
    ]


def test_tasks_done_then_close_lands_on_timeline(book: Platform) -> None:
    run_rules(book, ruleset=rules(RED))
    cta = list_ctas(book, account_id="A1")[0]
    for task in cta.tasks:
        assert not get_cta(book, cta.id).all_tasks_finished
        set_task_status(book, task.id, status="done", actor="T1")
    view = get_cta(book, cta.id)
    assert view.all_tasks_finished and view.status == "in_progress"
    close_cta(book, cta.id, outcome="won", actor="T1", note="plan agreed")
    assert [(e["kind"], e["text"]) for e in list_events(book, "A1")] == [
        ("closed_won", "CTA closed (won): plan agreed"),
        ("task_done", "Task done: Agree a plan"),
        ("task_done", "Task done: Call the evaluator"),
        ("opened", "CTA opened: Red health: health band is red (= red)"),
    ]


def test_did_it_work_report(book: Platform) -> None:
    from kizuna.actions.report import rule_report

    ruleset = rules(LOW, budget=1)
    run_rules(book, ruleset=ruleset)  # A1 (T1) opened, A3 (T2) opened: one each
    day31 = on(book, AS_OF + timedelta(days=31))
    # 30 days on: A1 recovered to 70, A3 still at 55
    health(day31, AS_OF + timedelta(days=30), {"A1": (70.0, "green"), "A3": (50.0, "yellow")})
    close_cta(book, list_ctas(book, account_id="A1")[0].id, outcome="won", actor="T1")
    [report] = rule_report(day31)
    assert (report.rule_id, report.opened, report.closed) == ("low", 2, {"closed_won": 1})
    assert report.acted.firings == 2 and report.acted.measured[30] == 2
    assert report.acted.health_change[30] == ((70 - 30) + (50 - 55)) / 2
    assert report.acted.health_change[90] is None and report.not_acted.firings == 0
