"""What the cockpit, the CTA page and the 360's work forms show, from the actions services."""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from kizuna.actions import CtaView, RuleDefinition, get_cta, list_ctas, list_events, rules_for
from kizuna.actions.access import may_work
from kizuna.actions.ctas import OpenTask, cta_counts, open_tasks
from kizuna.actions.model import CTA_TYPES, PRIORITIES, STATUSES, TASK_STATUSES
from kizuna.actions.reasons import render_reason
from kizuna.auth.policy import Caller
from kizuna.customers.service import readable_account_ids
from kizuna.platform import Platform
from kizuna.store.actions_models import Team
from kizuna.store.models import Account, TeamMember, TeamRole
from kizuna.web import insights
from kizuna.web.i18n import N_, format_date, gettext

__all__ = [
    "LABELS",
    "Cockpit",
    "CtaPage",
    "account_ctas",
    "cockpit",
    "cta_page",
    "cta_timeline",
    "titles",
]

#: English labels of the vocabulary (the templates translate them).
LABELS: dict[str, dict[str, str]] = {
    "type": CTA_TYPES,
    "priority": PRIORITIES,
    "status": STATUSES,
    "task": TASK_STATUSES,
}


@dataclass
class RenewalRow:
    account_id: str
    name: str
    renewal_date: date
    arr: Any
    health_band: str | None


@dataclass
class OwnerCounts:
    owner: str
    name: str
    by_type: dict[str, int]
    total: int


@dataclass
class Cockpit:
    today: date
    ctas: list[CtaView]
    overdue_tasks: list[OpenTask]
    renewals: list[RenewalRow]
    is_manager: bool
    counts: list[OwnerCounts] = field(default_factory=list)
    type_totals: dict[str, int] = field(default_factory=dict)


#: The vocabulary's labels, listed so that catalog extraction finds them.
DYNAMIC_MESSAGES = (
    N_("Risk"), N_("Expansion"), N_("Lifecycle"), N_("Objective"), N_("Activity"),
    N_("Low"), N_("Medium"), N_("High"), N_("Urgent"),
    N_("Queued"), N_("Open"), N_("In progress"), N_("Snoozed"), N_("Closed won"),
    N_("Closed lost"), N_("Done"), N_("Skipped"), N_("Cockpit"), N_("cta"),
)  # fmt: skip


@dataclass(frozen=True)
class Titles:
    """Rule and task titles in the page's language (``name_ja``/``title_ja`` of the rule set),
    and CTA reasons rendered in it from the rule and the stored facts."""

    lang: str
    rules: dict[str, str]
    tasks: dict[tuple[str, str], str]
    definitions: dict[str, RuleDefinition] = field(default_factory=dict)

    def reason(self, cta: CtaView) -> str:
        rule = self.definitions.get(cta.rule_id or "")
        if rule is None or self.lang == "en":
            return cta.reason
        return render_reason(rule, cta.facts, self.lang) or cta.reason

    #: Japanese names of the rules by their English name (the title a CTA stores).
    names: dict[str, str] = field(default_factory=dict)

    def cta(self, cta: CtaView) -> str:
        if self.lang == "ja" and cta.rule_id in self.rules:
            return self.rules[cta.rule_id]
        return cta.title

    def rule_title(self, title: str) -> str:
        """A CTA's stored (English) title in the page's language, when it is a rule's name."""
        if self.lang == "ja":
            return self.names.get(title, title)
        return title

    def event(self, event: Mapping[str, Any]) -> str:
        """A CTA event of the history in the page's language (the user's own words kept)."""
        return event_text(event, self)

    def task(self, cta: CtaView, title: str) -> str:
        if self.lang == "ja":
            return self.tasks.get((cta.playbook_id or "", title), title)
        return title


def titles(figures: insights.Figures, lang: str) -> Titles:
    """The Japanese names of the rules and task titles of the rule set in use.

    The rule set is read again only when ``<home>/rules.yaml`` changes (kept on the app).
    """
    home = figures.platform.settings.home
    ruleset = figures.versioned("rules", home / "rules.yaml", lambda: rules_for(home))
    return Titles(
        lang,
        {r.id: r.name_ja for r in ruleset.rules if r.name_ja},
        {(p.id, t.title): t.title_ja for p in ruleset.playbooks for t in p.tasks if t.title_ja},
        {r.id: r for r in ruleset.rules},
        {r.name: r.name_ja for r in ruleset.rules if r.name_ja},
    )


#: CTA events the rules or a state change write: their words in the catalogs.
EVENT_WORDS = {
    "opened": N_("CTA opened"),
    "updated": N_("CTA updated"),
    "woke": N_("Snooze ended; CTA open again"),
    "in_progress": N_("CTA in progress"),
    "closed": N_("CTA closed: the condition cleared"),
}
#: Events with the user's words (a note, a task's title) after the kind: their words, and
#: how to find the values in the English text of an event stored without ``params``.
EVENT_FORMS = {
    "closed_won": (r"CTA closed \(won\): (?P<note>.*)", N_("Closed won: %(note)s")),
    "closed_lost": (r"CTA closed \(lost\): (?P<note>.*)", N_("Closed lost: %(note)s")),
    "snoozed": (
        r"CTA snoozed until (?P<date>\d{4}-\d\d-\d\d): (?P<note>.*)",
        N_("Snoozed until %(date)s: %(note)s"),
    ),
    "task_done": (r"Task done: (?P<task>.*)", N_("Task done: %(task)s")),
    "task_skipped": (r"Task skipped: (?P<task>.*)", N_("Task skipped: %(task)s")),
    "task_open": (r"Task reopened: (?P<task>.*)", N_("Task reopened: %(task)s")),
    "task_reassigned": (
        r"Task reassigned to (?P<owner>[^:]*): (?P<task>.*)",
        N_("Task reassigned to %(owner)s: %(task)s"),
    ),
}


