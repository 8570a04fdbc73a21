"""``/ctas``, ``/tasks``, ``/rules``, ``/outbox``: calls to action and the rules that open them.

The same services as ``kizuna cta ...``, ``kizuna task ...``, ``kizuna rules ...`` and
``kizuna outbox ...``. A CTA is visible when its account is in the caller's book
(otherwise 404, like an unknown id); it may be worked by whoever may change its
account and by its own assignees. Running rules needs a manager or an admin; the
outbox needs an admin. Every change is written to the audit log.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from kizuna.actions import (
    CtaView,
    close_cta,
    list_ctas,
    list_events,
    open_cta,
    reassign_task,
    rules_for,
    run_rules,
    set_task_status,
    snooze_cta,
    start_cta,
)
from kizuna.actions.access import authorise_cta, authorise_task
from kizuna.actions.outbox import list_outbox, retry_outbox
from kizuna.actions.reasons import render_reason
from kizuna.actions.report import playbook_report, rule_report
from kizuna.actions.techtouch import contact_preference, set_contact_preference
from kizuna.api.deps import AdminDep, CallerDep, PlatformDep
from kizuna.api.encoding import ResultResponse
from kizuna.api.params import ID_PATTERN, TEXT_PATTERN, AccountId
from kizuna.auth.audit import record_audit
from kizuna.auth.policy import Caller
from kizuna.customers.service import authorise_account, readable_account_ids
from kizuna.errors import NotFound, PermissionDenied
from kizuna.platform import Platform
from kizuna.store.models import TeamRole

router = APIRouter(tags=["Calls to action"], default_response_class=ResultResponse)

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown CTA, or its account is outside the caller's book"}
}
_WRITE: dict[int | str, dict[str, Any]] = {
    **_NOT_FOUND,
    403: {"description": "The caller may not work this CTA"},
    409: {"description": "The CTA is already closed"},
}
CtaId = Annotated[int, Path(ge=1, le=2**62, description="The CTA's id.")]
ContactId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, description="The contact's id.")
]
TaskId = Annotated[int, Path(ge=1, le=2**62, description="The task's id.")]
MemberId = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]
Text = Annotated[str, Field(min_length=1, max_length=2000, pattern=TEXT_PATTERN)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CtaOpen(_Body):
    """A CTA opened by hand."""

    account_id: MemberId
    type: Literal["risk", "expansion", "lifecycle", "objective", "activity"]
    title: Annotated[str, Field(min_length=1, max_length=300, pattern=TEXT_PATTERN)]
    priority: Literal["low", "medium", "high", "urgent"] = "medium"
    reason: Text | None = None
    due_date: date | None = None
    owner_id: MemberId | None = None
    playbook: MemberId | None = None


class CtaClose(_Body):
    outcome: Literal["won", "lost"]
    note: Text | None = None


class CtaSnooze(_Body):
    until: date
    reason: Text


class TaskUpdate(_Body):
    status: Literal["done", "skipped", "open"]
    note: Text | None = None


class TaskReassign(_Body):
    owner_id: MemberId


class ContactPreferencePatch(_Body):
    """A contact's tech-touch e-mail language, and/or an opt-out (only the contact opts back in)."""

    language: Literal["en", "ja"] | None = None
    opted_out: Literal[True] | None = None


class RulesRun(_Body):
    as_of: date | None = None
    dry_run: bool = False


Lang = Annotated[
    Literal["en", "ja"],
    Query(description="The language of the reason, rendered from the rule and the stored facts."),
]


def _in_language(platform: Platform, ctas: list[CtaView], lang: str) -> list[CtaView]:
    if lang == "en":
        return ctas
    rules = {r.id: r for r in rules_for(platform.settings.home).rules}
    out = []
    for c in ctas:
        rule = rules.get(c.rule_id or "")
        text = render_reason(rule, c.facts, lang) if rule is not None else None
        out.append(replace(c, reason=text) if text else c)
    return out


def _audit(
    platform: Platform, caller: Caller, action: str, cta_id: int, account_id: str, detail: str
) -> None:
    record_audit(
        platform, caller, action=action, resource="ctas", resource_id=str(cta_id),
        account_id=account_id, detail=detail[:500],
    )  # fmt: skip


