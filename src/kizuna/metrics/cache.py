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

**Prefix table.** ``prefix-<fingerprint>/day=YYYY-MM-DD.parquet`` holds, for
every day and every account seen so far, the running values up to and
including that day: running totals of the roll-up counts, sums and run starts,
the running count of active days, the last active day and the open-run level
(see :meth:`RollupSpec.prefix_columns`). A windowed value as of D is then a
difference of two rows (D and D - W), so any number of dates costs two
point reads per date, never a scan of the windows. It is rolled forward in
numpy from the first day whose roll-up changed (a chain hash over the roll-up
manifest detects that); after a daily ingest, that is the last ``horizon`` days.

The cache is derived data: deleting ``_rollup/`` is always safe. Each day file
is written atomically and the manifest is replaced after the files it
describes, so a crash leaves at worst days that are rebuilt next time.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kizuna.engine import Engine
from kizuna.lake.layout import LakeLayout, atomic_write_parquet
from kizuna.lake.reader import committed_parts, event_files
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
        # The readers' listing: a compaction's commit changes it, a purge does not.
        entries: dict[int, list[str]] = {}
        for part in committed_parts(self.layout):
            entries.setdefault(day_number(part.event_date), []).append(
                f"{part.path.name}:{part.size}"
            )
        return {day: ";".join(names) for day, names in entries.items()}

    @staticmethod
    def _read_manifest(path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(manifest, sort_keys=True))
        os.replace(tmp, path)

    def refresh(self, last_day: int) -> Refreshed:
        """Bring every business day up to ``last_day`` up to date with the lake.

        Rebuilds the roll-up of days whose lake partitions changed, then the
        prefix table from the first day whose roll-up changed on.
        """
        parts = self._partition_fingerprints()
        if not parts:
            return Refreshed({}, None, None, 0, 0)
        h = self.spec.horizon
        first = min(parts) - 1
        last = min(last_day, max(parts) + 1)
        if last < first:
            return Refreshed({}, None, None, 0, 0)
        manifest = self._read_manifest(self.folder / MANIFEST)
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
            self._write_manifest(self.folder / MANIFEST, manifest)
        prefix, rolled = self._refresh_prefix(manifest, first, last)
        return Refreshed(prefix, first, last, len(stale), rolled)

    # -- the prefix table -------------------------------------------------------------

    @property
    def prefix_folder(self) -> Path:
        return self.folder / f"prefix-{self.spec.prefix_fingerprint()}"

    def _refresh_prefix(
        self, manifest: dict[str, list[object]], first: int, last: int
    ) -> tuple[dict[int, Path], int]:
        """Roll the prefix table forward from the first day whose roll-up changed."""
        folder = self.prefix_folder
        stored = self._read_manifest(folder / MANIFEST)
        chain = ""
        expected: dict[int, str] = {}
        for day in range(first, last + 1):
            link = f"{chain}|{json.dumps(manifest.get(str(day)))}"
            chain = hashlib.sha1(link.encode()).hexdigest()
            expected[day] = chain
        start = next((d for d in expected if stored.get(str(d)) != expected[d]), None)
        rolled = 0
        if start is not None:
            state = _Prefix(self.spec)
            if start > first:
                state.load(pq.read_table(self._prefix_path(start - 1)))
            for day in range(start, last + 1):
                if int(manifest.get(str(day), [None, 0])[1] or 0) > 0:  # type: ignore[call-overload]
                    state.add(day, pq.read_table(self.day_path(day)))
                atomic_write_parquet(state.table(day), self._prefix_path(day), sort=False)
                stored[str(day)] = expected[day]
                rolled += 1
                if rolled % 32 == 0:
                    self._write_manifest(folder / MANIFEST, stored)
            self._write_manifest(folder / MANIFEST, stored)
        return {d: self._prefix_path(d) for d in range(first, last + 1)}, rolled

    def _prefix_path(self, day: int) -> Path:
        return self.prefix_folder / f"day={from_day_number(day).isoformat()}.parquet"

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


@dataclass
class Refreshed:
    """What :meth:`RollupCache.refresh` left: the prefix file of each day in ``[first, last]``."""

    prefix: dict[int, Path]
    first: int | None
    last: int | None
    days_rebuilt: int
    prefix_days_rolled: int


class _Prefix:
    """Running values per account, rolled forward one roll-up day at a time (numpy)."""

    def __init__(self, spec: RollupSpec) -> None:
        self.columns = spec.prefix_columns()
        self.schema = spec.prefix_schema()
        self.values: dict[str, np.ndarray] = {
            name: np.zeros(0, dtype=_NUMPY[str(typ)]) for name, _, typ in self.columns
        }

    def _grow(self, size: int) -> None:
        for (name, how, _), old in zip(self.columns, list(self.values.values()), strict=True):
            if len(old) < size:
                new = np.full(size, -1 if how == "last" else 0, dtype=old.dtype)
                new[: len(old)] = old
                self.values[name] = new

    def load(self, table: pa.Table) -> None:
        """Start from a stored prefix row set (one day's file)."""
        keys = table.column("account").to_numpy()
        self._grow(int(keys.max()) + 1 if len(keys) else 0)
        for name, how, _ in self.columns:
            column = table.column(name)
            if how == "last":
                column = pc.fill_null(column, -1)
            self.values[name][keys] = column.to_numpy()

    def add(self, day: int, rollup: pa.Table) -> None:
        """Fold in one business day of the roll-up."""
        keys = rollup.column("account").to_numpy()
        self._grow(int(keys.max()) + 1)
        for name, how, _ in self.columns:
            target = self.values[name]
            if how == "sum":
                target[keys] += rollup.column(name).to_numpy()
            elif how == "level":
                level = rollup.column(name).to_numpy()
                seen = level > 0  # 0: no user activity recorded that day
                target[keys[seen]] = level[seen] - 1
            else:
                active = rollup.column(name.split("_", 1)[1]).to_numpy() > 0
                if how == "days":
                    target[keys[active]] += 1
                else:
                    target[keys[active]] = day

    def table(self, day: int) -> pa.Table:
        size = len(next(iter(self.values.values()))) if self.values else 0
        arrays = [
            pa.array(np.arange(size, dtype=np.int32)),
            pa.repeat(pa.scalar(day, pa.int32()), size),
        ]
        for name, how, typ in self.columns:
            data = self.values[name]
            arrays.append(pa.array(data, typ, mask=data < 0 if how == "last" else None))
        return pa.Table.from_arrays(arrays, schema=self.schema)


_NUMPY = {"int64": np.int64, "int32": np.int32, "double": np.float64}


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
    arr = np.asarray(days)
    if len(arr) == 0:
        return []
    cuts = np.flatnonzero(np.diff(arr)) + 1
    starts = np.concatenate([[0], cuts])
    stops = np.concatenate([cuts, [len(arr)]])
    return [(int(arr[s]), int(s), int(e)) for s, e in zip(starts, stops, strict=True)]


__all__ = ["Refreshed", "RollupCache"]
