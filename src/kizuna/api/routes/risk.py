"""``/risk``: churn risk per account, the models and their evaluation; score and train.

The answers are those of ``kizuna risk show|models|evaluate|score|train --json``.
Reading an account's risk follows the account scope (outside the caller's book
is "not found"); the list holds only accounts the caller may read. Scoring and
training change what everyone sees, so they need the admin or manager role and
are written to the audit log (denials too).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import pyarrow.compute as pc
from fastapi import APIRouter, Query
from fastapi import Path as FastApiPath

from kizuna.api.deps import CallerDep, PlatformDep
from kizuna.api.encoding import ResultResponse
from kizuna.api.params import ID_PATTERN, AccountId, AsOf
from kizuna.auth.audit import record_audit
from kizuna.auth.policy import Caller
from kizuna.customers.service import authorise_account, readable_account_ids
from kizuna.errors import NotFound, PermissionDenied
from kizuna.platform import Platform
from kizuna.risk import RiskConfig, list_models, load_model, read_scores, score, train
from kizuna.risk.jobs import JOB_ID, list_jobs, read_job, start_training
from kizuna.risk.report import account_risk, evaluation_view
from kizuna.risk.scores import latest_score_date
from kizuna.store.models import TeamRole

router = APIRouter(prefix="/risk", tags=["Churn risk"], default_response_class=ResultResponse)

Lang = Annotated[Literal["en", "ja"], Query(description="Language of labels and drivers.")]
Version = Annotated[
    str | None,
    Query(max_length=11, pattern=ID_PATTERN, description="Model version (default: the newest)."),
]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown account, outside the caller's book, or not scored"}
}


def _require_manager(platform: Platform, caller: Caller, what: str) -> None:
    if caller.principal.role not in (TeamRole.ADMIN, TeamRole.MANAGER):
        record_audit(
            platform, caller, action=what, resource="risk", allowed=False, detail="needs manager"
        )
        raise PermissionDenied(f"{what} needs the admin or manager role")


@router.get("/accounts", summary="Accounts by churn probability, riskiest first")
def list_accounts(
    platform: PlatformDep,
    caller: CallerDep,
    as_of: AsOf = None,
    band: Literal["high", "medium", "low"] | None = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 100,
) -> Any:
    day = latest_score_date(platform.settings, as_of)
    table = read_scores(platform.settings, day) if day else None
    if table is None:
        raise NotFound("no churn risk scores yet: train a model and score ('kizuna risk score')")
    table = table.drop_columns(["drivers"])
    if band is not None:
        table = table.filter(pc.equal(table["band"], band))
    readable = readable_account_ids(platform, caller)
    if readable is not None:
        table = table.filter(pc.is_in(table["account_id"], value_set=_array(readable)))
    table = table.sort_by([("probability", "descending"), ("account_id", "ascending")])
    rows = table.slice(0, limit).to_pylist()
    return ResultResponse({"as_of": day, "count": len(rows), "accounts": rows})


def _array(ids: set[str]) -> Any:
    import pyarrow as pa

    return pa.array(sorted(ids), pa.string())


@router.get(
    "/accounts/{account_id}",
    summary="One account's churn probability, band, expected renewal ARR and drivers",
    responses=_NOT_FOUND,
)
def show(
    platform: PlatformDep,
    caller: CallerDep,
    account_id: AccountId,
    as_of: AsOf = None,
    lang: Lang = "en",
) -> Any:
    authorise_account(platform, caller, account_id, "risk")
    day = latest_score_date(platform.settings, as_of) if as_of else None
    return ResultResponse(account_risk(platform.settings, account_id, day, lang))


@router.get("/models", summary="The saved churn models, newest first")
def models(platform: PlatformDep, caller: CallerDep) -> Any:
    found = list_models(platform.settings)
    return ResultResponse(
        {
            "models": [
                {
                    "version": m["version"],
                    "as_of": m["as_of"],
                    "model": m["model"],
                    "features": len(m["features"]),
                    "training_window": m["training_window"],
                    "backtest": (m["evaluation"].get("backtest") or {}).get("auc"),
                }
                for m in found
            ]
        }
    )


@router.get("/evaluation", summary="A model's evaluation: backtest, health beside it, calibration")
def evaluation(
    platform: PlatformDep, caller: CallerDep, version: Version = None, lang: Lang = "en"
) -> Any:
    model = load_model(platform.settings, version)
    return ResultResponse(evaluation_view(model.meta, lang))


@router.post("/score", summary="Score every account with the newest model (admin, manager)")
def score_all(platform: PlatformDep, caller: CallerDep, as_of: AsOf = None) -> Any:
    _require_manager(platform, caller, "score")
    run = score(platform, as_of)
    record_audit(
        platform, caller, action="score", resource="risk", detail=f"{run.as_of} {run.model_version}"
    )
    return ResultResponse(run)


@router.post(
    "/train",
    status_code=202,
    summary="Start training a churn model in the background (admin, manager)",
    responses={
        200: {"description": "With wait=true: trained, backtested and saved"},
        409: {"description": "Another training is running"},
    },
)
def train_model(
    platform: PlatformDep,
    caller: CallerDep,
    as_of: AsOf = None,
    lead_days: Annotated[int, Query(ge=0, le=365)] = 90,
    contraction: Annotated[float, Query(ge=0, le=1)] = 0.2,
    wait: Annotated[
        bool, Query(description="Train inside the request and answer with the result (slow).")
    ] = False,
) -> Any:
    """Training takes minutes on a large book: by default it runs in a process of its own
    and the answer is the job (202, ``Location: /risk/jobs/{id}``) to poll."""
    _require_manager(platform, caller, "train")
    day: date = as_of or platform.today()
    config = RiskConfig(lead_days=lead_days, contraction_threshold=contraction)
    if wait:
        result = train(platform, day, config)
        record_audit(platform, caller, action="train", resource="risk", detail=result.version)
        return ResultResponse(result, status_code=200)
    job = start_training(platform, day, config, requested_by=caller.principal.member_id)
    record_audit(platform, caller, action="train", resource="risk", detail=f"job {job.id}")
    return ResultResponse(job, status_code=202, headers={"Location": f"/risk/jobs/{job.id}"})


JobId = Annotated[str, FastApiPath(max_length=40, pattern=JOB_ID.pattern)]


@router.get("/jobs", summary="Background trainings, newest first (admin, manager)")
def jobs(
    platform: PlatformDep, caller: CallerDep, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> Any:
    _require_manager(platform, caller, "read jobs")
    return ResultResponse({"jobs": list_jobs(platform.settings, limit)})


@router.get(
    "/jobs/{job_id}",
    summary="One background training: running, succeeded (the model) or failed (admin, manager)",
    responses={404: {"description": "No such job"}},
)
def job(platform: PlatformDep, caller: CallerDep, job_id: JobId) -> Any:
    _require_manager(platform, caller, "read jobs")
    return ResultResponse(read_job(platform.settings, job_id))
