"""Running the rules as of a date: fire, dedupe, snooze, auto-close, budget and queue.

:func:`run_rules` evaluates every enabled rule over the whole book
(:func:`evaluate_rules`, vectorised), then plans what changes against the CTAs in
the store (:func:`plan_run`) and applies the plan (unless dry):

* a rule that fires for an account with an active CTA of that rule (dedupe key
  ``rule|account``) updates its reason, facts and priority when they changed;
  a snoozed one stays snoozed (quiet) until its date, then opens again;
* a rule with ``close_when_cleared`` closes its active CTAs whose condition no
  longer holds (``closed_won``, outcome "resolved: condition cleared");
* new CTAs are assigned by the coverage model and opened within the day's budget
  per owner (and per rule); the rest are queued by priority and released on the
  next days — never dropped; a run says how many;
* for a date before today nothing is opened, assigned or sent: the run is dry,
  records what fired (:class:`RuleFiring`, ``dry``) for history, and reports what
  it would have done against the CTAs stored now.

Running twice for the same date changes nothing the second time.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa

from kizuna.actions.conditions import Condition
from kizuna.actions.coverage import Assignee, assign
from kizuna.actions.ctas import add_event, create_tasks
from kizuna.actions.definitions import RuleDefinition, RuleSet, rules_for
from kizuna.actions.facts import FactBook, FactKey, gather_facts
from kizuna.actions.model import ACTIVE_STATUSES, CONDITION_CLEARED, priority_value
from kizuna.actions.notify import enqueue_cta_opened
from kizuna.actions.reasons import reasons_in
from kizuna.actions.techtouch import DigitalAction, enqueue_tech_touch
from kizuna.errors import InvalidInput, Problem
from kizuna.platform import Platform
from kizuna.store.actions_models import CallToAction, RuleFiring
from kizuna.store.models import Account

__all__ = ["Change", "RuleRun", "evaluate_rules", "needed_facts", "run_rules"]

RULES_ACTOR = "rules"


@dataclass(frozen=True, slots=True)
class Change:
    """One thing a run did (or would do) to a CTA."""

    action: str  # opened | updated | closed | queued | released | woke
    rule_id: str
    account_id: str
    owner_id: str | None
    priority: int
    reason: str
    cta_id: int | None = None
    #: who works it: an owner id, ``team:ID`` or ``digital``
    assignee: str | None = None


@dataclass
class RuleRun:
    """What ``kizuna rules run`` reports."""

    as_of: date
    dry: bool
    past: bool
    accounts: int
    fired: dict[str, int]
    changes: list[Change] = field(default_factory=list)
    still_queued: int = 0
    cooling: int = 0
    seconds: float = 0.0
    evaluate_seconds: float = 0.0

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    def opened_per_owner(self) -> dict[str, int]:
        counts = Counter(
            c.assignee or c.owner_id or "(unassigned)"
            for c in self.changes
            if c.action in ("opened", "released")
        )
        return dict(sorted(counts.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "dry": self.dry,
            "past": self.past,
            "accounts": self.accounts,
            "fired": self.fired,
            "opened": self.count("opened"),
            "released": self.count("released"),
            "updated": self.count("updated"),
            "woke": self.count("woke"),
            "closed": self.count("closed"),
            "queued": self.count("queued"),
            "still_queued": self.still_queued,
            "cooling": self.cooling,
            "opened_per_owner": self.opened_per_owner(),
            "changes": [asdict(c) for c in self.changes],
            "seconds": round(self.seconds, 3),
        }


def _uses_open_ctas(rule: RuleDefinition) -> bool:
    return any(leaf.key.name == "open_ctas" for leaf in rule.condition.leaves())


def ordered_rules(ruleset: RuleSet) -> list[RuleDefinition]:
    """Enabled rules; those that look at open CTAs last, so they see this run's CTAs."""
    enabled = [r for r in ruleset.rules if r.enabled]
    return [r for r in enabled if not _uses_open_ctas(r)] + [
        r for r in enabled if _uses_open_ctas(r)
    ]