@router.get("/ctas", summary="CTAs by priority then due date (the caller's book)")
def ctas(
    platform: PlatformDep,
    caller: CallerDep,
    owner: Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)] = None,
    status: Annotated[
        Literal["queued", "open", "in_progress", "snoozed", "closed_won", "closed_lost", "active"]
        | None,
        Query(description="A status, or 'active' (open, in progress or snoozed)."),
    ] = None,
    account_id: Annotated[str | None, Query(max_length=64, pattern=ID_PATTERN)] = None,
    type: Annotated[
        Literal["risk", "expansion", "lifecycle", "objective", "activity"] | None, Query()
    ] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
    lang: Lang = "en",
) -> Any:
    visible = readable_account_ids(platform, caller)
    found = list_ctas(
        platform, owner=owner, status=status, account_id=account_id, type=type,
        visible_accounts=visible, limit=limit,
    )  # fmt: skip
    return ResultResponse(_in_language(platform, found, lang))


@router.post("/ctas", summary="Open a CTA by hand", status_code=201, responses={
    403: {"description": "The caller may not change this account"},
    404: {"description": "Unknown account, or outside the caller's book"},
})  # fmt: skip
def create(platform: PlatformDep, caller: CallerDep, body: CtaOpen) -> Any:
    authorise_account(platform, caller, body.account_id, "ctas", write=True)
    cta = open_cta(
        platform, body.account_id, type=body.type, title=body.title,
        actor=caller.principal.member_id, priority=body.priority, reason=body.reason,
        due_date=body.due_date, owner_id=body.owner_id, playbook=body.playbook,
        ruleset=rules_for(platform.settings.home) if body.playbook else None,
    )  # fmt: skip
    _audit(platform, caller, "create", cta.id, cta.account_id, cta.title)
    return ResultResponse(cta, status_code=201)


@router.get(
    "/ctas/{cta_id}", summary="One CTA with its reason, facts and tasks", responses=_NOT_FOUND
)
def show(platform: PlatformDep, caller: CallerDep, cta_id: CtaId, lang: Lang = "en") -> Any:
    return ResultResponse(
        _in_language(platform, [authorise_cta(platform, caller, cta_id)], lang)[0]
    )


@router.post("/ctas/{cta_id}/close", summary="Close a CTA as won or lost", responses=_WRITE)
def close(platform: PlatformDep, caller: CallerDep, cta_id: CtaId, body: CtaClose) -> Any:
    cta = authorise_cta(platform, caller, cta_id, write=True)
    done = close_cta(
        platform, cta_id, outcome=body.outcome, actor=caller.principal.member_id, note=body.note
    )
    _audit(platform, caller, "close", cta_id, cta.account_id, f"closed {body.outcome}")
    return ResultResponse(done)


@router.post("/ctas/{cta_id}/snooze", summary="Snooze a CTA until a date", responses=_WRITE)
def snooze(platform: PlatformDep, caller: CallerDep, cta_id: CtaId, body: CtaSnooze) -> Any:
    cta = authorise_cta(platform, caller, cta_id, write=True)
    done = snooze_cta(
        platform, cta_id, until=body.until, reason=body.reason, actor=caller.principal.member_id
    )
    _audit(platform, caller, "snooze", cta_id, cta.account_id, f"until {body.until}")
    return ResultResponse(done)


@router.post("/ctas/{cta_id}/start", summary="Mark a CTA in progress", responses=_WRITE)
def start(platform: PlatformDep, caller: CallerDep, cta_id: CtaId) -> Any:
    cta = authorise_cta(platform, caller, cta_id, write=True)
    done = start_cta(platform, cta_id, actor=caller.principal.member_id)
    _audit(platform, caller, "start", cta_id, cta.account_id, "in progress")
    return ResultResponse(done)


@router.get(
    "/accounts/{account_id}/cta-events",
    summary="What was done to the account's CTAs and tasks, newest first (its timeline)",
    responses={404: {"description": "Unknown account, or outside the caller's book"}},
)
def events(platform: PlatformDep, caller: CallerDep, account_id: AccountId) -> Any:
    authorise_account(platform, caller, account_id, "ctas")
    return ResultResponse(list_events(platform, account_id))


@router.post("/tasks/{task_id}", summary="Mark a task done, skipped or open again", responses={
    **_WRITE, 404: {"description": "Unknown task, or its account is outside the caller's book"},
})  # fmt: skip
def task(platform: PlatformDep, caller: CallerDep, task_id: TaskId, body: TaskUpdate) -> Any:
    cta = authorise_task(platform, caller, task_id)
    done = set_task_status(
        platform, task_id, status=body.status, actor=caller.principal.member_id, note=body.note
    )
    _audit(platform, caller, f"task_{body.status}", cta.id, cta.account_id, f"task {task_id}")
    return ResultResponse(done)


