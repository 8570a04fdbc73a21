"""Import customer data into the store: validate everything first, then upsert in one go.

An import runs in two passes. The first (:mod:`kizuna.dataio.validate`) reads
the whole input, checks every row and reference and collects every problem.
Unless ``skip_invalid`` is set, any problem raises :class:`ImportRejected` and
the store is untouched. The second pass upserts the accepted rows on the user's
ids in one transaction, in batches (one ``executemany`` per batch), and leaves
rows whose stored values already equal the input alone, so re-importing a file
changes nothing (not even ``updated_at``).
"""

from __future__ import annotations

import contextlib
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from kizuna.dataio.readers import (
    ByteCounter,
    RawRecord,
    RejectWriter,
    detect_format,
    open_records,
    reject_path,
)
from kizuna.dataio.schemas import TABLES, TableSpec
from kizuna.dataio.validate import Key, Validation
from kizuna.errors import Conflict, ImportRejected, InvalidInput, NotFound, Problem
from kizuna.platform import Platform

ProgressCallback = Callable[[str, int, int], None]
"""``progress(phase, done, total)``: phase ``"validate"`` counts bytes of the file
read, phase ``"write"`` counts accepted rows written."""

WRITE_BATCH = 2000
_PROGRESS_EVERY = 5000


@dataclass
class ImportReport:
    """What an import did: rows read, inserted, updated, unchanged and rejected."""

    table: str
    source: str
    format: str | None = None
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    reject_file: Path | None = None
    problems: list[Problem] = field(default_factory=list)


def table_spec(table: str) -> TableSpec:
    """The :class:`TableSpec` of a CLI table name, or :class:`InvalidInput` naming the choices."""
    try:
        return TABLES[table]
    except KeyError:
        raise InvalidInput(
            f"unknown table {table!r}; choose one of: {', '.join(TABLES)}",
            [
                Problem(
                    f"unknown table {table!r}",
                    field="table",
                    code="unknown_table",
                    params={"table": table},
                )
            ],
        ) from None