def needed_facts(ruleset: RuleSet) -> list[FactKey]:
    """Every fact the rule set's conditions and coverage tiers read, plus the owner."""
    keys = [FactKey("owner")]
    for rule in ordered_rules(ruleset):
        keys.extend(rule.condition.fact_keys())
    for tier in ruleset.coverage.tiers:
        if tier.condition is not None:
            keys.extend(tier.condition.fact_keys())
    return list(dict.fromkeys(keys))


def evaluate_rules(
    book: FactBook,
    rules: list[RuleDefinition],
    on_fired: Any = None,
) -> dict[str, np.ndarray]:
    """Rows of the accounts each rule fires for (``on_fired(rule, rows)`` after each rule)."""
    out = {}
    for rule in rules:
        rows = np.nonzero(rule.condition.mask(book))[0]
        out[rule.id] = rows
        if on_fired is not None:
            on_fired(rule, rows)
    return out


def _fact_value(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else (float(value) if math.isfinite(value) else "never")
    return value


def _facts_of(condition: Condition, book: FactBook, row: int) -> dict[str, Any]:
    return {str(k): _fact_value(book.columns[k][row]) for k in condition.fact_keys()}


def _reason(rule: RuleDefinition, book: FactBook, row: int) -> str:
    return f"{rule.name}: " + "; ".join(rule.condition.reasons(book, row))


def run_rules(
    platform: Platform,
    as_of: date | None = None,
    *,
    dry_run: bool = False,
    ruleset: RuleSet | None = None,
    given: Mapping[FactKey, np.ndarray] | None = None,
    ids: list[str] | None = None,
) -> RuleRun:
    """Run the rules as of ``as_of`` (default today); dry for ``dry_run`` or a past date.

    ``given``/``ids``: fact columns the caller already has (the daily run's
    lifecycle), aligned with ``ids``.
    """
    began = time.perf_counter()
    today = platform.today()
    as_of = as_of or today
    if as_of > today:
        raise InvalidInput(
            "rules run for a future date",
            [
                Problem(
                    f"{as_of} is after today ({today}); rules run as of today or earlier",
                    field="as_of",
                )
            ],
        )
    past = as_of < today
    dry = dry_run or past
    ruleset = ruleset or rules_for(platform.settings.home)
    rules = ordered_rules(ruleset)
    book = gather_facts(platform, as_of, needed_facts(ruleset), given=given, ids=ids)
    t0 = time.perf_counter()
    state = _State.load(platform, book, as_of, rules)

    def adjust(rule: RuleDefinition, rows: np.ndarray) -> None:
        state.adjust_open_ctas(book, rule, rows)

    fired = evaluate_rules(book, rules, adjust)
    run = RuleRun(
        as_of=as_of,
        dry=dry,
        past=past,
        accounts=book.size,
        fired={r: len(rows) for r, rows in fired.items()},
        evaluate_seconds=time.perf_counter() - t0,
    )
    if past and not dry_run:
        _record_dry(platform, book, rules, fired, as_of)
    # a dry run (and any past date) plans against the CTAs stored now and writes nothing
    _plan_and_apply(platform, book, ruleset, rules, fired, state, run, apply=not dry)
    run.seconds = time.perf_counter() - began
    return run


def _record_dry(
    platform: Platform,
    book: FactBook,
    rules: list[RuleDefinition],
    fired: dict[str, np.ndarray],
    as_of: date,
) -> None:
    """Remember what fired on a past date (first record of a date kept)."""
    with platform.store.session() as session:
        known = set(
            session.execute(
                sa.select(RuleFiring.rule_id, RuleFiring.account_id).where(
                    RuleFiring.as_of == as_of
                )
            ).all()
        )
        rows = []
        for rule in rules:
            for row in fired[rule.id]:
                account = str(book.ids[row])
                if (rule.id, account) in known:
                    continue
                rows.append(
                    {
                        "as_of": as_of, "rule_id": rule.id, "account_id": account,
                        "outcome": "fired", "dry": True, "cta_id": None,
                        "priority": priority_value(rule.priority),
                        "facts": _facts_of(rule.condition, book, int(row)),
                    }
                )  # fmt: skip
        if rows:
            session.execute(sa.insert(RuleFiring), rows)


@dataclass
class _State:
    """The CTAs in the store the plan works against."""

    active: dict[str, CallToAction]
    cooling: set[str]
    opened_today_owner: Counter[str]
    opened_today_rule: Counter[str]
    account_owner: dict[str, str | None]

    @classmethod
    def load(
        cls, platform: Platform, book: FactBook, as_of: date, rules: list[RuleDefinition]
    ) -> _State:
        longest = max((r.cooldown_days for r in rules), default=0)
        cooldown = {r.id: r.cooldown_days for r in rules}
        with platform.store.session() as session:
            session.expire_on_commit = False
            active = {
                c.dedupe_key: c
                for c in session.scalars(
                    sa.select(CallToAction).where(
                        CallToAction.dedupe_key.is_not(None),
                        CallToAction.status.in_(ACTIVE_STATUSES),
                    )
                )
                if c.dedupe_key
            }
            cooling = set()
            for rule_id, account_id, closed_on in session.execute(
                sa.select(
                    CallToAction.rule_id,
                    CallToAction.account_id,
                    sa.func.max(CallToAction.closed_on),
                )
                .where(
                    CallToAction.rule_id.is_not(None),
                    CallToAction.closed_on > as_of - timedelta(days=longest),
                    CallToAction.closed_on <= as_of,
                )
                .group_by(CallToAction.rule_id, CallToAction.account_id)
            ):
                recent = closed_on and closed_on > as_of - timedelta(
                    days=cooldown.get(rule_id or "", 0)
                )
                if rule_id in cooldown and recent:
                    cooling.add(f"{rule_id}|{account_id}")
            today_owner: Counter[str] = Counter()
            today_rule: Counter[str] = Counter()
            for owner, team, kind, rule_id in session.execute(
                sa.select(
                    CallToAction.owner_id, CallToAction.team_id, CallToAction.assignee_kind,
                    CallToAction.rule_id,
                ).where(CallToAction.opened_on == as_of, CallToAction.rule_id.is_not(None))
            ):  # fmt: skip
                today_owner[_budget_key(owner, team, kind)] += 1
                today_rule[rule_id or ""] += 1
            owners = {a: o for a, o in session.execute(sa.select(Account.id, Account.owner_id))}
        return cls(active, cooling, today_owner, today_rule, owners)

    def adjust_open_ctas(self, book: FactBook, rule: RuleDefinition, rows: np.ndarray) -> None:
        """Count this rule's CTAs-to-be in the ``open_ctas`` facts later rules read."""
        fired = np.zeros(book.size, dtype=bool)
        fired[rows] = True
        before = np.zeros(book.size, dtype=bool)
        prefix = f"{rule.id}|"
        pos = book.positions([k[len(prefix) :] for k in self.active if k.startswith(prefix)])
        before[pos[pos >= 0]] = True
        after = fired.copy() if rule.close_when_cleared else fired | before
        cool = book.positions([k[len(prefix) :] for k in self.cooling if k.startswith(prefix)])
        cooled = np.zeros(book.size, dtype=bool)
        cooled[cool[cool >= 0]] = True
        after &= ~(cooled & ~before)
        delta = after.astype(float) - before.astype(float)
        for key, column in book.columns.items():
            if key.name == "open_ctas" and key.param("type") in (None, rule.type):
                book.columns[key] = column + delta


def _budget_key(owner: str | None, team: str | None, kind: str) -> str:
    if kind == "digital":
        return "digital"
    if team:
        return f"team:{team}"
    return owner or "(unassigned)"


@dataclass
class _Candidate:
    rule: RuleDefinition
    account_id: str
    row: int | None
    priority: int
    reason: str
    facts: dict[str, Any]
    assignee: Assignee
    queued: CallToAction | None  # an existing queued CTA waiting for release
    since: date


def _plan_and_apply(
    platform: Platform,
    book: FactBook,
    ruleset: RuleSet,
    rules: list[RuleDefinition],
    fired: dict[str, np.ndarray],
    state: _State,
    run: RuleRun,
    *,
    apply: bool,
) -> None:
    as_of = run.as_of
    by_id = {r.id: r for r in rules}
    order = {r.id: i for i, r in enumerate(rules)}
    assignees = assign(ruleset.coverage, book)
    updates: list[tuple[CallToAction, str, dict[str, Any], int, bool]] = []
    closes: list[CallToAction] = []
    candidates: list[_Candidate] = []
    firing_rows: list[dict[str, Any]] = []
    for rule in rules:
        matched: set[str] = set()
        prio = priority_value(rule.priority)
        for row in fired[rule.id]:
            r = int(row)
            account = str(book.ids[r])
            matched.add(account)
            key = f"{rule.id}|{account}"
            existing = state.active.get(key)
            if existing is not None and existing.status == "queued":
                candidates.append(
                    _Candidate(rule, account, r, prio, _reason(rule, book, r),
                               _facts_of(rule.condition, book, r), assignees[r], existing,
                               existing.queued_on or as_of)
                )  # fmt: skip
                continue
            if existing is not None:
                reason = _reason(rule, book, r)
                facts = _facts_of(rule.condition, book, r)
                wake = existing.status == "snoozed" and (existing.snoozed_until or as_of) <= as_of
                if (
                    wake
                    or reason != existing.reason
                    or facts != existing.facts
                    or prio != existing.priority
                ):
                    updates.append((existing, reason, facts, prio, wake))
                continue
            if key in state.cooling:
                run.cooling += 1
                continue
            candidates.append(
                _Candidate(rule, account, r, prio, _reason(rule, book, r),
                           _facts_of(rule.condition, book, r), assignees[r], None, as_of)
            )  # fmt: skip
        if rule.close_when_cleared:
            prefix = f"{rule.id}|"
            for key, cta in state.active.items():
                if key.startswith(prefix) and key[len(prefix) :] not in matched:
                    closes.append(cta)
    # queued CTAs of rules that no longer exist stay queued (shown by 'cta list --status queued')
    for cta in state.active.values():
        if cta.status == "queued" and cta.rule_id not in by_id:
            run.still_queued += 1

    # budget: highest priority first, then the longest waiting, then rule order
    candidates.sort(key=lambda c: (-c.priority, c.since, order[c.rule.id], c.account_id))
    per_owner = ruleset.budget.per_owner_per_day
    used_owner = Counter(state.opened_today_owner)
    used_rule = Counter(state.opened_today_rule)
    to_open: list[_Candidate] = []
    to_queue: list[_Candidate] = []
    for c in candidates:
        bkey = _budget_key(c.assignee.owner_id, c.assignee.team_id, c.assignee.kind)
        over_owner = per_owner is not None and bkey != "digital" and used_owner[bkey] >= per_owner
        over_rule = (
            c.rule.budget_per_day is not None and used_rule[c.rule.id] >= c.rule.budget_per_day
        )
        if over_owner or over_rule:
            if c.queued is None:
                to_queue.append(c)
            else:
                run.still_queued += 1
            continue
        used_owner[bkey] += 1
        used_rule[c.rule.id] += 1
        to_open.append(c)

    for cta, reason, _, prio, wake in updates:
        run.changes.append(
            Change("woke" if wake else "updated", cta.rule_id or "", cta.account_id, cta.owner_id,
                   prio, reason, cta.id)
        )  # fmt: skip
    for cta in closes:
        run.changes.append(
            Change("closed", cta.rule_id or "", cta.account_id, cta.owner_id, cta.priority,
                   CONDITION_CLEARED, cta.id)
        )  # fmt: skip
    for c in to_open:
        run.changes.append(
            Change("released" if c.queued else "opened", c.rule.id, c.account_id,
                   c.assignee.owner_id, c.priority, c.reason, c.queued.id if c.queued else None,
                   _budget_key(c.assignee.owner_id, c.assignee.team_id, c.assignee.kind))
        )  # fmt: skip
    for c in to_queue:
        run.changes.append(
            Change("queued", c.rule.id, c.account_id, c.assignee.owner_id, c.priority, c.reason,
                   None, _budget_key(c.assignee.owner_id, c.assignee.team_id, c.assignee.kind))
        )  # fmt: skip
    if not apply:
        return
    now = platform.clock.now()
    with platform.store.session() as session:
        for cta, reason, facts, prio, wake in updates:
            cta = session.merge(cta, load=True)
            cta.reason, cta.facts, cta.priority, cta.updated_at = reason, facts, prio, now
            if wake:
                cta.status, cta.snoozed_until = "open", None
                add_event(session, cta, as_of, "woke", RULES_ACTOR, "Snooze ended; CTA open again")
            elif cta.status != "snoozed":
                add_event(session, cta, as_of, "updated", RULES_ACTOR, f"CTA updated: {reason}")
            firing_rows.append(
                _firing(
                    as_of,
                    cta.rule_id or "",
                    cta.account_id,
                    "snoozed" if cta.status == "snoozed" else "updated",
                    cta.id,
                    prio,
                    facts,
                )
            )
        for cta in closes:
            cta = session.merge(cta, load=True)
            cta.status, cta.outcome, cta.closed_on = "closed_won", CONDITION_CLEARED, as_of
            cta.closed_by, cta.dedupe_key, cta.updated_at = RULES_ACTOR, None, now
            add_event(
                session, cta, as_of, "closed", RULES_ACTOR, f"CTA closed: {CONDITION_CLEARED}"
            )
            firing_rows.append(
                _firing(
                    as_of, cta.rule_id or "", cta.account_id, "closed", cta.id, cta.priority, {}
                )
            )
        digital: list[DigitalAction] = []
        for c in to_open:
            cta = session.merge(c.queued, load=True) if c.queued else _new_cta(c, now)
            if c.queued is None:
                session.add(cta)
            cta.status, cta.opened_on = "open", as_of
            cta.due_date = as_of + timedelta(days=c.rule.due_days)
            cta.reason, cta.facts, cta.priority, cta.updated_at = c.reason, c.facts, c.priority, now
            session.flush()
            playbook = ruleset.playbook(c.rule.playbook)
            if playbook is not None and c.assignee.kind != "digital":
                create_tasks(session, cta, playbook, as_of, state.account_owner.get(c.account_id))
            add_event(session, cta, as_of, "opened", RULES_ACTOR, f"CTA opened: {c.reason}")
            enqueue_cta_opened(session, platform.settings, cta, now)
            if c.assignee.kind == "digital":
                tier = next(t for t in ruleset.coverage.tiers if t.id == c.assignee.tier)
                reasons = reasons_in(c.rule, c.facts, c.reason)
                digital.append(DigitalAction(cta, tier.assign, reasons))
            outcome = "released" if c.queued else "opened"
            firing_rows.append(
                _firing(as_of, c.rule.id, c.account_id, outcome, cta.id, c.priority, c.facts)
            )
        # the tech-touch e-mails of every digital CTA opened, in a few batched queries
        enqueue_tech_touch(session, platform.settings, digital, now)
        for c in to_queue:
            cta = _new_cta(c, now)
            cta.status, cta.queued_on = "queued", as_of
            session.add(cta)
            session.flush()
            firing_rows.append(
                _firing(as_of, c.rule.id, c.account_id, "queued", cta.id, c.priority, c.facts)
            )
        if firing_rows:
            known = {
                (rule_id, account_id)
                for rule_id, account_id in session.execute(
                    sa.select(RuleFiring.rule_id, RuleFiring.account_id).where(
                        RuleFiring.as_of == as_of
                    )
                )
            }
            fresh = [f for f in firing_rows if (f["rule_id"], f["account_id"]) not in known]
            if fresh:
                session.execute(sa.insert(RuleFiring), fresh)


def _firing(
    as_of: date,
    rule_id: str,
    account_id: str,
    outcome: str,
    cta_id: int | None,
    priority: int,
    facts: dict[str, Any],
) -> dict[str, Any]:
    return {
        "as_of": as_of, "rule_id": rule_id, "account_id": account_id, "outcome": outcome,
        "dry": False, "cta_id": cta_id, "priority": priority, "facts": facts,
    }  # fmt: skip


def _new_cta(c: _Candidate, now: Any) -> CallToAction:
    return CallToAction(
        account_id=c.account_id,
        rule_id=c.rule.id,
        dedupe_key=f"{c.rule.id}|{c.account_id}",
        type=c.rule.type,
        priority=c.priority,
        title=c.rule.name,
        reason=c.reason,
        facts=c.facts,
        status="queued",
        tier=c.assignee.tier,
        owner_id=c.assignee.owner_id,
        team_id=c.assignee.team_id,
        assignee_kind=c.assignee.kind,
        playbook_id=c.rule.playbook,
        created_by=RULES_ACTOR,
        created_at=now,
        updated_at=now,
    )
