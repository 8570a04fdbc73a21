"""Churn risk in the web UI: the evaluation page, the account 360 panel, and the report file."""

from __future__ import annotations

from typing import Any

from kizuna.errors import NotFound
from kizuna.platform import Platform
from kizuna.risk.registry import list_models
from kizuna.risk.report import account_risk, evaluation_view
from kizuna.risk.scores import latest_score_date, read_scores
from kizuna.web import i18n


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
    from kizuna.web.pages import build_environment

    env = build_environment()
    with i18n.use_locale(lang):
        return env.get_template("risk_report.html").render(ev=view, lang=lang)


def risk_by_account(platform: Platform) -> dict[str, tuple[float, str]]:
    """Each scored account's probability and band on the latest scored date up to today."""
    day = latest_score_date(platform.settings, platform.today())
    table = read_scores(platform.settings, day) if day else None
    if table is None:
        return {}
    ids = table.column("account_id").to_pylist()
    p = table.column("probability").to_pylist()
    bands = table.column("band").to_pylist()
    return {a: (float(v), str(b)) for a, v, b in zip(ids, p, bands, strict=True)}


def arr_at_risk(platform: Platform, account_ids: set[str] | None = None) -> dict[str, Any] | None:
    """ARR up for renewal, expected renewal ARR and ARR at risk over the scored accounts
    (``account_ids``: only these), on the latest scored date up to today."""
    day = latest_score_date(platform.settings, platform.today())
    table = read_scores(platform.settings, day) if day else None
    if table is None:
        return None
    rows = table.select(["account_id", "arr_up", "expected_renewal_arr", "band"]).to_pylist()
    if account_ids is not None:
        rows = [r for r in rows if r["account_id"] in account_ids]
    up = sum(r["arr_up"] for r in rows)
    expected = sum(r["expected_renewal_arr"] for r in rows)
    return {
        "as_of": day,
        "arr_up": up,
        "expected_renewal_arr": expected,
        "arr_at_risk": up - expected,
        "high": sum(1 for r in rows if r["band"] == "high"),
        "accounts": len(rows),
    }
