"""The CSM's work: the cockpit, a CTA page with its tasks, and the account 360's work forms
(log an activity, set the sentiment, edit contacts, open a CTA by hand)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import RedirectResponse, Response

from kizuna.actions import (
    close_cta,
    log_activity,
    open_cta,
    reassign_task,
    rules_for,
    set_task_status,
    snooze_cta,
)
from kizuna.actions.access import authorise_cta
from kizuna.actions.techtouch import contact_preference, set_contact_preference
from kizuna.auth.audit import record_audit
from kizuna.customers.schemas import ContactIn, ContactPatch
from kizuna.customers.service import authorise_account, create_record, update_record
from kizuna.errors import Conflict, InvalidInput, NotFound, Problem, validation_code
from kizuna.health import record_sentiment
from kizuna.web import action_views
from kizuna.web.pages import (
    NavEntry,
    PageContext,
    form_action,
    login_required,
    render,
)
from kizuna.web.problems import error_problems
from kizuna.web.routes.account360 import render_account

router = APIRouter()
NAV = (NavEntry("cockpit", "Cockpit", order=5),)

Field = Annotated[str, Form()]


def _date(value: str, field: str) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        bad = Problem(
            f"{value!r} is not a date (YYYY-MM-DD)", field=field, code="date_format",
            params={"value": value},
        )  # fmt: skip
        raise InvalidInput("invalid date", [bad]) from None


def _cta_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(
            f"no CTA {raw[:40]}", code="unknown", params={"table": "ctas", "value": raw[:40]}
        )
    return int(raw)


@router.get("/cockpit", name="cockpit")
def cockpit_page(ctx: Annotated[PageContext, Depends(login_required)]) -> Response:
    view = action_views.cockpit(ctx.figures, ctx.caller)
    return render(
        ctx,
        "cockpit.html",
        view=view,
        L=action_views.LABELS,
        T=action_views.titles(ctx.figures, ctx.lang),
    )


def _cta(ctx: PageContext, cta_id: int, status_code: int = 200, problems: Any = ()) -> Response:
    page = action_views.cta_page(ctx.platform, ctx.caller, cta_id)
    return render(
        ctx,
        "cta.html",
        status_code=status_code,
        page=page,
        L=action_views.LABELS,
        T=action_views.titles(ctx.figures, ctx.lang),
        problems=list(problems),
        today=ctx.platform.today(),
    )


@router.get("/ctas/{cta_id}", name="cta_page")
def cta_view(cta_id: str, ctx: Annotated[PageContext, Depends(login_required)]) -> Response:
    return _cta(ctx, _cta_id(cta_id))


def _after(ctx: PageContext, csrf_token: str, cta_id: int, work: Callable[[], object]) -> Response:
    """A CTA form: its page again when refused (a closed CTA, a bad date), else back to it."""
    return form_action(
        ctx,
        csrf_token,
        work,
        done=lambda _: RedirectResponse(ctx.url("cta_page", cta_id=cta_id), status_code=303),
        refused=lambda exc: _cta(ctx, cta_id, exc.status_code, error_problems(exc)),
        refuse=(InvalidInput, Conflict),
    )


def _task(ctx: PageContext, cta_id: str, task_id: str) -> tuple[int, Any, Any]:
    """The CTA's number, the CTA and its task ``task_id``, for a caller who may work on it."""
    number = _cta_id(cta_id)
    page = authorise_cta(ctx.platform, ctx.caller, number, write=True)
    task = next((t for t in page.tasks if str(t.id) == task_id), None)
    if task is None:
        raise NotFound(
            f"no task {task_id[:40]}",
            code="unknown",
            params={"table": "tasks", "value": task_id[:40]},
        )
    return number, page, task


