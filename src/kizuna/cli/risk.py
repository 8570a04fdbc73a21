"""CLI commands of churn risk: train, score, show, evaluate, models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from kizuna.cli._common import JsonOption, console, emit, err_console, get_platform, parse_dates
from kizuna.errors import InvalidInput, NotFound, Problem
from kizuna.risk import RiskConfig, list_models, load_model, score, train
from kizuna.risk.report import account_risk, evaluation_view

risk_app = typer.Typer(
    help="Churn risk: a point-in-time model, per-account reasons, an honest evaluation.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add the ``kizuna risk`` group to the root app."""
    app.add_typer(risk_app, name="risk")


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _ci(pair: list[float | None] | None) -> str:
    if not pair or pair[0] is None or pair[1] is None:
        return ""
    return f" [{pair[0]:.3f}, {pair[1]:.3f}]"


@risk_app.command("train")
def train_cmd(
    as_of: str | None = typer.Option(None, "--as-of", help="Training date (default: today)."),
    lead_days: int = typer.Option(90, "--lead-days", min=0, help="Lead time of the backtest."),
    window_days: int = typer.Option(30, "--window-days", min=1, help="Label window length."),
    grace_days: int = typer.Option(30, "--grace-days", min=0, help="Days a renewal may be late."),
    contraction: float = typer.Option(
        0.2, "--contraction", min=0.0, max=1.0, help="ARR drop counted as contraction (0.2 = 20%)."
    ),
    derived_cap: int = typer.Option(
        30, "--derived-cap", min=0, help="Most event types given derived metrics."
    ),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=50, help="Bootstrap resamples."),
    job: str | None = typer.Option(
        None, "--job", hidden=True, help="Record the outcome in this background training job."
    ),
    as_json: JsonOption = False,
) -> None:
    """Train, backtest and save a churn model; prints its AUC and lift beside health's."""
    platform = get_platform()
    day = parse_dates(as_of=as_of)["as_of"]
    config = RiskConfig(
        lead_days=lead_days,
        window_days=window_days,
        grace_days=grace_days,
        contraction_threshold=contraction,
        derived_cap=derived_cap,
        n_boot=bootstrap,
    )

    def progress(what: str, done: int, total: int) -> None:
        if not as_json:
            err_console.print(f"  {what} {done}/{total}", highlight=False)

    if job is None:
        result = train(platform, day, config, progress=progress)
    else:  # started by the API (kizuna.risk.jobs): the job records how it ended
        from kizuna.risk.jobs import finish_job

        try:
            result = train(platform, day, config, progress=progress)
        except Exception as exc:
            finish_job(platform.settings, job, error=str(exc) or type(exc).__name__)
            raise
        finish_job(platform.settings, job, version=result.version, evaluation=result.evaluation)

    def render(r: Any) -> None:
        bt = r.evaluation.get("backtest")
        console.print(
            f"model {r.version} ({r.model}) trained as of {r.as_of} on {r.labelled_rows} "
            f"renewal observations ({r.churn_rate:.1%} churned); history {r.history_seconds} s, "
            f"training {r.train_seconds} s"
        )
        if bt:
            console.print(
                f"backtest at a {r.evaluation['lead_days']}-day lead ({', '.join(bt['dates'])}; "
                f"{bt['n']} renewals, {bt['churned']} churned):"
            )
            console.print(f"  AUC {_fmt(bt['auc'])}{_ci(bt['auc_ci'])}")
            health = bt["health"]
            console.print(f"  health score alone: AUC {_fmt(health['auc'])}{_ci(health['auc_ci'])}")
            if bt.get("difference"):
                d = bt["difference"]
                console.print(
                    f"  model − health: {_fmt(d['auc'])}{_ci([d['ci_low'], d['ci_high']])}"
                )
            console.print(
                f"  top-decile lift {_fmt(bt['top_decile_lift'], 2)}, Brier {_fmt(bt['brier'])}"
            )
        for note in r.notes:
            console.print(f"note: {note}", highlight=False)

    emit(result, as_json, render)


