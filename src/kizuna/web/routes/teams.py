"""Teams and who is in them, my settings (language, my teams), stored secrets (admin), and
"did it work?" — CTA outcomes by rule and by playbook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form
from fastapi.responses import RedirectResponse, Response

from kizuna.actions import rules_for
from kizuna.actions.report import playbook_report, rule_report
from kizuna.actions.teams import (
    TEAM_ROLES,
    create_team,
    delete_team,
    list_teams,
    member_language,
    remove_member,
    rename_team,
    set_member,
    set_member_language,
    teams_of,
)
from kizuna.auth import vault
from kizuna.auth.audit import record_audit
from kizuna.auth.policy import can_administer
from kizuna.errors import ConfigError, Conflict, InvalidInput, NotFound, PermissionDenied
from kizuna.store.models import TeamMember, TeamRole
from kizuna.web import action_views, i18n
from kizuna.web.i18n import N_
from kizuna.web.pages import (
    NavEntry,
    PageContext,
    form_action,
    login_required,
    render,
    require_csrf,
)
from kizuna.web.problems import error_problems

router = APIRouter()
NAV = (
    NavEntry("rules_report", "Did it work?", order=6),
    NavEntry("teams", "Teams", order=85),
    NavEntry("my_settings", "My settings", order=95),
    NavEntry("secrets", "Secrets", order=91, admin_only=True),
)
#: team roles' labels, for the catalog
TEAM_ROLE_LABELS = {"lead": N_("Team lead"), "member": N_("Team member")}

SECRET_LABELS = {
    "smtp_password": N_("SMTP password"),
    "notify_webhook_secret": N_("Webhook signing key"),
    "notify_slack_url": N_("Slack incoming-webhook URL"),
}

Field = Annotated[str, Form()]


def _is_manager(ctx: PageContext) -> bool:
    return ctx.caller.principal.role in (TeamRole.ADMIN, TeamRole.MANAGER)


def _people(ctx: PageContext) -> list[tuple[str, str]]:
    with ctx.platform.store.session() as session:
        return [
            (i, n)
            for i, n in session.execute(
                sa.select(TeamMember.id, TeamMember.name)
                .where(TeamMember.active.is_(True))
                .order_by(TeamMember.name)
            )
        ]


def _teams_page(ctx: PageContext, status_code: int = 200, problems: Any = ()) -> Response:
    return render(
        ctx,
        "teams.html",
        status_code=status_code,
        teams=list_teams(ctx.platform),
        people=_people(ctx),
        can_manage=_is_manager(ctx),
        ROLE_LABELS=TEAM_ROLE_LABELS,
        TEAM_ROLES=TEAM_ROLES,
        problems=list(problems),
    )


@router.get("/teams", name="teams")
def teams_page(ctx: Annotated[PageContext, Depends(login_required)]) -> Response:
    return _teams_page(ctx)


def _team_change(
    ctx: PageContext, csrf_token: str, action: str, team_id: str, work: Callable[[], str]
) -> Response:
    """A change to a team by a manager or an admin, audited; the page again when refused."""

    def act() -> str:
        if not _is_manager(ctx):
            record_audit(ctx.platform, ctx.caller, action=action, resource="teams",
                         allowed=False, detail="needs a manager or an admin")  # fmt: skip
            raise PermissionDenied(
                "changing teams needs a manager or an admin", code="manager_only"
            )
        return work()

    def done(detail: str) -> Response:
        record_audit(ctx.platform, ctx.caller, action=action, resource="teams",
                     resource_id=team_id, detail=detail)  # fmt: skip
        return RedirectResponse(ctx.url("teams") + f"#team-{team_id}", status_code=303)

    return form_action(
        ctx,
        csrf_token,
        act,
        done,
        lambda exc: _teams_page(ctx, exc.status_code, error_problems(exc)),
        refuse=(InvalidInput, Conflict, NotFound),
    )


@router.post("/teams", name="team_create")
def team_create(
    ctx: Annotated[PageContext, Depends(login_required)],
    csrf_token: Field = "",
    team_id: Field = "",
    name: Field = "",
) -> Response:
    return _team_change(
        ctx, csrf_token, "create", team_id,
        lambda: create_team(ctx.platform, team_id.strip(), name).name,
    )  # fmt: skip


@router.post("/teams/{team_id}/rename", name="team_rename")
def team_rename(
    team_id: str,
    ctx: Annotated[PageContext, Depends(login_required)],
    csrf_token: Field = "",
    name: Field = "",
) -> Response:
    return _team_change(
        ctx, csrf_token, "update", team_id,
        lambda: f"renamed {rename_team(ctx.platform, team_id, name).name}",
    )  # fmt: skip


@router.post("/teams/{team_id}/delete", name="team_delete")
def team_delete(
    team_id: str, ctx: Annotated[PageContext, Depends(login_required)], csrf_token: Field = ""
) -> Response:
    def work() -> str:
        delete_team(ctx.platform, team_id)
        return "deleted"

    return _team_change(ctx, csrf_token, "delete", team_id, work)


@router.post("/teams/{team_id}/members", name="team_member_set")
def team_member_set(
    team_id: str,
    ctx: Annotated[PageContext, Depends(login_required)],
    csrf_token: Field = "",
    member_id: Field = "",
    role: Field = "member",
) -> Response:
    def work() -> str:
        set_member(ctx.platform, team_id, member_id, role)
        return f"{member_id} as {role}"

    return _team_change(ctx, csrf_token, "member_set", team_id, work)


@router.post("/teams/{team_id}/members/{member_id}/remove", name="team_member_remove")
def team_member_remove(
    team_id: str,
    member_id: str,
    ctx: Annotated[PageContext, Depends(login_required)],
    csrf_token: Field = "",
) -> Response:
    def work() -> str:
        remove_member(ctx.platform, team_id, member_id)
        return member_id

    return _team_change(ctx, csrf_token, "member_remove", team_id, work)


# -- my settings -------------------------------------------------------------


@router.get("/me", name="my_settings")
def my_settings(ctx: Annotated[PageContext, Depends(login_required)]) -> Response:
    me = ctx.caller.principal.member_id
    return render(
        ctx,
        "my_settings.html",
        chosen=member_language(ctx.platform, me),
        my_teams=teams_of(ctx.platform, me),
        ROLE_LABELS=TEAM_ROLE_LABELS,
    )


@router.post("/me", name="my_settings_save")
def my_settings_save(
    ctx: Annotated[PageContext, Depends(login_required)],
    csrf_token: Field = "",
    language: Field = "",
) -> Response:
    require_csrf(ctx, csrf_token)
    me = ctx.caller.principal.member_id
    set_member_language(ctx.platform, me, language)
    record_audit(ctx.platform, ctx.caller, action="update", resource="preferences",
                 resource_id=me, detail=f"language {language}")  # fmt: skip
    response = RedirectResponse(ctx.url("my_settings"), status_code=303)
    response.set_cookie(i18n.LANG_COOKIE, language, max_age=365 * 24 * 3600, samesite="lax",
                        path="/")  # fmt: skip
    return response


# -- stored secrets (admin) ----------------------------------------------------


def _admin(ctx: PageContext) -> None:
    if not can_administer(ctx.caller):
        raise PermissionDenied("only an admin may manage secrets", code="admin_only")


def _secrets_page(ctx: PageContext, status_code: int = 200, problems: Any = ()) -> Response:
    return render(
        ctx,
        "secrets.html",
        status_code=status_code,
        secrets=vault.list_secrets(ctx.platform),
        keyed=ctx.platform.settings.secrets_key is not None,
        LABELS=SECRET_LABELS,
        problems=list(problems),
    )


@router.get("/secrets", name="secrets")
def secrets_page(ctx: Annotated[PageContext, Depends(login_required)]) -> Response:
    _admin(ctx)
    return _secrets_page(ctx)


@router.post("/secrets", name="secret_set")
def secret_set(
    ctx: Annotated[PageContext, Depends(login_required)],
    csrf_token: Field = "",
    name: Field = "",
    value: Field = "",
    delete: Field = "",
) -> Response:
    me = ctx.caller.principal.member_id

    def act() -> None:
        _admin(ctx)
        if delete:
            vault.delete_secret(ctx.platform, name)
        else:
            vault.set_secret(ctx.platform, name, value, me)

    def done(_: None) -> Response:
        record_audit(ctx.platform, ctx.caller, action="delete" if delete else "update",
                     resource="secrets", resource_id=name,
                     detail="deleted" if delete else "stored encrypted")  # fmt: skip
        return RedirectResponse(ctx.url("secrets"), status_code=303)

    return form_action(
        ctx,
        csrf_token,
        act,
        done,
        lambda exc: _secrets_page(ctx, exc.status_code, error_problems(exc)),
        refuse=(InvalidInput, Conflict, NotFound, ConfigError),
    )


# -- did it work? --------------------------------------------------------------


@router.get("/rules/report", name="rules_report")
def rules_report_page(ctx: Annotated[PageContext, Depends(login_required)]) -> Response:
    ruleset = rules_for(ctx.platform.settings.home)
    ja = ctx.lang == "ja"
    rule_names = {r.id: (r.name_ja if ja and r.name_ja else r.name) for r in ruleset.rules}
    playbook_names = {p.id: (p.name_ja if ja and p.name_ja else p.name) for p in ruleset.playbooks}
    return render(
        ctx,
        "rules_report.html",
        rules=rule_report(ctx.platform),
        playbooks=playbook_report(ctx.platform),
        rule_names=rule_names,
        playbook_names=playbook_names,
        T=action_views.titles(ctx.figures, ctx.lang),
    )