@router.post("/ctas/{cta_id}/tasks/{task_id}", name="cta_task")
def cta_task(
    cta_id: str,
    task_id: str,
    ctx: Annotated[PageContext, Depends(login_required)],
    csrf_token: Field = "",
    status: Field = "done",
) -> Response:
    me = ctx.caller.principal.member_id

    def work() -> None:
        _number, _page, task = _task(ctx, cta_id, task_id)
        set_task_status(ctx.platform, task.id, status=status, actor=me)

    return _after(ctx, csrf_token, _cta_id(cta_id), work)


@router.post("/ctas/{cta_id}/tasks/{task_id}/reassign", name="cta_task_reassign")
def cta_task_reassign(
    cta_id: str,
    task_id: str,
    ctx: Annotated[PageContext, Depends(login_required)],
    csrf_token: Field = "",
    owner_id: Field = "",
) -> Response:
    me = ctx.caller.principal.member_id

    def work() -> None:
        number, page, task = _task(ctx, cta_id, task_id)
        reassign_task(ctx.platform, task.id, owner_id=owner_id, actor=me)
        record_audit(
            ctx.platform, ctx.caller, action="task_reassign", resource="ctas",
            resource_id=str(number), account_id=page.account_id,
            detail=f"task {task.id} to {owner_id}",
        )  # fmt: skip

    return _after(ctx, csrf_token, _cta_id(cta_id), work)


@router.post("/ctas/{cta_id}/close", name="cta_close")
def cta_close(
    cta_id: str,
    ctx: Annotated[PageContext, Depends(login_required)],
    csrf_token: Field = "",
    outcome: Field = "won",
    note: Field = "",
) -> Response:
    number = _cta_id(cta_id)
    me = ctx.caller.principal.member_id

    def work() -> None:
        authorise_cta(ctx.platform, ctx.caller, number, write=True)
        close_cta(ctx.platform, number, outcome=outcome, actor=me, note=note or None)

    return _after(ctx, csrf_token, number, work)


@router.post("/ctas/{cta_id}/snooze", name="cta_snooze")
def cta_snooze(
    cta_id: str,
    ctx: Annotated[PageContext, Depends(login_required)],
    csrf_token: Field = "",
    until: Field = "",
    reason: Field = "",
) -> Response:
    number = _cta_id(cta_id)
    me = ctx.caller.principal.member_id

    def work() -> None:
        authorise_cta(ctx.platform, ctx.caller, number, write=True)
        day = _date(until, "until")
        if day is None:
            problem = Problem("choose a date", field="until", code="choose_date")
            raise InvalidInput("invalid snooze", [problem])
        snooze_cta(ctx.platform, number, until=day, reason=reason, actor=me)

    return _after(ctx, csrf_token, number, work)


# -- the account 360's work forms ---------------------------------------------


def _account_form(
    ctx: PageContext, csrf_token: str, account_id: str, anchor: str, work: Callable[[], object]
) -> Response:
    """A work form of the account 360: the page again with the problems, else back to it."""

    def act() -> None:  # the caller must be allowed to change the account, whatever the form
        authorise_account(ctx.platform, ctx.caller, account_id, "accounts", write=True)
        work()

    return form_action(
        ctx,
        csrf_token,
        act,
        done=lambda _: RedirectResponse(
            ctx.url("account", account_id=account_id) + anchor, status_code=303
        ),
        refused=lambda exc: render_account(
            ctx, account_id, status_code=422, action_problems=error_problems(exc)
        ),
    )


@router.post("/accounts/{account_id}/log", name="log_activity")
def log_activity_form(
    account_id: str,
    ctx: Annotated[PageContext, Depends(login_required)],
    csrf_token: Field = "",
    kind: Field = "note",
    text: Field = "",
    contact_id: Field = "",
    activity_date: Field = "",
) -> Response:
    me = ctx.caller.principal.member_id
    return _account_form(
        ctx,
        csrf_token,
        account_id,
        "#timeline",
        lambda: log_activity(
            ctx.platform, account_id, kind=kind, text=text, author_id=me,
            on=_date(activity_date, "activity_date"), contact_id=contact_id or None,
        ),
    )  # fmt: skip


