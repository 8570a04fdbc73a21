"""The quarantine: events that could not land, kept with their reason.

Nothing sent to Kizuna is silently dropped. A record that cannot become a lake
row (unknown account, unparseable timestamp, missing field, ...) is written to
``<lake>/quarantine/received_date=YYYY-MM-DD/part-*.parquet`` with the raw
record as JSON text, the reason code and message, where it came from and when
it arrived. :func:`replay` re-ingests those whose account now exists and
removes them from the quarantine only after they landed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kizuna.lake.layout import LakeLayout, atomic_write_parquet
from kizuna.lake.normalise import load_raw

if TYPE_CHECKING:
    from kizuna.platform import Platform

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("received_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("where", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("message", pa.string(), nullable=False),
        pa.field("field", pa.string(), nullable=True),
        pa.field("message_id", pa.string(), nullable=True),
        pa.field("account_id", pa.string(), nullable=True),
        pa.field("raw", pa.string(), nullable=False),
    ]
)


def quarantine_path(layout: LakeLayout, received_at: datetime, batch: str) -> Path:
    folder = layout.quarantine_dir / f"received_date={received_at.date().isoformat()}"
    return folder / f"part-{batch}.parquet"


def quarantine_files(layout: LakeLayout) -> list[Path]:
    if not layout.quarantine_dir.exists():
        return []
    return sorted(layout.quarantine_dir.glob("received_date=*/*.parquet"))


def read_quarantine(layout: LakeLayout) -> pa.Table:
    """Every quarantined record, one row each."""
    files = quarantine_files(layout)
    if not files:
        return QUARANTINE_SCHEMA.empty_table()
    return pa.concat_tables(pq.read_table(f, schema=QUARANTINE_SCHEMA) for f in files)


@dataclass
class QuarantineSummary:
    """Counts by reason and a few samples of each.

    ``total`` counts records as received; ``resent`` how many of them repeat a
    ``message_id`` already quarantined (at-least-once senders re-send whole
    batches, bad records included), so ``total - resent`` are distinct.
    """

    total: int
    by_reason: dict[str, int]
    samples: list[dict[str, Any]] = field(default_factory=list)
    resent: int = 0


def summarise(layout: LakeLayout, samples_per_reason: int = 3) -> QuarantineSummary:
    table = read_quarantine(layout)
    reasons = table.column("reason").to_pylist()
    counts = Counter(reasons)
    samples: list[dict[str, Any]] = []
    seen: Counter[str] = Counter()
    for row in table.to_pylist():
        if seen[row["reason"]] < samples_per_reason:
            seen[row["reason"]] += 1
            samples.append(row)
    ids = table.column("message_id")
    with_id = len(ids) - ids.null_count
    resent = with_id - len(pc.unique(ids.drop_null())) if with_id else 0
    return QuarantineSummary(
        total=table.num_rows,
        by_reason=dict(sorted(counts.items())),
        samples=samples,
        resent=resent,
    )


@dataclass(frozen=True)
class Unreplayable:
    """A quarantined record (or file) a replay could not read; it stays where it is."""

    where: str
    message_id: str | None
    reason: str


@dataclass
class ReplayReport:
    """What a replay did: landed = accepted + duplicates (already in the lake).

    ``unreplayable`` lists records (or whole quarantine files) that could not be
    read back; they stay in the quarantine and the replay goes on with the rest.
    """

    candidates: int = 0
    accepted: int = 0
    duplicates: int = 0
    still_quarantined: int = 0
    unreplayable: list[Unreplayable] = field(default_factory=list)


def replay(platform: Platform) -> ReplayReport:
    """Re-ingest quarantined events whose account now exists.

    Each quarantine file is rewritten (atomically) without the records that
    landed, after they landed: a crash in between leaves them in quarantine,
    and the next replay finds them as duplicates and removes them then.
    """
    from kizuna.lake.ingest import ingest_parsed, known_accounts

    layout = LakeLayout(platform.settings.lake_dir)
    report = ReplayReport()
    for path in quarantine_files(layout):
        try:
            table = pq.read_table(path, schema=QUARANTINE_SCHEMA)
        except (OSError, ValueError, pa.ArrowException) as exc:
            where = path.relative_to(layout.root).as_posix()
            report.unreplayable.append(Unreplayable(where, None, f"cannot read the file: {exc}"))
            continue
        unknown = pc.equal(table.column("reason"), "unknown_account").to_pylist()
        accounts = table.column("account_id").to_pylist()
        known = known_accounts(platform, {a for a, u in zip(accounts, unknown, strict=True) if u})
        rows = [
            i for i, (a, u) in enumerate(zip(accounts, unknown, strict=True)) if u and a in known
        ]
        if not rows:
            continue
        report.candidates += len(rows)
        raws = table.column("raw").take(rows).to_pylist()
        wheres = table.column("where").take(rows).to_pylist()
        ids = table.column("message_id").take(rows).to_pylist()
        readable: list[int] = []
        records: list[Any] = []
        for i, raw in enumerate(raws):
            try:
                records.append(load_raw(raw))
                readable.append(rows[i])
            except (ValueError, RecursionError):
                report.unreplayable.append(
                    Unreplayable(wheres[i], ids[i], "the quarantined record is not valid JSON")
                )
        rows = readable
        if not rows:
            continue
        result, landed = ingest_parsed(
            platform, records, source=f"replay:{path.name}", write_quarantine=False
        )
        report.accepted += result.accepted
        report.duplicates += result.duplicates
        report.still_quarantined += result.quarantined
        landed_rows = {rows[i] for i in landed}
        keep = [i for i in range(table.num_rows) if i not in landed_rows]
        if keep:
            atomic_write_parquet(table.take(keep), path, sort=False)
        else:
            path.unlink()
    return report
