"""Working calls to action: list, show, open by hand, close, snooze, and their playbook tasks.

Every change lands on the account's timeline as a :class:`CtaEvent`. ``actor`` is
who did it (a team member id, or ``rules`` for the rule run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kizuna.actions.definitions import Playbook, RuleSet
from kizuna.actions.model import (
    ACTIVE_STATUSES,
    CLOSED_STATUSES,
    CTA_TYPES,
    PRIORITIES,
    STATUSES,
    priority_name,
    priority_value,
)
from kizuna.errors import Conflict, InvalidInput, NotFound, Problem, not_one_of
from kizuna.platform import Platform
from kizuna.store.actions_models import CallToAction, CtaEvent, CtaTask
from kizuna.store.models import Account, Activity, ActivityKind, Contact, TeamMember

__all__ = [
    "CtaView",
    "OpenTask",
    "TaskView",
    "add_event",
    "close_cta",
    "create_tasks",
    "cta_counts",
    "get_cta",
    "list_ctas",
    "list_events",
    "log_activity",
    "open_cta",
    "open_tasks",
    "reassign_task",
    "set_task_status",
    "snooze_cta",
    "start_cta",
]


@dataclass
class TaskView:
    id: int
    position: int
    title: str
    due_date: date
    owner_id: str | None
    status: str
    done_on: date | None
    done_by: str | None
    note: str | None


@dataclass
class CtaView:
    """A CTA as the CLI, API and pages show it."""

    id: int
    account_id: str
    account_name: str | None
    rule_id: str | None
    type: str
    priority: str
    title: str
    reason: str
    facts: dict[str, Any]
    status: str
    outcome: str | None
    tier: str | None
    owner_id: str | None
    team_id: str | None
    assignee_kind: str
    playbook_id: str | None
    queued_on: date | None
    opened_on: date | None
    due_date: date | None
    snoozed_until: date | None
    snooze_reason: str | None
    closed_on: date | None
    closed_by: str | None
    tasks: list[TaskView] = field(default_factory=list)

    @property
    def all_tasks_finished(self) -> bool:
        """Every task done or skipped: the page offers to close the CTA."""
        return bool(self.tasks) and all(t.status != "open" for t in self.tasks)


def _view(cta: CallToAction, name: str | None, tasks: list[CtaTask]) -> CtaView:
    return CtaView(
        id=cta.id,
        account_id=cta.account_id,
        account_name=name,
        rule_id=cta.rule_id,
        type=cta.type,
        priority=priority_name(cta.priority),
        title=cta.title,
        reason=cta.reason,
        facts=dict(cta.facts or {}),
        status=cta.status,
        outcome=cta.outcome,
        tier=cta.tier,
        owner_id=cta.owner_id,
        team_id=cta.team_id,
        assignee_kind=cta.assignee_kind,
        playbook_id=cta.playbook_id,
        queued_on=cta.queued_on,
        opened_on=cta.opened_on,
        due_date=cta.due_date,
        snoozed_until=cta.snoozed_until,
        snooze_reason=cta.snooze_reason,
        closed_on=cta.closed_on,
        closed_by=cta.closed_by,
        tasks=[
            TaskView(t.id, t.position, t.title, t.due_date, t.owner_id, t.status, t.done_on,
                     t.done_by, t.note)
            for t in sorted(tasks, key=lambda t: t.position)
        ],
    )  # fmt: skip


def add_event(
    session: Session,
    cta: CallToAction,
    on: date,
    kind: str,
    actor: str | None,
    text: str,
    task_id: int | None = None,
    params: dict[str, Any] | None = None,
) -> None:
    """Record what happened to ``cta``: ``kind`` says what, ``text`` in English (the command
    line's and the API's words) and ``params`` the values it names, for the UI's words."""
    session.add(
        CtaEvent(
            account_id=cta.account_id,
            cta_id=cta.id,
            task_id=task_id,
            on_date=on,
            kind=kind,
            actor=actor,
            text=text,
            params=params,
        )
    )


def create_tasks(
    session: Session,
    cta: CallToAction,
    playbook: Playbook,
    opened_on: date,
    account_owner: str | None,
) -> None:
    """The playbook's tasks for ``cta``: due ``opened_on + due_days``, owners resolved."""
    for position, template in enumerate(playbook.tasks, start=1):
        if template.owner == "cta_owner":
            owner = cta.owner_id
        elif template.owner == "account_owner":
            owner = account_owner
        else:
            owner = template.owner
        session.add(
            CtaTask(
                cta_id=cta.id,
                position=position,
                title=template.title,
                due_date=opened_on + timedelta(days=template.due_days),
                owner_id=owner,
                status="open",
            )
        )


