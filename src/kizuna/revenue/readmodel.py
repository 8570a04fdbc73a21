"""The fifteen metrics as the daily run saves them for the framework page.

Layout (under ``<KIZUNA_HOME>/revenue``)::

    framework/as_of=2025-06-30.json   {"as_of": ..., "windows": {"quarter": report, ...},
                                       "accuracy": [the forecast's accuracy per past quarter]}

Each window is the JSON of a :class:`~kizuna.revenue.framework.FrameworkReport`
(``kizuna framework --json``) by segment; a file is written to a temporary name
and renamed, so readers see a whole file or the previous one.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from kizuna.jsonable import to_jsonable
from kizuna.lifecycle.onboarding import OnboardingReport
from kizuna.platform import Platform
from kizuna.revenue.forecast import AccuracyRow
from kizuna.revenue.framework import FrameworkReport, framework
from kizuna.settings import Settings

#: The periods the daily run saves: quarter to date, year to date, the last twelve months.
WINDOWS = ("quarter", "year", "last12")
_FILE = re.compile(r"^as_of=(\d{4}-\d{2}-\d{2})\.json$")


def window_start(as_of: date, window: str) -> date:
    """First day of ``window`` ending on ``as_of``."""
    if window == "quarter":
        return date(as_of.year, 3 * ((as_of.month - 1) // 3) + 1, 1)
    if window == "year":
        return date(as_of.year, 1, 1)
    try:
        return as_of.replace(year=as_of.year - 1) + timedelta(days=1)
    except ValueError:  # 29 February
        return as_of.replace(year=as_of.year - 1, day=28) + timedelta(days=1)


def framework_dir(settings: Settings) -> Path:
    return settings.home / "revenue" / "framework"


def build_framework_windows(
    platform: Platform, as_of: date, onboarding: OnboardingReport | None = None
) -> dict[str, FrameworkReport]:
    """The fifteen metrics by segment for every window ending on ``as_of``.

    ``onboarding``: an onboarding report as of ``as_of`` covering every window's
    starts (the portfolio step's), so the book's lifecycle is not evaluated again.
    """
    from kizuna.retention import Ledger

    out = {}
    with Ledger.load(platform.store, platform.settings) as ledger:
        for window in WINDOWS:
            out[window] = framework(
                platform, window_start(as_of, window), as_of, by="segment", as_of=as_of,
                ledger=ledger, onboarding=onboarding,
            )  # fmt: skip
    return out


def write_framework(
    settings: Settings,
    as_of: date,
    reports: dict[str, FrameworkReport],
    accuracy: list[AccuracyRow] | None = None,
) -> Path:
    folder = framework_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"as_of={as_of.isoformat()}.json"
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    body = {
        "as_of": as_of.isoformat(),
        "windows": to_jsonable(reports),
        "accuracy": to_jsonable(accuracy) if accuracy is not None else None,
    }
    tmp.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_framework(settings: Settings, on_or_before: date) -> dict[str, Any] | None:
    """The newest saved framework on or before the date (None: the daily run saved none)."""
    folder = framework_dir(settings)
    if not folder.exists():
        return None
    days = sorted(
        date.fromisoformat(m.group(1))
        for f in folder.iterdir()
        if (m := _FILE.match(f.name)) and date.fromisoformat(m.group(1)) <= on_or_before
    )
    if not days:
        return None
    path = folder / f"as_of={days[-1].isoformat()}.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return data