@router.post("/accounts/{account_id}/sentiment", name="set_sentiment")
def sentiment_form(
    account_id: str,
    ctx: Annotated[PageContext, Depends(login_required)],
    csrf_token: Field = "",
    value: Field = "",
    comment: Field = "",
) -> Response:
    me = ctx.caller.principal.member_id

    def work() -> None:
        if not value.isdigit():
            problem = Problem("choose 1 to 5", field="value", code="choose_sentiment")
            raise InvalidInput("invalid sentiment", [problem])
        record_sentiment(ctx.platform, account_id, int(value), me, comment or None)

    return _account_form(ctx, csrf_token, account_id, "#work", work)


@router.post("/accounts/{account_id}/ctas", name="open_cta_form")
def open_cta_form(
    account_id: str,
    ctx: Annotated[PageContext, Depends(login_required)],
    csrf_token: Field = "",
    type: Field = "activity",
    title: Field = "",
    priority: Field = "medium",
    due_date: Field = "",
    playbook: Field = "",
) -> Response:
    me = ctx.caller.principal.member_id
    return _account_form(
        ctx,
        csrf_token,
        account_id,
        "#ctas",
        lambda: open_cta(
            ctx.platform, account_id, type=type, title=title, actor=me, priority=priority,
            due_date=_date(due_date, "due_date"), playbook=playbook or None,
            ruleset=rules_for(ctx.platform.settings.home),
        ),
    )  # fmt: skip


@router.post("/accounts/{account_id}/contacts/prefs", name="save_contact_prefs")
def save_contact_prefs(
    account_id: str,
    ctx: Annotated[PageContext, Depends(login_required)],
    csrf_token: Field = "",
    contact_id: Field = "",
    language: Field = "",
    opt_out: Field = "",
) -> Response:

    def work() -> None:
        if contact_preference(ctx.platform, contact_id).account_id != account_id:
            raise NotFound(
                f"no contact {contact_id[:64]}",
                code="unknown",
                params={"table": "contacts", "value": contact_id[:64]},
            )
        done = set_contact_preference(
            ctx.platform, contact_id, language=language or None,
            opted_out=True if opt_out else None,
        )  # fmt: skip
        record_audit(
            ctx.platform, ctx.caller, action="update", resource="contact_preferences",
            resource_id=contact_id, account_id=account_id,
            detail=f"language {done.language}{', opted out' if opt_out else ''}",
        )  # fmt: skip

    return _account_form(ctx, csrf_token, account_id, "#contacts", work)


@router.post("/accounts/{account_id}/contacts", name="save_contact")
def save_contact(
    account_id: str,
    ctx: Annotated[PageContext, Depends(login_required)],
    csrf_token: Field = "",
    contact_id: Field = "",
    name: Field = "",
    email: Field = "",
    title: Field = "",
    success_role: Field = "other",
    new: Field = "",
) -> Response:

    def work() -> None:
        values: dict[str, Any] = {
            "name": name, "email": email or None, "title": title or None,
            "success_role": success_role,
        }  # fmt: skip
        try:
            if new:
                create_record(
                    ctx.platform, ctx.caller, "contacts",
                    ContactIn.model_validate(
                        {"id": contact_id, "account_id": account_id, **values}
                    ),
                )  # fmt: skip
            else:
                update_record(
                    ctx.platform, ctx.caller, "contacts", contact_id,
                    ContactPatch.model_validate(values),
                )  # fmt: skip
        except ValueError as exc:  # pydantic's ValidationError: the form's values
            raise InvalidInput("the contact is not valid", _problems(exc)) from None

    return _account_form(ctx, csrf_token, account_id, "#contacts", work)


def _problems(exc: ValueError) -> list[Problem]:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return [Problem(str(exc))]
    return [
        Problem(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}",
            field=str(e["loc"][-1]),
            code=code,
            params={**params, "field": str(e["loc"][-1])},
        )
        for e in errors()
        for code, params in [validation_code(e)]
    ]
