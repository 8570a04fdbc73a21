"""Churn risk in the web UI: the evaluation page, the account 360 panel, and the report file."""

from __future__ import annotations

from typing import Any

from kizuna.errors import NotFound
from kizuna.platform import Platform
from kizuna.risk.registry import list_models
from kizuna.risk.report import account_risk, evaluation_view
from kizuna.web import i18n
from kizuna.web.pages import build_environment


def latest_evaluation(platform: Platform, lang: str) -> dict[str, Any] | None:
    """The newest model's evaluation view, or None before any model was trained."""
    found = list_models(platform.settings)
    return evaluation_view(found[0], lang) if found else None


def account_panel(platform: Platform, account_id: str, lang: str) -> dict[str, Any] | None:
    """The account's latest stored risk (None when it was never scored)."""
    try:
        return account_risk(platform.settings, account_id, None, lang)
    except NotFound:
        return None


def render_report(view: dict[str, Any], lang: str) -> str:
    """The evaluation as a standalone HTML document (``kizuna risk evaluate --out``)."""
    env = build_environment()
    with i18n.use_locale(lang):
        return env.get_template("risk_report.html").render(ev=view, lang=lang)
