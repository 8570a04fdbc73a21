"""The roll-up cache: one Parquet file per business day, rebuilt only where the lake changed.

Layout: ``<lake>/_rollup/<spec fingerprint>/day=YYYY-MM-DD.parquet`` plus a
``manifest.json`` that records, for every cached day, the fingerprint of the
lake partitions it was computed from. A day's roll-up reads the UTC partitions
``[day - horizon - 1, day + horizon + 1]`` (business days straddle UTC dates;
the distinct-user run columns look ``horizon`` days either side), and a
partition's fingerprint is the names and sizes of its part files — part files
are immutable and uniquely named, so any landed, rolled-back or replayed batch
changes it. A compute run therefore rebuilds only the days whose inputs
changed: after a daily ingest, the new day and the ``horizon`` days before it.

Accounts are stored as integer keys: ``accounts.parquet`` in the same folder
is the append-only dictionary (key = position), extended before any day file
that uses a new key is written, so every written day file's keys resolve.

The cache is derived data: deleting ``_rollup/`` is always safe. Each day file
is written atomically and the manifest is replaced after the files it
describes, so a crash leaves at worst days that are rebuilt next time.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kizuna.engine import Engine
from kizuna.lake.layout import LakeLayout, atomic_write_parquet
from kizuna.lake.reader import event_files, partition_dates
from kizuna.metrics.rollup import RollupSpec, day_number, from_day_number

#: Business days rolled up per engine query when (re)building: bounds memory.
BUILD_CHUNK_DAYS = 64
MANIFEST = "manifest.json"
ACCOUNTS = "accounts.parquet"


class RollupCache:
    """The cached daily roll-up of one :class:`RollupSpec` (see the module docstring)."""

    def __init__(self, layout: LakeLayout, spec: RollupSpec, tz: ZoneInfo, engine: Engine) -> None:
        self.layout = layout
        self.spec = spec
        self.tz = tz
        self.engine = engine
        self.folder = layout.root / "_rollup" / spec.fingerprint(tz, engine.name)

    def accounts(self) -> pa.Array:
        """The account dictionary: account id of each integer key."""
        path = self.folder / ACCOUNTS
        if not path.exists():
            return pa.array([], pa.string())
        return pq.read_table(path).column("account_id").combine_chunks()

    def _keys(self, account_ids: pa.Array) -> pa.Array:
        """Integer keys of ``account_ids``, extending the dictionary with new ids."""
        known = self.accounts()
        keys = pc.index_in(account_ids, value_set=known)
        if keys.null_count:
            new = pc.unique(pc.filter(account_ids, pc.is_null(keys)))
            known = pa.concat_arrays([known, new.cast(pa.string())])
            atomic_write_parquet(
                pa.table({"account_id": known}), self.folder / ACCOUNTS, sort=False
            )
            keys = pc.index_in(account_ids, value_set=known)
        return keys.cast(pa.int32())

    def day_path(self, day: int) -> Path:
        return self.folder / f"day={from_day_number(day).isoformat()}.parquet"

    def _partition_fingerprints(self) -> dict[int, str]:
        prints: dict[int, str] = {}
        for day in partition_dates(self.layout):
            folder = self.layout.partition_dir(day)
            entries = sorted(
                (e.name, e.stat().st_size)
                for e in os.scandir(folder)
                if e.name.endswith(".parquet")
            )
            if entries:
                prints[day_number(day)] = ";".join(f"{n}:{s}" for n, s in entries)
        return prints

    def _read_manifest(self) -> dict[str, list[object]]:
        try:
            data = json.loads((self.folder / MANIFEST).read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_manifest(self, manifest: dict[str, list[object]]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(manifest, sort_keys=True))
        os.replace(tmp, self.folder / MANIFEST)

    def refresh(self, last_day: int) -> tuple[list[tuple[int, Path]], int | None, int]:
        """Bring every business day up to ``last_day`` up to date with the lake.

        Returns ``(day, file)`` of the days holding rows (oldest first), the first
        business day the lake can hold (None for an empty lake), and how many
        days were rebuilt.
        """
        parts = self._partition_fingerprints()
        if not parts:
            return [], None, 0
        h = self.spec.horizon
        first = min(parts) - 1
        last = min(last_day, max(parts) + 1)
        manifest = self._read_manifest()
        expected: dict[int, str] = {}
        for day in range(first, last + 1):
            text = "|".join(parts.get(p, "") for p in range(day - h - 1, day + h + 2))
            expected[day] = hashlib.sha1(text.encode()).hexdigest()
        stale = [d for d in expected if manifest.get(str(d), [None])[0] != expected[d]]
        for start, end in _chunks(stale, BUILD_CHUNK_DAYS):
            counts = self._build(start, end)
            for day in range(start, end + 1):
                if day in expected:
                    manifest[str(day)] = [expected[day], counts.get(day, 0)]
            self._write_manifest(manifest)
        files = [
            (d, self.day_path(d))
            for d in range(first, last + 1)
            if int(manifest.get(str(d), [None, 0])[1] or 0) > 0  # type: ignore[call-overload]
        ]
        return files, first, len(stale)

    def _build(self, start: int, end: int) -> dict[int, int]:
        """Roll up business days ``[start, end]``; write one file per day with rows."""
        h = self.spec.horizon
        files = event_files(
            self.layout, from_day_number(start - h - 1), from_day_number(end + h + 1)
        )
        counts: dict[int, int] = {}
        if files:
            events = self.engine.read_parquet(
                [str(f) for f in files], f"kizuna_rollup_events_{start}"
            )
            table = self.engine.to_pyarrow(
                self.spec.expression(events, self.tz, start, end, self.engine.json_text)
            )
            table = table.cast(self.spec.expression_schema())
            keys = self._keys(table.column("account_id").combine_chunks())
            table = table.set_column(0, "account", keys).cast(self.spec.schema())
            table = table.sort_by([("day", "ascending"), ("account", "ascending")])
            days = table.column("day").to_numpy()
            bounds = _run_bounds(days)
            for day, lo, hi in bounds:
                atomic_write_parquet(table.slice(lo, hi - lo), self.day_path(day), sort=False)
                counts[day] = hi - lo
        for day in range(start, end + 1):
            if day not in counts:
                self.day_path(day).unlink(missing_ok=True)
        return counts

    def empty_table(self) -> pa.Table:
        return self.spec.schema().empty_table()


def _chunks(days: list[int], size: int) -> Iterator[tuple[int, int]]:
    """Contiguous runs of ``days`` (sorted), cut to at most ``size`` days each."""
    if not days:
        return
    start = prev = days[0]
    for day in days[1:]:
        if day != prev + 1 or day - start >= size:
            yield start, prev
            start = day
        prev = day
    yield start, prev


def _run_bounds(days: object) -> list[tuple[int, int, int]]:
    """``(value, start, stop)`` of each run of equal values in a sorted integer array."""
    import numpy as np

    arr = np.asarray(days)
    if len(arr) == 0:
        return []
    cuts = np.flatnonzero(np.diff(arr)) + 1
    starts = np.concatenate([[0], cuts])
    stops = np.concatenate([cuts, [len(arr)]])
    return [(int(arr[s]), int(s), int(e)) for s, e in zip(starts, stops, strict=True)]


__all__ = ["RollupCache"]
