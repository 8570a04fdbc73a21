"""The snapshot files of the daily run, under ``<KIZUNA_HOME>/daily/as_of=<date>/``.

Each file is replaced atomically; the JSON is written and validated back through
pydantic (never unpickled), so a tampered or truncated file is an error, not code
execution. ``portfolio.json`` is written last: its presence marks a complete snapshot.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import TypeAdapter, ValidationError

from kizuna.daily.lifecycle_book import LifecycleBook
from kizuna.daily.portfolio import AccountFigures, PortfolioSnapshot
from kizuna.errors import KizunaError
from kizuna.lifecycle import OnboardingReport
from kizuna.settings import Settings

__all__ = [
    "ACCOUNTS_SCHEMA",
    "LIFECYCLE_FILE",
    "ONBOARDING_FILE",
    "PORTFOLIO_FILE",
    "daily_dir",
    "latest_portfolio",
    "lifecycle_path",
    "portfolio_dates",
    "portfolio_path",
    "read_lifecycle_book",
    "read_onboarding",
    "read_portfolio",
    "snapshot_folder",
    "write_lifecycle",
    "write_portfolio",
]

PORTFOLIO_FILE = "portfolio.json"
LIFECYCLE_FILE = "lifecycle.json"
ONBOARDING_FILE = "onboarding.json"

_DIR = re.compile(r"^as_of=(\d{4}-\d{2}-\d{2})$")

ACCOUNTS_SCHEMA = pa.schema(
    [
        pa.field("account_id", pa.string()),
        pa.field("as_of", pa.date32()),
        pa.field("arr", pa.decimal128(18, 2)),
        pa.field("renewal_date", pa.date32()),
        pa.field("health_score", pa.float64()),
        pa.field("health_band", pa.string()),
        pa.field("health_change_30d", pa.float64()),
        pa.field("stage", pa.string()),
        pa.field("overdue_milestones", pa.int32()),
        pa.field("attention", pa.list_(pa.string())),
        pa.field("cohort", pa.string()),
    ]
)


def daily_dir(settings: Settings) -> Path:
    """Folder of the daily run's portfolio snapshots."""
    return settings.home / "daily"


def snapshot_folder(settings: Settings, as_of: date) -> Path:
    """The folder of the snapshot files of ``as_of``."""
    return daily_dir(settings) / f"as_of={as_of.isoformat()}"