def import_file(
    platform: Platform,
    table: str,
    path: Path,
    *,
    skip_invalid: bool = False,
    fmt: str | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import a CSV or JSON Lines file into ``table``, upserting on the user's ids.

    Every row is validated before anything is written. With problems and without
    ``skip_invalid`` nothing changes and :class:`ImportRejected` lists every
    problem. With ``skip_invalid`` the good rows land and the rejected ones are
    written beside the input as ``<name>.rejects.csv`` / ``.rejects.jsonl``.
    """
    spec = table_spec(table)
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"no such file: {path}")
    fmt = detect_format(path, fmt)
    counter = ByteCounter()
    records = open_records(path, fmt, counter)
    validation = Validation(
        platform.store, spec, path.name, platform.settings.tz, skip_invalid=skip_invalid
    )
    report = ImportReport(table=table, source=str(path), format=fmt)
    try:
        if records.header is not None:
            validation.check_header(records.header)
            _raise_if_rejected(validation, path.name, skip_invalid=False)
        for n, record in enumerate(records, start=1):
            validation.add(record)
            if progress is not None and n % _PROGRESS_EVERY == 0:
                progress("validate", counter.done, counter.total)
        records.close()
        if progress is not None:
            progress("validate", counter.total, counter.total)
        validation.finish()
        _raise_if_rejected(validation, path.name, skip_invalid=skip_invalid)
        rejects = None
        if validation.bad_lines:
            rejects = RejectWriter(reject_path(path, fmt).with_suffix(".tmp"), fmt, records.header)
        _write(platform, validation, report, rejects, progress)
        if rejects is not None:
            final = reject_path(path, fmt)
            os.replace(rejects.path, final)
            report.reject_file = final
        return report
    finally:
        records.close()
        validation.close()


def import_rows(
    platform: Platform,
    table: str,
    rows: Iterable[Mapping[str, Any]],
    *,
    source: str = "rows",
    skip_invalid: bool = False,
) -> ImportReport:
    """Import rows given as mappings (column → value), with the same checks as a file.

    Row numbers in problems count from 1. Rejected rows (with ``skip_invalid``)
    are reported in ``problems``; there is no reject file.
    """
    spec = table_spec(table)
    validation = Validation(
        platform.store, spec, source, platform.settings.tz, skip_invalid=skip_invalid
    )
    report = ImportReport(table=table, source=source)
    try:
        for number, row in enumerate(rows, start=1):
            if isinstance(row, Mapping):
                validation.add(RawRecord(number, dict(row), None))
            else:
                validation.add(
                    RawRecord(number, None, None, "must be a mapping of column to value")
                )
        validation.finish()
        _raise_if_rejected(validation, source, skip_invalid=skip_invalid)
        _write(platform, validation, report, None, None)
        return report
    finally:
        validation.close()


def _raise_if_rejected(validation: Validation, name: str, *, skip_invalid: bool) -> None:
    if validation.file_problems or (validation.row_problems and not skip_invalid):
        problems = validation.problems
        rows = len(validation.bad_lines)
        detail = f" in {rows} row{'s' if rows != 1 else ''}" if rows else ""
        raise ImportRejected(
            f"{name}: {len(problems)} problem{'s' if len(problems) != 1 else ''}{detail}; "
            "nothing was imported (fix them, or skip invalid rows with --skip-invalid)",
            problems,
        )


def _accepted(validation: Validation, rejects: RejectWriter | None) -> Iterator[dict[str, Any]]:
    for line, values, raw in validation.spooled():
        reasons = validation.bad_lines.get(line)
        if reasons is None and values is not None:
            yield values
        elif rejects is not None:
            rejects.write(raw, "; ".join(reasons or ["invalid row"]))


def _batches(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _write(
    platform: Platform,
    validation: Validation,
    report: ImportReport,
    rejects: RejectWriter | None,
    progress: ProgressCallback | None,
) -> None:
    spec = validation.spec
    table = spec.table
    defaults = {
        name: info.get_default(call_default_factory=True)
        for name, info in spec.row_model.model_fields.items()
        if not info.is_required()
    }
    ref_column = spec.self_reference.column if spec.self_reference else None
    now = platform.clock.now()
    report.rows_read = validation.rows_read
    report.rejected = len(validation.bad_lines)
    report.problems = list(validation.problems)
    total = report.rows_read - report.rejected
    fixups: list[dict[str, Any]] = []
    try:
        with platform.store.session() as session:
            for batch in _batches(_accepted(validation, rejects), WRITE_BATCH):
                stored = _stored_rows(session, validation, batch)
                inserts: list[dict[str, Any]] = []
                updates: dict[frozenset[str], list[dict[str, Any]]] = defaultdict(list)
                for values in batch:
                    key = validation.key_of(values)
                    deferred = ref_column if key in validation.deferred else None
                    before = stored.get(key)
                    if before is None:
                        row = {**defaults, **values, "created_at": now, "updated_at": now}
                        if deferred is not None:
                            fixups.append({"_key": key, deferred: row[deferred]})
                            row[deferred] = None
                        inserts.append(row)
                        continue
                    if all(before[c] == v for c, v in values.items()):
                        report.unchanged += 1
                        continue
                    change = {f"_key_{c}": values[c] for c in spec.key}
                    change.update({c: v for c, v in values.items() if c not in spec.key})
                    if deferred is not None:
                        fixups.append({"_key": key, deferred: change.pop(deferred)})
                    change["updated_at"] = now
                    updates[frozenset(change)].append(change)
                if inserts:
                    session.execute(sa.insert(table), inserts)
                    report.inserted += len(inserts)
                key_match = sa.and_(*(table.c[c] == sa.bindparam(f"_key_{c}") for c in spec.key))
                for rows in updates.values():
                    session.execute(sa.update(table).where(key_match), rows)
                    report.updated += len(rows)
                if progress is not None:
                    progress("write", report.inserted + report.updated + report.unchanged, total)
            if fixups:
                session.execute(sa.update(table).where(table.c.id == sa.bindparam("_key")), fixups)
    except sa.exc.IntegrityError as exc:
        if rejects is not None:
            rejects.close()
            with contextlib.suppress(OSError):
                rejects.path.unlink()
        raise Conflict(f"the store refused the import, nothing was imported: {exc.orig}") from exc
    if rejects is not None:
        rejects.close()


def _stored_rows(
    session: Session, validation: Validation, batch: list[dict[str, Any]]
) -> dict[Key, dict[str, Any]]:
    """The stored import columns of the batch's rows, by key."""
    spec = validation.spec
    table = spec.table
    columns = [table.c[c] for c in spec.column_names]
    if len(spec.key) == 1:
        condition = table.c[spec.key[0]].in_([v[spec.key[0]] for v in batch])
    else:
        condition = sa.tuple_(*(table.c[c] for c in spec.key)).in_(
            [tuple(v[c] for c in spec.key) for v in batch]
        )
    result = session.execute(sa.select(*columns).where(condition)).mappings()
    return {validation.key_of(dict(row)): dict(row) for row in result}
