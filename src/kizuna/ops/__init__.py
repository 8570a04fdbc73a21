"""Operating Kizuna: the daily run's log, the lock between processes, the scheduler,
Prometheus metrics and structured logs (issue 19).

* :mod:`kizuna.ops.locks` — a named lock in the store with an owner and an expiry;
* :mod:`kizuna.ops.runlog` — each daily run and step in the store;
* :mod:`kizuna.ops.scheduler` — starts the daily run at the configured time;
* :mod:`kizuna.ops.prom` — the Prometheus registry behind ``/ops/metrics``;
* :mod:`kizuna.ops.logs` — plain or JSON log lines.
"""

from kizuna.ops.locks import DAILY_LOCK, LockHolder, StoreLock, lock_holder, new_owner
from kizuna.ops.runlog import TRIGGERS, RunInfo, RunLog, StepInfo, list_runs, run_of

__all__ = [
    "DAILY_LOCK",
    "TRIGGERS",
    "LockHolder",
    "RunInfo",
    "RunLog",
    "StepInfo",
    "StoreLock",
    "list_runs",
    "lock_holder",
    "new_owner",
    "run_of",
]
