"""What a lifecycle run leaves for the next one to advance from, and when it may.

A run through day S stores its transitions and automatic completions; the next run
(from S + 1) evaluates only the days since, reading the milestones settled before them
from the store and evaluating the open ones from S + 1 on. That is exact only while
everything the stored results were computed from is unchanged: the definition, the
tracking start, the lake's events of business days through S and the store's inputs
dated through S.

:func:`fingerprint` digests those inputs as they are now; :func:`record` keeps the
fingerprint each run had (``<home>/lifecycle/state.json``, replaced atomically, the last
few runs), and :func:`advances_from` says whether a run may build on day S's results. A
late event, a back-dated activity or contract line, a manual completion dated before S
or an edited definition changes the fingerprint, and the run evaluates every account
from its contract start instead (the same results, at a full run's cost).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from kizuna.lake.reader import PartFile
from kizuna.lifecycle.book import Book
from kizuna.lifecycle.definitions import LifecycleDefinition
from kizuna.metrics.rollup import day_number, utc_offsets

__all__ = ["STATE_FILE", "advances_from", "fingerprint", "lake_digest", "record"]

STATE_FILE = Path("lifecycle") / "state.json"
#: Runs remembered: a re-run of one of the last few dates still advances.
KEPT = 8


def lake_digest(parts: list[PartFile], day: date, tz: ZoneInfo) -> str:
    """A digest of the lake's part files that can hold events of business days through
    ``day``: UTC event dates through ``day``, and the next one where the business timezone
    is behind UTC then. Part files are immutable and uniquely named, so a late event, a
    rollback or a compaction changes it; the next day's events landing do not."""
    behind = any(
        offset < 0 for _, offset in utc_offsets(tz, day_number(day) - 1, day_number(day) + 1)
    )
    last = day + timedelta(days=1 if behind else 0)
    names = sorted(f"{p.event_date}/{p.path.name}:{p.size}" for p in parts if p.event_date <= last)
    return hashlib.blake2b("|".join(names).encode(), digest_size=16).hexdigest()


def fingerprint(book: Book, definition: LifecycleDefinition, lake: str, day: date) -> str:
    """A digest of what the lifecycle's results through ``day`` are computed from, read
    from ``book`` (loaded through a later date) and the lake (:func:`lake_digest`)."""
    last = day.toordinal()
    ids = np.array(book.account_ids, dtype=object)
    h = hashlib.blake2b(digest_size=16)

    def add(*parts: Any) -> None:
        for part in parts:
            if isinstance(part, np.ndarray):
                text = "\x1f".join(map(str, part.tolist())) if part.dtype == object else None
                h.update(part.tobytes() if text is None else text.encode())
            else:
                h.update(repr(part).encode())
            h.update(b"\x00")

    add(definition.model_dump_json(), book.tracking_started, lake)
    lines = np.flatnonzero(book.line_start <= last)
    add(ids[book.line_account[lines]], book.line_start[lines], book.line_end[lines])
    # the segment (so the template) of each customer by then; accounts added since are not
    customers = np.unique(book.line_account[lines])
    add(ids[customers], np.array([repr(book.segments[i]) for i in customers], dtype=object))
    add(book.line_arr[lines])
    acts = np.flatnonzero(book.activity_day <= last)
    add(ids[book.activity_account[acts]], book.activity_day[acts])
    add("\x1f".join([book.activity_kind[i] for i in acts]))
    add("\x1f".join([book.activity_text[i] for i in acts]))
    add(
        sorted(
            (book.account_ids[i], m, c.completed_on, c.completed_by)
            for i, done in book.manual.items()
            for m, c in done.items()
            if c.completed_on <= day
        )
    )
    # milestones reading metric or health snapshots: those dated through the day
    reads = [
        c
        for template in definition.onboarding.templates
        for m in template.milestones
        if m.complete_when is not None
        for c in m.complete_when.conditions
    ]
    for name in sorted({c.metric for c in reads if c.metric}):
        if name in book.metrics:
            a, d, v = book.metrics[name]
            sel = np.flatnonzero(d <= last)
            add(name, ids[a[sel]], d[sel], v[sel])
    if any(c.health for c in reads):
        sel = np.flatnonzero(book.health_day <= last)
        add(ids[book.health_account[sel]], book.health_day[sel], book.health_score[sel])
        add([book.health_band[i] for i in sel])
    return h.hexdigest()


def _read(home: Path) -> dict[str, str]:
    try:
        data = json.loads((home / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    runs = data.get("runs") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in runs.items()} if isinstance(runs, dict) else {}


def advances_from(home: Path, day: date, digest: str) -> bool:
    """Whether the run through ``day`` recorded ``digest`` (its inputs are unchanged)."""
    return _read(home).get(day.isoformat()) == digest


def record(home: Path, day: date, digest: str) -> None:
    """Remember the fingerprint of the run through ``day`` (written atomically; a run
    killed before this leaves the previous state, and the next run starts over)."""
    runs = _read(home)
    runs[day.isoformat()] = digest
    kept = dict(sorted(runs.items())[-KEPT:])
    path = home / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as handle:
        json.dump({"runs": kept}, handle, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