def _query_scope(query: Any, account_ids: set[str] | None) -> Any:
    return query if account_ids is None else query.where(CallToAction.account_id.in_(account_ids))


def list_ctas(
    platform: Platform,
    *,
    owner: str | None = None,
    status: str | None = None,
    account_id: str | None = None,
    type: str | None = None,
    visible_accounts: set[str] | None = None,
    limit: int = 1000,
) -> list[CtaView]:
    """CTAs by priority (highest first) then due date; ``status`` ``active`` means not closed.

    ``visible_accounts`` limits the list to a caller's book (None: every account).
    """
    problems = []
    if status is not None and status not in STATUSES and status != "active":
        problems.append(
            Problem(
                f"unknown status {status!r}; use one of {', '.join([*STATUSES, 'active'])}",
                field="status",
            )
        )
    if type is not None and type not in CTA_TYPES:
        problems.append(
            Problem(f"unknown type {type!r}; use one of {', '.join(CTA_TYPES)}", field="type")
        )
    if problems:
        raise InvalidInput("invalid CTA filter", problems)
    query = sa.select(CallToAction, Account.name).join(
        Account, Account.id == CallToAction.account_id
    )
    if owner is not None:
        query = query.where(CallToAction.owner_id == owner)
    if status == "active":
        query = query.where(CallToAction.status.in_([s for s in ACTIVE_STATUSES if s != "queued"]))
    elif status is not None:
        query = query.where(CallToAction.status == status)
    if account_id is not None:
        query = query.where(CallToAction.account_id == account_id)
    if type is not None:
        query = query.where(CallToAction.type == type)
    query = _query_scope(query, visible_accounts)
    query = query.order_by(
        CallToAction.priority.desc(), CallToAction.due_date.asc(), CallToAction.id.asc()
    ).limit(limit)
    with platform.store.session() as session:
        rows = session.execute(query).all()
        ids = [c.id for c, _ in rows]
        tasks: dict[int, list[CtaTask]] = {}
        if ids:
            for t in session.scalars(sa.select(CtaTask).where(CtaTask.cta_id.in_(ids))):
                tasks.setdefault(t.cta_id, []).append(t)
        return [_view(c, n, tasks.get(c.id, [])) for c, n in rows]


def _load(session: Session, cta_id: int, visible: set[str] | None) -> CallToAction:
    cta = session.get(CallToAction, cta_id)
    if cta is None or (visible is not None and cta.account_id not in visible):
        raise _no("ctas", cta_id, f"no CTA {cta_id}")
    return cta


def _no(table: str, value: object, message: str) -> NotFound:
    """``NotFound`` for the row ``value`` of ``table``, with the code the UI words it by."""
    return NotFound(message, code="unknown", params={"table": table, "value": value})


def _no_member(owner_id: str) -> Problem:
    return Problem(f"no team member {owner_id!r}", field="owner_id", code="unknown",
                   params={"table": "team", "value": owner_id})  # fmt: skip


def get_cta(platform: Platform, cta_id: int, visible_accounts: set[str] | None = None) -> CtaView:
    """One CTA with its tasks; NotFound also outside ``visible_accounts``."""
    with platform.store.session() as session:
        cta = _load(session, cta_id, visible_accounts)
        name = session.scalar(sa.select(Account.name).where(Account.id == cta.account_id))
        tasks = list(session.scalars(sa.select(CtaTask).where(CtaTask.cta_id == cta.id)))
        return _view(cta, name, tasks)


def list_events(platform: Platform, account_id: str) -> list[dict[str, Any]]:
    """The CTA events of an account, newest first (for its timeline)."""
    with platform.store.session() as session:
        rows = session.execute(
            sa.select(CtaEvent, CallToAction.title)
            .join(CallToAction, CallToAction.id == CtaEvent.cta_id)
            .where(CtaEvent.account_id == account_id)
            .order_by(CtaEvent.on_date.desc(), CtaEvent.id.desc())
        ).all()
        return [
            {"on": e.on_date, "kind": e.kind, "actor": e.actor, "text": e.text, "cta_id": e.cta_id,
             "cta_title": title, "task_id": e.task_id, "params": e.params}
            for e, title in rows
        ]  # fmt: skip


