"""Reading risk back: one account's stored score explained, a model's evaluation as a view."""

from __future__ import annotations

from datetime import date
from typing import Any

from kizuna.errors import NotFound
from kizuna.risk.scores import account_history, latest_score_date, read_scores
from kizuna.risk.vocab import BAND_LABELS, label, sentence
from kizuna.settings import Settings


def driver_view(driver: dict[str, Any], lang: str) -> dict[str, Any]:
    """A stored driver with its label and sentence in ``lang``."""
    return {
        **driver,
        "label": label(str(driver["feature"]), lang),
        "direction": "raises" if driver["contribution"] > 0 else "lowers",
        "text": sentence(driver, lang),
    }


def account_risk(
    settings: Settings, account_id: str, as_of: date | None = None, lang: str = "en"
) -> dict[str, Any]:
    """The account's stored score on ``as_of`` (default: the latest scored date)."""
    day = as_of or latest_score_date(settings)
    if day is None:
        raise NotFound("no churn risk scores yet: run 'kizuna risk train' and 'kizuna risk score'")
    table = read_scores(settings, day, account_id)
    if table is None or table.num_rows == 0:
        raise NotFound(f"no churn risk score for account {account_id!r} on {day}")
    row = table.to_pylist()[0]
    k = 1 if lang == "ja" else 0
    return {
        "account_id": account_id,
        "as_of": row["as_of"],
        "model_version": row["model_version"],
        "probability": row["probability"],
        "band": row["band"],
        "band_label": BAND_LABELS[row["band"]][k],
        "contraction_probability": row["contraction_probability"],
        "arr": row["arr"],
        "arr_up": row["arr_up"],
        "renewal_date": row["renewal_date"],
        "days_to_renewal": row["days_to_renewal"],
        "expected_renewal_arr": row["expected_renewal_arr"],
        "health_score": row["health_score"],
        "drivers": [driver_view(d, lang) for d in row["drivers"]],
        "history": account_history(settings, account_id),
    }


def evaluation_view(meta: dict[str, Any], lang: str = "en") -> dict[str, Any]:
    """A model's evaluation with labelled features, for the report and the UI."""
    ev = meta["evaluation"]
    importance = [
        {**item, "label": label(item["feature"], lang)} for item in ev.get("importance", [])
    ]
    deciles = [
        {"feature": name, "label": label(name, lang), "rows": rows}
        for name, rows in ev.get("deciles", {}).items()
    ]
    return {
        "version": meta["version"],
        "as_of": meta["as_of"],
        "model": meta["model"],
        "params": meta["params"],
        "training_window": meta["training_window"],
        "config": meta["config"],
        "lead_days": ev.get("lead_days"),
        "window_days": ev.get("window_days"),
        "backtest": ev.get("backtest"),
        "candidates": ev.get("candidates", []),
        "importance": importance,
        "deciles": deciles,
        "contraction": ev.get("contraction"),
        "derived_metrics": [m["name"] for m in meta.get("derived_metrics", [])],
        "features": len(meta["features"]),
    }
