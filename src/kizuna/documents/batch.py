"""A quarter's EBRs for many accounts at once: ``kizuna report ebr --all``.

Metric values are read once for every account of the batch (one pass over the
stored dates) and handed to each document; one failing account is recorded
with its message and never stops the others.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import sqlalchemy as sa

from kizuna.clock import Clock
from kizuna.documents.facts import USAGE_METRICS, SeriesCache
from kizuna.documents.service import render
from kizuna.plans import list_plans
from kizuna.platform import Platform
from kizuna.settings import Settings
from kizuna.store.plans_models import Plan, PlanKpi, PlanState

Progress = Callable[[str, bool], None]


@dataclass
class BatchResult:
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (account, message)


def batch_accounts(
    platform: Platform, as_of: date, *, segment: str | None = None, owner: str | None = None
) -> list[str]:
    """Accounts with an active plan, of ``segment`` and ``owner`` when given."""
    plans = list_plans(platform, as_of, segment=segment, owner_id=owner)
    return sorted({p.account_id for p in plans})


def _kpi_metrics(platform: Platform, accounts: list[str]) -> set[str]:
    with platform.store.session() as session:
        return set(
            session.scalars(
                sa.select(PlanKpi.metric)
                .join(Plan, Plan.id == PlanKpi.plan_id)
                .where(
                    Plan.account_id.in_(accounts),
                    Plan.state == PlanState.ACTIVE,
                    PlanKpi.metric.is_not(None),
                )
                .distinct()
            )
        )


def _render_share(
    platform: Platform,
    accounts: list[str],
    as_of: date,
    out_dir: Path,
    options: dict[str, object],
    progress: Progress | None,
) -> BatchResult:
    series = SeriesCache(platform)
    series.preload(accounts, {*USAGE_METRICS, *_kpi_metrics(platform, accounts)})
    result = BatchResult()
    for account_id in accounts:
        try:
            doc = render(platform, "ebr", account_id, as_of=as_of, series=series, **options)  # type: ignore[arg-type]
            path = out_dir / doc.filename
            path.write_bytes(doc.content)
            result.written.append(path)
            ok = True
        except Exception as exc:  # one account's failure never stops the batch
            result.failed.append((account_id, f"{type(exc).__name__}: {exc}"))
            ok = False
        if progress is not None:
            progress(account_id, ok)
    return result


def _worker(
    settings: Settings,
    clock: Clock,
    accounts: list[str],
    as_of: date,
    out_dir: Path,
    options: dict[str, object],
) -> BatchResult:
    platform = Platform.from_settings(settings, clock=clock)
    try:
        return _render_share(platform, accounts, as_of, out_dir, options, None)
    finally:
        platform.close()


def render_ebrs(
    platform: Platform,
    as_of: date,
    out_dir: Path,
    *,
    accounts: list[str],
    fmt: str = "pdf",
    lang: str | None = None,
    internal: bool = False,
    progress: Progress | None = None,
    jobs: int = 1,
) -> BatchResult:
    """Write one EBR per account into ``out_dir``; failures are collected, not raised.

    ``jobs`` > 1 renders in that many processes (charts and PDF layout are
    CPU-bound), each taking a slice of the accounts and reading its metric
    values once; 0 means one per core.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    options: dict[str, object] = {"fmt": fmt, "lang": lang, "internal": internal}
    jobs = (os.cpu_count() or 1) if jobs == 0 else jobs
    chunk = 10
    if jobs <= 1 or len(accounts) <= chunk:
        return _render_share(platform, accounts, as_of, out_dir, options, progress)
    result = BatchResult()
    slices = [accounts[i : i + chunk] for i in range(0, len(accounts), chunk)]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {
            pool.submit(
                _worker, platform.settings, platform.clock, part, as_of, out_dir, options
            ): part
            for part in slices
        }
        for future in as_completed(futures):
            part = futures[future]
            try:
                done = future.result()
            except Exception as exc:  # a worker that died takes only its slice down
                done = BatchResult(failed=[(a, f"{type(exc).__name__}: {exc}") for a in part])
            result.written.extend(done.written)
            result.failed.extend(done.failed)
            if progress is not None:
                failed = {a for a, _ in done.failed}
                for account_id in part:
                    progress(account_id, account_id not in failed)
    result.written.sort()
    result.failed.sort()
    return result