def open_cta(
    platform: Platform,
    account_id: str,
    *,
    type: str,
    title: str,
    actor: str,
    priority: str = "medium",
    reason: str | None = None,
    due_date: date | None = None,
    owner_id: str | None = None,
    playbook: str | None = None,
    ruleset: RuleSet | None = None,
    visible_accounts: set[str] | None = None,
) -> CtaView:
    """Open a CTA by hand (no rule: no dedupe, no budget).

    ``owner_id`` defaults to the account's owner.
    """
    today = platform.today()
    problems = []
    if type not in CTA_TYPES:
        problems.append(not_one_of("type", type, CTA_TYPES))
    if priority not in PRIORITIES:
        problems.append(not_one_of("priority", priority, PRIORITIES))
    if not title.strip() or len(title) > 300:
        problems.append(
            Problem("a title of 1 to 300 characters is needed", field="title",
                    code="text_length", params={"max": 300})
        )  # fmt: skip
    if due_date is not None and due_date < today:
        problems.append(
            Problem(f"due date {due_date} is before today ({today})", field="due_date",
                    code="date_before_today", params={"date": due_date, "today": today})
        )  # fmt: skip
    book = None
    if playbook is not None:
        book = ruleset.playbook(playbook) if ruleset else None
        if book is None:
            problems.append(
                Problem(f"unknown playbook {playbook!r}", field="playbook", code="unknown",
                        params={"table": "playbooks", "value": playbook})
            )  # fmt: skip
    if problems:
        raise InvalidInput("the CTA is not valid", problems)
    with platform.store.session() as session:
        account = session.get(Account, account_id)
        if account is None or (visible_accounts is not None and account_id not in visible_accounts):
            raise _no("accounts", account_id, f"no account {account_id!r}")
        owner = owner_id or account.owner_id
        if owner_id is not None and session.get(TeamMember, owner_id) is None:
            raise InvalidInput("the CTA is not valid", [_no_member(owner_id)])
        cta = CallToAction(
            account_id=account_id,
            rule_id=None,
            type=type,
            priority=priority_value(priority),
            title=title.strip(),
            reason=(reason or "").strip() or f"opened by {actor}",
            facts={},
            status="open",
            owner_id=owner,
            assignee_kind="owner",
            playbook_id=playbook,
            opened_on=today,
            due_date=due_date or today + timedelta(days=7),
            created_by=actor,
            created_at=platform.clock.now(),
            updated_at=platform.clock.now(),
        )
        session.add(cta)
        session.flush()
        if book is not None:
            create_tasks(session, cta, book, today, account.owner_id)
        add_event(session, cta, today, "opened", actor, f"CTA opened: {cta.title}")
        cta_id = cta.id
    return get_cta(platform, cta_id)


def _require_active(cta: CallToAction) -> None:
    if cta.status in CLOSED_STATUSES:
        raise Conflict(
            f"CTA {cta.id} is already closed ({cta.status})",
            code="cta_closed", params={"status": cta.status},
        )  # fmt: skip


def close_cta(
    platform: Platform,
    cta_id: int,
    *,
    outcome: str,
    actor: str,
    note: str | None = None,
    visible_accounts: set[str] | None = None,
) -> CtaView:
    """Close a CTA as ``won`` or ``lost`` (with an optional note saying how it ended)."""
    if outcome not in ("won", "lost"):
        raise InvalidInput(
            "invalid outcome",
            [not_one_of("outcome", outcome, ("won", "lost"), "outcome must be won or lost")],
        )
    today = platform.today()
    with platform.store.session() as session:
        cta = _load(session, cta_id, visible_accounts)
        _require_active(cta)
        cta.status = f"closed_{outcome}"
        cta.outcome = (note or "").strip() or f"closed {outcome}"
        cta.closed_on = today
        cta.closed_by = actor
        cta.dedupe_key = None
        cta.updated_at = platform.clock.now()
        add_event(
            session,
            cta,
            today,
            f"closed_{outcome}",
            actor,
            f"CTA closed ({outcome}): {cta.outcome}",
            params={"note": cta.outcome},
        )
    return get_cta(platform, cta_id)


