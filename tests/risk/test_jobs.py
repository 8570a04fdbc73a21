"""Background training jobs: the child process records how it ended; one at a time."""

from __future__ import annotations

import time
from datetime import date

import pytest

from kizuna.errors import Conflict, NotFound
from kizuna.ops.locks import StoreLock, lock_holder
from kizuna.platform import Platform
from kizuna.risk.jobs import TRAIN_LOCK, list_jobs, read_job, start_training
from kizuna.risk.training import RiskConfig


def test_a_failed_training_is_recorded_and_frees_the_lock(sqlite_platform: Platform) -> None:
    platform = sqlite_platform  # no contracts: nothing to learn from
    job = start_training(platform, date(2025, 6, 30), RiskConfig(lead_days=60), "T0001")
    assert (job.status, job.lead_days, job.requested_by) == ("running", 60, "T0001")
    with pytest.raises(Conflict, match="already being trained"):
        start_training(platform, date(2025, 6, 30), RiskConfig())
    deadline = time.monotonic() + 300
    while read_job(platform.settings, job.id).status == "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    while lock_holder(platform.store, TRAIN_LOCK) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    done = read_job(platform.settings, job.id)
    assert done.status == "failed" and done.version is None
    assert "renewals with a known outcome" in (done.error or "")
    assert done.finished_at is not None and done.finished_at >= done.started_at
    assert [j.id for j in list_jobs(platform.settings)] == [job.id]
    assert StoreLock(platform.store, TRAIN_LOCK, "next").acquire()


def test_unknown_or_malformed_job_ids_are_not_found(sqlite_platform: Platform) -> None:
    for job_id in ("20250101T000000-abcdef", "../../etc/passwd"):
        with pytest.raises(NotFound):
            read_job(sqlite_platform.settings, job_id)