@router.post("/tasks/{task_id}/reassign", summary="Give a task to another team member", responses={
    **_WRITE, 404: {"description": "Unknown task, or its account is outside the caller's book"},
})  # fmt: skip
def reassign(platform: PlatformDep, caller: CallerDep, task_id: TaskId, body: TaskReassign) -> Any:
    cta = authorise_task(platform, caller, task_id)
    done = reassign_task(
        platform, task_id, owner_id=body.owner_id, actor=caller.principal.member_id
    )
    _audit(
        platform,
        caller,
        "task_reassign",
        cta.id,
        cta.account_id,
        f"task {task_id} to {body.owner_id}",
    )
    return ResultResponse(done)


_CONTACT: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown contact, or its account is outside the caller's book"}
}


def _contact_account(platform: Platform, caller: Caller, contact_id: str, write: bool) -> None:
    try:
        account_id = contact_preference(platform, contact_id).account_id
        authorise_account(platform, caller, account_id, "contacts", write=write)
    except NotFound:
        raise NotFound(f"no contact {contact_id}") from None


@router.get(
    "/contacts/{contact_id}/preferences",
    summary="A contact's tech-touch e-mail language and opt-out",
    responses=_CONTACT,
)
def contact_preferences(platform: PlatformDep, caller: CallerDep, contact_id: ContactId) -> Any:
    _contact_account(platform, caller, contact_id, write=False)
    return ResultResponse(contact_preference(platform, contact_id))


@router.patch(
    "/contacts/{contact_id}/preferences",
    summary="Set a contact's e-mail language, or opt them out of tech-touch e-mails",
    responses={**_CONTACT, 403: {"description": "The caller may not change this account"}},
)
def contact_preferences_set(
    platform: PlatformDep, caller: CallerDep, contact_id: ContactId, body: ContactPreferencePatch
) -> Any:
    _contact_account(platform, caller, contact_id, write=True)
    done = set_contact_preference(
        platform, contact_id, language=body.language, opted_out=body.opted_out
    )
    record_audit(
        platform, caller, action="update", resource="contact_preferences", resource_id=contact_id,
        account_id=done.account_id,
        detail=f"language {done.language}{', opted out' if body.opted_out else ''}",
    )  # fmt: skip
    return ResultResponse(done)


@router.get("/rules", summary="The rule set in use: rules, playbooks, coverage tiers, budget")
def rules(platform: PlatformDep, caller: CallerDep) -> Any:
    ruleset = rules_for(platform.settings.home)
    return ResultResponse(
        {
            "source": ruleset.source,
            "budget": ruleset.budget.model_dump(),
            "rules": [
                {**r.model_dump(exclude={"when"}), "condition": str(r.condition)}
                for r in ruleset.rules
            ],
            "playbooks": [p.model_dump() for p in ruleset.playbooks],
            "tiers": [t.model_dump(exclude={"when"}) for t in ruleset.coverage.tiers],
        }
    )


@router.post("/rules/run", summary="Run the rules as of a date (a past date runs dry)", responses={
    403: {"description": "Needs a manager or an admin"},
    422: {"description": "A date after today"},
})  # fmt: skip
def rules_run(platform: PlatformDep, caller: CallerDep, body: RulesRun | None = None) -> Any:
    request = body or RulesRun()
    if caller.principal.role not in (TeamRole.ADMIN, TeamRole.MANAGER):
        record_audit(platform, caller, action="run", resource="rules", allowed=False,
                     detail="needs a manager or an admin")  # fmt: skip
        raise PermissionDenied("running the rules needs a manager or an admin")
    result = run_rules(platform, request.as_of, dry_run=request.dry_run)
    record_audit(
        platform, caller, action="run", resource="rules",
        detail=f"as of {result.as_of}{' (dry)' if result.dry else ''}",
    )  # fmt: skip
    return ResultResponse(result.to_dict())


@router.get("/rules/report", summary="Did it work? Per rule: opened, closed, what happened next")
def rules_report(platform: PlatformDep, caller: CallerDep) -> Any:

    return ResultResponse(rule_report(platform))


@router.get(
    "/playbooks/report",
    summary="Did it work? Per playbook: CTAs opened, closed won / lost / resolved, days to close",
)
def playbooks_report(platform: PlatformDep, caller: CallerDep) -> Any:

    return ResultResponse(playbook_report(platform))


@router.get("/outbox", summary="Notifications waiting, sent or failed (admin)")
def outbox(
    platform: PlatformDep,
    caller: AdminDep,
    status: Annotated[Literal["pending", "sent", "failed", "cancelled"] | None, Query()] = None,
) -> Any:
    return ResultResponse(list_outbox(platform, status))


@router.post("/outbox/retry", summary="Queue failed notifications again (admin)")
def outbox_retry(platform: PlatformDep, caller: AdminDep) -> Any:
    count = retry_outbox(platform)
    record_audit(platform, caller, action="retry", resource="outbox", detail=f"{count} requeued")
    return ResultResponse({"requeued": count})