def snooze_cta(
    platform: Platform,
    cta_id: int,
    *,
    until: date,
    reason: str,
    actor: str,
    visible_accounts: set[str] | None = None,
) -> CtaView:
    """Snooze a CTA until ``until`` (after today) with a reason; rules keep it quiet till then."""
    today = platform.today()
    problems = []
    if until <= today:
        problems.append(
            Problem(f"snooze until a day after today ({today}), got {until}", field="until",
                    code="snooze_until", params={"date": until, "today": today})
        )  # fmt: skip
    if not reason.strip():
        problems.append(Problem("say why the CTA is snoozed", field="reason", code="snooze_reason"))
    if problems:
        raise InvalidInput("invalid snooze", problems)
    with platform.store.session() as session:
        cta = _load(session, cta_id, visible_accounts)
        _require_active(cta)
        if cta.status == "queued":
            raise Conflict(f"CTA {cta_id} is queued, not yet open", code="cta_queued")
        cta.status = "snoozed"
        cta.snoozed_until = until
        cta.snooze_reason = reason.strip()
        cta.updated_at = platform.clock.now()
        add_event(
            session, cta, today, "snoozed", actor, f"CTA snoozed until {until}: {reason.strip()}",
            params={"date": until.isoformat(), "note": reason.strip()},
        )  # fmt: skip
    return get_cta(platform, cta_id)


def start_cta(
    platform: Platform, cta_id: int, *, actor: str, visible_accounts: set[str] | None = None
) -> CtaView:
    """Mark an open (or snoozed) CTA as in progress."""
    today = platform.today()
    with platform.store.session() as session:
        cta = _load(session, cta_id, visible_accounts)
        _require_active(cta)
        if cta.status == "queued":
            raise Conflict(f"CTA {cta_id} is queued, not yet open", code="cta_queued")
        cta.status = "in_progress"
        cta.snoozed_until = None
        cta.updated_at = platform.clock.now()
        add_event(session, cta, today, "in_progress", actor, "CTA in progress")
    return get_cta(platform, cta_id)


def _task(session: Session, task_id: int, visible: set[str] | None) -> tuple[CtaTask, CallToAction]:
    task = session.get(CtaTask, task_id)
    if task is None:
        raise _no("tasks", task_id, f"no task {task_id}")
    cta = _load(session, task.cta_id, visible)
    return task, cta


def set_task_status(
    platform: Platform,
    task_id: int,
    *,
    status: str,
    actor: str,
    note: str | None = None,
    visible_accounts: set[str] | None = None,
) -> CtaView:
    """Mark a task ``done`` or ``skipped`` (or ``open`` again); returns its CTA."""
    if status not in ("done", "skipped", "open"):
        raise InvalidInput(
            "invalid task status",
            [
                not_one_of(
                    "status",
                    status,
                    ("done", "skipped", "open"),
                    "status must be done, skipped or open",
                )
            ],
        )
    today = platform.today()
    with platform.store.session() as session:
        task, cta = _task(session, task_id, visible_accounts)
        _require_active(cta)
        task.status = status
        task.done_on = today if status != "open" else None
        task.done_by = actor if status != "open" else None
        task.note = note.strip() if note and note.strip() else task.note
        if cta.status == "open" and status != "open":
            cta.status = "in_progress"
        cta.updated_at = platform.clock.now()
        words = {"done": "done", "skipped": "skipped", "open": "reopened"}[status]
        add_event(
            session, cta, today, f"task_{status}", actor, f"Task {words}: {task.title}", task.id,
            params={"task": task.title},
        )  # fmt: skip
        cta_id = cta.id
    return get_cta(platform, cta_id)


def reassign_task(
    platform: Platform,
    task_id: int,
    *,
    owner_id: str,
    actor: str,
    visible_accounts: set[str] | None = None,
) -> CtaView:
    """Give a task to another team member."""
    today = platform.today()
    with platform.store.session() as session:
        member = session.get(TeamMember, owner_id)
        if member is None:
            raise InvalidInput("invalid owner", [_no_member(owner_id)])
        task, cta = _task(session, task_id, visible_accounts)
        _require_active(cta)
        task.owner_id = owner_id
        add_event(
            session,
            cta,
            today,
            "task_reassigned",
            actor,
            f"Task reassigned to {member.name}: {task.title}",
            task.id,
            params={"owner": member.name, "owner_id": owner_id, "task": task.title},
        )
        cta_id = cta.id
    return get_cta(platform, cta_id)


