"""A quarter's EBRs for many accounts at once: ``kizuna report ebr --all``.

Metric values are read once for every account of the batch (one pass over the
stored dates) and handed to each document; one failing account is recorded
with its message and never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from kizuna.documents.facts import ADOPTION_METRICS, SeriesCache
from kizuna.documents.service import render
from kizuna.plans import list_plans
from kizuna.platform import Platform

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
) -> BatchResult:
    """Write one EBR per account into ``out_dir``; failures are collected, not raised."""
    out_dir.mkdir(parents=True, exist_ok=True)
    series = SeriesCache(platform)
    series.preload(accounts, ADOPTION_METRICS)
    result = BatchResult()
    for account_id in accounts:
        try:
            doc = render(
                platform,
                "ebr",
                account_id,
                fmt=fmt,
                as_of=as_of,
                lang=lang,
                internal=internal,
                series=series,
            )
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
