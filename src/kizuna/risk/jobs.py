"""Training a churn model in the background: a job the API starts and a caller polls.

Training reads the whole book and takes from seconds to minutes, far longer
than a request should wait. :func:`start_training` takes the ``risk-train``
lock (one training at a time, on any server), writes the job record and starts
``python -m kizuna risk train --job ID`` in a process of its own — like the
daily run's trigger (:mod:`kizuna.ops.trigger`): the child never shares a
worker's CPU or memory, and a crash leaves the server alone. The child records
its result in the job (:func:`finish_job`); a thread of the server waits for it,
keeps the lock alive meanwhile, marks the job failed if the child died without
saying so, and frees the lock.

Job records are small JSON files, ``<home>/risk/jobs/<id>.json`` (beside the
model files they lead to), replaced atomically; no migration is needed.
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from kizuna.errors import Conflict, NotFound
from kizuna.ops.locks import StoreLock, lock_holder, new_owner
from kizuna.ops.trigger import start_cli_child
from kizuna.platform import Platform
from kizuna.risk.training import RiskConfig
from kizuna.settings import Settings

__all__ = [
    "JOB_ID",
    "TRAIN_LOCK",
    "TrainJob",
    "finish_job",
    "list_jobs",
    "read_job",
    "start_training",
]

log = logging.getLogger("kizuna.risk")

#: The lock a background training holds: one at a time.
TRAIN_LOCK = "risk-train"
#: Seconds the lock lives without renewal (the waiting thread renews it every third).
LOCK_TTL = 120.0
JOB_ID = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{6}$")
STATUSES = ("running", "succeeded", "failed")


@dataclass
class TrainJob:
    """One background training: what was asked, by whom, and how it ended.

    ``status`` is ``running``, ``succeeded`` (``version`` names the saved model,
    ``backtest`` its AUC beside the health score's) or ``failed`` (``error``).
    """

    id: str
    status: str
    as_of: date
    lead_days: int
    contraction: float
    requested_by: str | None
    started_at: datetime
    finished_at: datetime | None = None
    version: str | None = None
    backtest: dict[str, Any] | None = None
    error: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainJob:
        data = dict(data)
        data["as_of"] = date.fromisoformat(data["as_of"])
        for key in ("started_at", "finished_at"):
            if data.get(key):
                data[key] = datetime.fromisoformat(data[key])
        return cls(**data)


def jobs_dir(settings: Settings) -> Path:
    return settings.home / "risk" / "jobs"


def _path(settings: Settings, job_id: str) -> Path:
    if not JOB_ID.match(job_id):
        raise NotFound(f"no training job {job_id!r}")
    return jobs_dir(settings) / f"{job_id}.json"


def _write(settings: Settings, job: TrainJob) -> None:
    path = _path(settings, job.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(orjson.dumps(asdict(job), option=orjson.OPT_INDENT_2))
    os.replace(tmp, path)


def read_job(settings: Settings, job_id: str) -> TrainJob:
    """The job ``job_id``; :class:`NotFound` when there is none."""
    path = _path(settings, job_id)
    if not path.exists():
        raise NotFound(f"no training job {job_id!r}")
    return TrainJob.from_json(orjson.loads(path.read_bytes()))


def list_jobs(settings: Settings, limit: int = 20) -> list[TrainJob]:
    """The newest ``limit`` jobs, newest first."""
    root = jobs_dir(settings)
    if not root.exists():
        return []
    names = sorted((p.stem for p in root.glob("*.json") if JOB_ID.match(p.stem)), reverse=True)
    return [read_job(settings, name) for name in names[:limit]]


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def finish_job(
    settings: Settings,
    job_id: str,
    *,
    version: str | None = None,
    evaluation: dict[str, Any] | None = None,
    error: str | None = None,
) -> TrainJob:
    """Record how job ``job_id`` ended: the model it saved, or the error."""
    job = read_job(settings, job_id)
    job.finished_at = _now()
    if error is not None:
        job.status, job.error = "failed", error
    else:
        job.status, job.version = "succeeded", version
        bt = (evaluation or {}).get("backtest") or {}
        job.backtest = (
            {
                "n": bt.get("n"),
                "auc": bt.get("auc"),
                "auc_ci": bt.get("auc_ci"),
                "health_auc": (bt.get("health") or {}).get("auc"),
                "difference": bt.get("difference"),
            }
            if bt
            else None
        )
    _write(settings, job)
    return job


def start_training(
    platform: Platform, as_of: date, config: RiskConfig, requested_by: str | None = None
) -> TrainJob:
    """Start training a model as of ``as_of`` in a child process; returns the running job.

    Raises :class:`Conflict` while another training holds the lock.
    """
    settings = platform.settings
    owner = new_owner("risk-train")
    lock = StoreLock(platform.store, TRAIN_LOCK, owner, ttl=LOCK_TTL)
    if not lock.acquire():
        holder = lock_holder(platform.store, TRAIN_LOCK)
        raise Conflict(
            "a churn model is already being trained"
            + (f" ({holder.owner})" if holder is not None else "")
            + "; wait for it to finish"
        )
    now = _now()
    job = TrainJob(
        id=f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}",
        status="running",
        as_of=as_of,
        lead_days=config.lead_days,
        contraction=config.contraction_threshold,
        requested_by=requested_by,
        started_at=now,
    )
    try:
        _write(settings, job)
        command = [
            "risk",
            "train",
            "--as-of",
            as_of.isoformat(),
            "--lead-days",
            str(config.lead_days),
            "--contraction",
            str(config.contraction_threshold),
            "--job",
            job.id,
            "--json",
        ]

        def finished(returncode: int, err: str) -> None:
            try:
                if read_job(settings, job.id).status == "running":
                    tail = err.strip()[-2000:]
                    finish_job(
                        settings,
                        job.id,
                        error=f"the training process exited with code {returncode}"
                        + (f": {tail}" if tail else ""),
                    )
                    log.error("churn model training %s failed: %s", job.id, tail)
                lock.release()
            except Exception:  # the store or the folder went away: the lock expires by itself
                log.exception("churn model training %s: could not close the job", job.id)

        lock.keep_alive()
        start_cli_child(settings, command, "kizuna-risk-train", finished)
    except BaseException:
        lock.release()
        raise
    return job