def _event_values(event: Mapping[str, Any], pattern: str) -> dict[str, Any] | None:
    """The values an event names: its ``params``, else read back from its English text
    (events stored before they kept ``params``); None when neither has them."""
    params = event.get("params")
    if isinstance(params, Mapping) and params:
        return dict(params)
    found = re.fullmatch(pattern, str(event.get("text") or ""), re.S)
    return found.groupdict() if found else None


def event_text(event: Mapping[str, Any], words: Titles) -> str:
    """The event in the page's language: the catalog's words for what happened, the user's
    own words (notes, task titles in the rule set's language) kept; else the stored text."""
    kind, text = str(event.get("kind") or ""), str(event.get("text") or "")
    if kind in EVENT_WORDS:
        return gettext(EVENT_WORDS[kind])
    form = EVENT_FORMS.get(kind)
    values = _event_values(event, form[0]) if form else None
    if form is None or values is None:
        return text
    if "date" in values:
        with suppress(ValueError):  # not a date after all: shown as stored
            values["date"] = format_date(date.fromisoformat(str(values["date"])))
    if "task" in values and words.lang == "ja":
        values["task"] = next(
            (ja for (_, title), ja in words.tasks.items() if title == values["task"]),
            values["task"],
        )
    try:
        return gettext(form[1]) % values
    except (KeyError, TypeError, ValueError):  # values not those of the kind: the stored text
        return text


def _names(platform: Platform) -> dict[str, str]:
    with platform.store.session() as session:
        return {i: n for i, n in session.execute(sa.select(TeamMember.id, TeamMember.name))}


def cockpit(figures: insights.Figures, caller: Caller) -> Cockpit:
    """The caller's open CTAs, overdue tasks and this week's renewals; counts for a manager."""
    platform = figures.platform
    me = caller.principal.member_id
    today = platform.today()
    visible = readable_account_ids(platform, caller)
    ctas = list_ctas(platform, owner=me, status="active", visible_accounts=visible)
    overdue = open_tasks(platform, me, due_before=today, visible_accounts=visible)
    with platform.store.session() as session:
        mine = {
            a: n
            for a, n in session.execute(
                sa.select(Account.id, Account.name).where(Account.owner_id == me)
            )
        }
    facts = insights.account_facts(figures) if mine else {}
    week = today + timedelta(days=7)
    renewals = sorted(
        (
            RenewalRow(a, mine[a], f.renewal_date, f.arr, f.health_band)
            for a, f in facts.items()
            if a in mine and f.renewal_date is not None and today <= f.renewal_date < week
        ),
        key=lambda r: (r.renewal_date, r.account_id),
    )
    is_manager = caller.principal.role in (TeamRole.ADMIN, TeamRole.MANAGER)
    view = Cockpit(today, ctas, overdue, renewals, is_manager)
    if is_manager:
        names = _names(platform)
        grouped: dict[str, dict[str, int]] = {}
        for (who, type_), n in cta_counts(platform, visible).items():
            grouped.setdefault(who, {})[type_] = n
        view.counts = sorted(
            (
                OwnerCounts(who, names.get(who, who), by_type, sum(by_type.values()))
                for who, by_type in grouped.items()
            ),
            key=lambda r: (-r.total, r.owner),
        )
        for row in view.counts:
            for type_, n in row.by_type.items():
                view.type_totals[type_] = view.type_totals.get(type_, 0) + n
    return view


@dataclass
class CtaPage:
    cta: CtaView
    can_work: bool
    owner_name: str | None
    task_owners: dict[str, str]
    events: list[dict[str, Any]]
    #: the pooled team the CTA is assigned to, by name
    team_name: str | None = None
    #: active team members a task can be reassigned to (id, name)
    people: list[tuple[str, str]] = field(default_factory=list)


def cta_page(platform: Platform, caller: Caller, cta_id: int) -> CtaPage:
    """A CTA with its tasks and history; NotFound outside the caller's book."""
    cta = get_cta(platform, cta_id, readable_account_ids(platform, caller))
    names = _names(platform)
    events = [e for e in list_events(platform, cta.account_id) if e["cta_id"] == cta.id]
    with platform.store.session() as session:
        team_name = session.scalar(sa.select(Team.name).where(Team.id == cta.team_id))
        people = [
            (i, n)
            for i, n in session.execute(
                sa.select(TeamMember.id, TeamMember.name)
                .where(TeamMember.active.is_(True))
                .order_by(TeamMember.name)
            )
        ]
    return CtaPage(
        cta=cta,
        can_work=may_work(platform, caller, cta),
        owner_name=names.get(cta.owner_id or ""),
        task_owners=names,
        events=events,
        team_name=team_name,
        people=people,
    )


def account_ctas(platform: Platform, account_id: str) -> list[CtaView]:
    """The account's open, in-progress and snoozed CTAs (the 360's caller may read it)."""
    return list_ctas(platform, account_id=account_id, status="active")


def cta_timeline(platform: Platform, account_id: str) -> list[dict[str, Any]]:
    """CTA and task events of the account, for its timeline."""
    return list_events(platform, account_id)
