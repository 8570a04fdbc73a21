"""Admin: the daily runs — the last run with each step's duration, failures, recent runs,
and "run now" for today (the same run as ``kizuna daily`` and ``POST /ops/runs``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from kizuna.auth.audit import record_audit
from kizuna.auth.policy import can_administer
from kizuna.daily import DailyRunBusy
from kizuna.errors import PermissionDenied
from kizuna.ops import DAILY_LOCK, list_runs, lock_holder
from kizuna.ops.trigger import start_daily_run
from kizuna.web.i18n import N_
from kizuna.web.pages import NavEntry, PageContext, login_required, render, require_csrf

router = APIRouter()
NAV = (NavEntry("runs", "Daily runs", order=88, admin_only=True),)

#: The daily run's steps (kizuna.daily.STEPS) as people call them.
STEP_LABELS = {
    "lake": N_("Event lake compaction"),
    "metrics": N_("Metrics"),
    "health": N_("Health scores"),
    "lifecycle": N_("Lifecycle stages"),
    "plans": N_("Success plan status"),
    "risk": N_("Churn risk scoring"),
    "portfolio": N_("Portfolio snapshot"),
    "rules": N_("Rules and notifications"),
    "revenue": N_("Renewals and revenue"),
}
STATUS_LABELS = {
    "running": N_("Running"),
    "succeeded": N_("Succeeded"),
    "failed": N_("Failed"),
    "killed": N_("Stopped (process ended)"),
    "reused": N_("Done by the resumed run"),
}
TRIGGER_LABELS = {
    "cli": N_("Command line"),
    "scheduler": N_("Scheduler"),
    "api": N_("API or web UI"),
}


def admin_required(ctx: Annotated[PageContext, Depends(login_required)]) -> PageContext:
    if not can_administer(ctx.caller):
        raise PermissionDenied("only an admin may open the daily runs", code="admin_only")
    return ctx


def _page(ctx: PageContext, status_code: int = 200, **extra: object) -> Response:
    runs = list_runs(ctx.platform.store, limit=20)
    failed = [r for r in runs if r.status in ("failed", "killed")]
    holder = lock_holder(ctx.platform.store, DAILY_LOCK)
    return render(
        ctx,
        "runs.html",
        status_code=status_code,
        last=runs[0] if runs else None,
        runs=runs,
        failures=failed[:5],
        busy=holder is not None,
        steps=STEP_LABELS,
        statuses=STATUS_LABELS,
        triggers=TRIGGER_LABELS,
        today=ctx.platform.today(),
        daily_time=ctx.platform.settings.daily_time,
        timezone=ctx.platform.settings.timezone,
        **{"started": False, "refused": False, **extra},
    )


@router.get("/runs", name="runs")
def runs_page(ctx: Annotated[PageContext, Depends(admin_required)]) -> Response:
    return _page(ctx)


@router.post("/runs", name="runs_start")
def runs_start(
    ctx: Annotated[PageContext, Depends(admin_required)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(ctx, csrf_token)
    today = ctx.platform.today()
    try:
        start_daily_run(ctx.platform, [today], trigger="api")
    except DailyRunBusy:
        return _page(ctx, status_code=409, refused=True)
    record_audit(ctx.platform, ctx.caller, action="run", resource="daily_run", detail=str(today))
    return _page(ctx, status_code=202, started=True)