def _atomic_write(path: Path, write: Callable[[Any], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_lifecycle(
    settings: Settings, book: LifecycleBook, onboarding: OnboardingReport | None
) -> Path:
    """Save the lifecycle step's read models of ``book.as_of``: each account's lifecycle
    detail and the book-wide onboarding report (removed when None), each atomically.

    The portfolio step reads them (:func:`read_lifecycle_book`, :func:`read_onboarding`)
    instead of evaluating the lifecycle again.
    """
    folder = snapshot_folder(settings, book.as_of)
    _atomic_write(folder / LIFECYCLE_FILE, lambda h: h.write(_lifecycle_json().dump_json(book)))
    if onboarding is None:
        (folder / ONBOARDING_FILE).unlink(missing_ok=True)
    else:
        _atomic_write(
            folder / ONBOARDING_FILE, lambda h: h.write(_onboarding_json().dump_json(onboarding))
        )
    return folder


def read_onboarding(settings: Settings, as_of: date) -> OnboardingReport | None:
    """The onboarding report the lifecycle step saved for ``as_of`` (None: none saved)."""
    path = snapshot_folder(settings, as_of) / ONBOARDING_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return _onboarding_json().validate_json(data)
    except ValidationError as exc:
        raise KizunaError(
            f"the daily onboarding file {path} is unreadable ({exc.error_count()} problems); "
            f"re-run 'kizuna daily --as-of {as_of}'"
        ) from None


@cache
def _onboarding_json() -> TypeAdapter[OnboardingReport]:
    return TypeAdapter(OnboardingReport)


def write_portfolio(
    settings: Settings,
    snapshot: PortfolioSnapshot,
    lifecycle: LifecycleBook | None = None,
    *,
    keep_lifecycle: bool = False,
) -> Path:
    """Write (or replace) the snapshot of its date; each file replaced atomically.

    ``lifecycle`` (each account's lifecycle detail) is saved with it; without it,
    a lifecycle file an earlier run saved for the date is removed, unless
    ``keep_lifecycle`` (the lifecycle step of the same run wrote it).
    """
    folder = snapshot_folder(settings, snapshot.as_of)
    if lifecycle is not None:
        _atomic_write(
            folder / LIFECYCLE_FILE, lambda h: h.write(_lifecycle_json().dump_json(lifecycle))
        )
    elif not keep_lifecycle:
        (folder / LIFECYCLE_FILE).unlink(missing_ok=True)
    rows = [
        {
            "account_id": account_id,
            "as_of": snapshot.as_of,
            **{k: getattr(f, k) for k in AccountFigures.__slots__},
            "attention": list(f.attention),
        }
        for account_id, f in sorted(snapshot.facts.items())
    ]
    table = pa.Table.from_pylist(rows, schema=ACCOUNTS_SCHEMA)
    _atomic_write(
        folder / "accounts.parquet", lambda h: pq.write_table(table, h, compression="zstd")
    )
    # The JSON last: readers take its presence as "this date's snapshot is complete".
    _atomic_write(folder / PORTFOLIO_FILE, lambda h: h.write(_snapshot_json().dump_json(snapshot)))
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return folder


def portfolio_dates(settings: Settings) -> list[date]:
    """Dates with a complete portfolio snapshot, oldest first."""
    root = daily_dir(settings)
    if not root.exists():
        return []
    found = []
    for child in root.iterdir():
        match = _DIR.match(child.name)
        if match and (child / PORTFOLIO_FILE).exists():
            found.append(date.fromisoformat(match.group(1)))
    return sorted(found)


def portfolio_path(settings: Settings, as_of: date) -> Path:
    """The snapshot file pages read for ``as_of``."""
    return snapshot_folder(settings, as_of) / PORTFOLIO_FILE


def read_portfolio(settings: Settings, as_of: date) -> PortfolioSnapshot | None:
    """The portfolio snapshot of ``as_of`` (None: the daily run has not saved one)."""
    path = portfolio_path(settings, as_of)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return _snapshot_json().validate_json(data)
    except ValidationError as exc:
        raise KizunaError(
            f"the daily snapshot {path} is unreadable ({exc.error_count()} problems); "
            f"re-run 'kizuna daily --as-of {as_of}'"
        ) from None


@cache
def _snapshot_json() -> TypeAdapter[PortfolioSnapshot]:
    return TypeAdapter(PortfolioSnapshot)


def lifecycle_path(settings: Settings, as_of: date) -> Path:
    """The lifecycle details the account page reads for ``as_of``."""
    return snapshot_folder(settings, as_of) / LIFECYCLE_FILE


def read_lifecycle_book(settings: Settings, as_of: date) -> LifecycleBook | None:
    """The lifecycle details the daily run saved for ``as_of`` (None: none saved)."""
    path = lifecycle_path(settings, as_of)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return _lifecycle_json().validate_json(data)
    except ValidationError as exc:
        raise KizunaError(
            f"the daily lifecycle file {path} is unreadable ({exc.error_count()} problems); "
            f"re-run 'kizuna daily --as-of {as_of}'"
        ) from None


@cache
def _lifecycle_json() -> TypeAdapter[LifecycleBook]:
    return TypeAdapter(LifecycleBook)


def latest_portfolio(settings: Settings, on_or_before: date) -> date | None:
    """The newest snapshot date on or before ``on_or_before`` (None: none)."""
    dates = [d for d in portfolio_dates(settings) if d <= on_or_before]
    return dates[-1] if dates else None