@risk_app.command("score")
def score_cmd(
    as_of: str | None = typer.Option(None, "--as-of", help="Date to score (default: today)."),
    version: str | None = typer.Option(None, "--model", help="Model version (default: newest)."),
    as_json: JsonOption = False,
) -> None:
    """Score every account with the newest model and store the scores of the date."""
    platform = get_platform()
    day = parse_dates(as_of=as_of)["as_of"]
    run = score(platform, day, load_model(platform.settings, version))
    emit(
        run,
        as_json,
        lambda r: console.print(
            f"scored {r.accounts} accounts as of {r.as_of} with model {r.model_version} in "
            f"{r.seconds:.2f} s: {r.bands['high']} high, {r.bands['medium']} medium, "
            f"{r.bands['low']} low risk; ARR at risk {r.arr_at_risk:,.0f}"
        ),
    )


@risk_app.command("show")
def show_cmd(
    account: str = typer.Argument(..., help="Account id."),
    as_of: str | None = typer.Option(
        None, "--as-of", help="Scores of this date (default: latest)."
    ),
    lang: str = typer.Option("en", "--lang", help="Language of the drivers: en or ja."),
    as_json: JsonOption = False,
) -> None:
    """An account's churn probability, band, expected renewal ARR and top drivers."""
    if lang not in ("en", "ja"):
        raise InvalidInput("invalid language", [Problem("use en or ja", field="--lang")])
    platform = get_platform()
    day = parse_dates(as_of=as_of)["as_of"]
    result = account_risk(platform.settings, account, day, lang)

    def render(r: Any) -> None:
        console.print(
            f"[bold]{r['account_id']}[/] as of {r['as_of']}: churn probability "
            f"{r['probability']:.1%} ({r['band_label']}); next renewal {r['renewal_date']} "
            f"({r['days_to_renewal']} days), ARR up {r['arr_up']:,.0f}, expected "
            f"{r['expected_renewal_arr']:,.0f}"
        )
        for d in r["drivers"]:
            console.print(f"  • {d['text']}  ({d['contribution']:+.2f})", highlight=False)

    emit(result, as_json, render)


@risk_app.command("evaluate")
def evaluate_cmd(
    out: Path | None = typer.Option(None, "--out", help="Write the HTML report here."),
    version: str | None = typer.Option(None, "--model", help="Model version (default: newest)."),
    lang: str = typer.Option("en", "--lang", help="Language of the HTML report: en or ja."),
    as_json: JsonOption = False,
) -> None:
    """The evaluation of a model: backtest AUC, lift, Brier, calibration, health beside it."""
    if lang not in ("en", "ja"):
        raise InvalidInput("invalid language", [Problem("use en or ja", field="--lang")])
    platform = get_platform()
    model = load_model(platform.settings, version)
    view = evaluation_view(model.meta, lang)
    if out is not None:
        from kizuna.web.risk_views import render_report

        out.write_text(render_report(view, lang), encoding="utf-8")

    def render(v: Any) -> None:
        bt = v["backtest"]
        console.print(f"model {v['version']} ({v['model']}), trained as of {v['as_of']}")
        if bt:
            console.print(
                f"backtest AUC {_fmt(bt['auc'])}{_ci(bt['auc_ci'])}; health alone "
                f"{_fmt(bt['health']['auc'])}{_ci(bt['health']['auc_ci'])}; lift "
                f"{_fmt(bt['top_decile_lift'], 2)}; Brier {_fmt(bt['brier'])}"
            )
        if out is not None:
            console.print(f"report written to {out}")

    emit(view, as_json, render)


@risk_app.command("models")
def models_cmd(as_json: JsonOption = False) -> None:
    """The saved churn models, newest first."""
    platform = get_platform()
    found = list_models(platform.settings)
    if not found and not as_json:
        raise NotFound("no churn model has been trained yet; run 'kizuna risk train'")
    rows = [
        {
            "version": m["version"],
            "as_of": m["as_of"],
            "model": m["model"],
            "features": len(m["features"]),
            "training_window": m["training_window"],
            "backtest_auc": (m["evaluation"].get("backtest") or {}).get("auc"),
            "health_auc": ((m["evaluation"].get("backtest") or {}).get("health") or {}).get("auc"),
        }
        for m in found
    ]

    def render(r: Any) -> None:
        table = Table("version", "as of", "model", "features", "observations", "AUC", "health AUC")
        for m in r:
            table.add_row(
                m["version"],
                m["as_of"],
                m["model"],
                str(m["features"]),
                f"{m['training_window']['first_observation']} … "
                f"{m['training_window']['last_observation']}",
                _fmt(m["backtest_auc"]),
                _fmt(m["health_auc"]),
            )
        console.print(table)

    emit(rows, as_json, render)