def log_activity(
    platform: Platform,
    account_id: str,
    *,
    kind: str,
    text: str,
    author_id: str | None,
    on: date | None = None,
    contact_id: str | None = None,
    visible_accounts: set[str] | None = None,
) -> dict[str, Any]:
    """Log a note, call, meeting or e-mail on the account's timeline (optionally with a contact)."""
    import uuid

    today = platform.today()
    on = on or today
    problems = []
    if kind not in [k.value for k in ActivityKind]:
        problems.append(not_one_of("kind", kind, [k.value for k in ActivityKind]))
    if not text.strip():
        problems.append(Problem("write what happened", field="text", code="activity_text"))
    if on > today:
        problems.append(
            Problem(f"date {on} is after today ({today})", field="activity_date",
                    code="date_after_today", params={"date": on, "today": today})
        )  # fmt: skip
    if problems:
        raise InvalidInput("the activity is not valid", problems)
    with platform.store.session() as session:
        if session.get(Account, account_id) is None or (
            visible_accounts is not None and account_id not in visible_accounts
        ):
            raise _no("accounts", account_id, f"no account {account_id!r}")
        if contact_id is not None:
            contact = session.get(Contact, contact_id)
            if contact is None or contact.account_id != account_id:
                raise InvalidInput(
                    "the activity is not valid",
                    [
                        Problem(
                            f"no contact {contact_id!r} at this account",
                            field="contact_id",
                            code="unknown",
                            params={"table": "contacts", "value": contact_id},
                        )
                    ],
                )
        activity = Activity(
            id=f"K-{uuid.uuid4().hex[:20]}",
            account_id=account_id,
            kind=ActivityKind(kind),
            author_id=author_id,
            activity_date=on,
            text=text.strip(),
            contact_id=contact_id,
        )
        session.add(activity)
        return {
            "id": activity.id, "account_id": account_id, "kind": kind, "author_id": author_id,
            "activity_date": on, "text": activity.text, "contact_id": contact_id,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class OpenTask:
    """An open task with its CTA and account, for a CSM's list of work."""

    task_id: int
    title: str
    due_date: date
    cta_id: int
    cta_title: str
    account_id: str
    account_name: str | None


def open_tasks(
    platform: Platform,
    owner: str,
    *,
    due_before: date | None = None,
    visible_accounts: set[str] | None = None,
) -> list[OpenTask]:
    """Open tasks of ``owner`` on active CTAs (due before ``due_before``: overdue), by due date."""
    query = (
        sa.select(CtaTask, CallToAction.title, CallToAction.account_id, Account.name)
        .join(CallToAction, CallToAction.id == CtaTask.cta_id)
        .join(Account, Account.id == CallToAction.account_id)
        .where(
            CtaTask.owner_id == owner,
            CtaTask.status == "open",
            CallToAction.status.in_(("open", "in_progress", "snoozed")),
        )
        .order_by(CtaTask.due_date, CtaTask.id)
    )
    if due_before is not None:
        query = query.where(CtaTask.due_date < due_before)
    query = _query_scope(query, visible_accounts)
    with platform.store.session() as session:
        return [
            OpenTask(t.id, t.title, t.due_date, t.cta_id, title, account, name)
            for t, title, account, name in session.execute(query)
        ]


def cta_counts(
    platform: Platform, visible_accounts: set[str] | None = None
) -> dict[tuple[str, str], int]:
    """Active CTAs (open, in progress, snoozed) per (assignee, type), for a manager's view."""
    query = (
        sa.select(
            CallToAction.owner_id, CallToAction.team_id, CallToAction.assignee_kind,
            CallToAction.type, sa.func.count(),
        )
        .where(CallToAction.status.in_(("open", "in_progress", "snoozed")))
        .group_by(
            CallToAction.owner_id, CallToAction.team_id, CallToAction.assignee_kind,
            CallToAction.type,
        )
    )  # fmt: skip
    query = _query_scope(query, visible_accounts)
    out: dict[tuple[str, str], int] = {}
    with platform.store.session() as session:
        for owner, team, kind, type_, n in session.execute(query):
            who = "digital" if kind == "digital" else (f"team:{team}" if team else owner or "")
            out[who, type_] = out.get((who, type_), 0) + int(n)
    return out
