"""Derived metrics for event types no metric definition covers ("no hand feature work").

A team that only loaded accounts, contracts and events has event types the
shipped metric set never heard of. For each such type Kizuna derives a
standard set — the 28-day count, the rate per active user, the change of the
count against the previous 28 days and the days since the type was last seen —
for the most frequent ``cap`` types (default 30); the rest are reported as
left out. :func:`suggest_metrics` is what ``kizuna metrics suggest`` prints
and ``--write`` saves as a definition file that health can use too.

An event type is *covered* when a metric's filter or feature list names it;
metrics without an event filter (all events) cover none in particular.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

from kizuna.lake.layout import LakeLayout
from kizuna.lake.reader import event_files
from kizuna.metrics.definitions import MetricDefinition, MetricSet, parse_definitions

#: How many uncovered event types get derived metrics unless told otherwise.
DEFAULT_CAP = 30
#: Look-back of the derived "days since last" metric; none in it reads as the cap.
DAYS_SINCE_WINDOW = 180
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass
class Suggestion:
    """The derived metrics for uncovered event types, and what was left out."""

    event_counts: dict[str, int]
    covered: list[str]
    derived_for: list[str]
    left_out: list[str]
    metrics: MetricSet = field(default_factory=lambda: MetricSet(metrics=[]))

    def to_yaml(self) -> str:
        """A metric definition file holding the derived metrics (valid for ``--definitions``)."""
        header = (
            "# Derived by 'kizuna metrics suggest': the standard set for event types no\n"
            "# metric definition covers (28-day count, per active user, change against\n"
            "# the previous 28 days, days since last).\n"
        )
        if self.left_out:
            header += f"# Left out (beyond the cap): {', '.join(self.left_out)}\n"
        data = {
            "metrics": [
                m.model_dump(exclude_none=True, by_alias=True, mode="json")
                for m in self.metrics.metrics
            ]
        }
        return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def event_type_counts(lake_dir: Path) -> dict[str, int]:
    """Events per event type in the whole lake, most frequent first (ties by name)."""
    files = event_files(LakeLayout(lake_dir))
    if not files:
        return {}
    con = duckdb.connect()
    try:
        con.execute("SET threads TO 2")
        rows = con.execute(
            "SELECT event, count(*) FROM read_parquet(?) GROUP BY event",
            [[str(f) for f in files]],
        ).fetchall()
    finally:
        con.close()
    return dict(sorted(((str(e), int(n)) for e, n in rows), key=lambda kv: (-kv[1], kv[0])))


def covered_event_types(metrics: MetricSet) -> set[str]:
    """Event types named by a filter, an active-user filter or a feature list."""
    names: set[str] = set()
    for metric in metrics.metrics:
        for flt in (metric.filter, metric.active_filter):
            if flt is not None and flt.events:
                names.update(flt.events)
        if metric.features:
            names.update(metric.features)
    return names


def _slug(event: str, taken: set[str]) -> str:
    base = _SLUG.sub("_", event.lower()).strip("_") or "event"
    if not base[0].isalpha():
        base = f"e_{base}"
    base = base[:32]
    name, k = base, 2
    while name in taken:
        name = f"{base}_{k}"
        k += 1
    taken.add(name)
    return name


def derived_definitions(events: list[str], existing: set[str]) -> list[MetricDefinition]:
    """The standard four metrics for each event type (names unique against ``existing``)."""
    taken = set(existing)
    out: list[MetricDefinition] = []
    for event in events:
        slug = _slug(event, taken)
        flt = {"events": [event]}
        count = f"{slug}_28d"
        out += [
            MetricDefinition.model_validate(
                {
                    "name": count,
                    "kind": "count",
                    "description": f"'{event}' events in the last 28 days (derived).",
                    "unit": "events",
                    "filter": flt,
                    "window_days": 28,
                }
            ),
            MetricDefinition.model_validate(
                {
                    "name": f"{slug}_per_user_28d",
                    "kind": "per_user",
                    "description": f"'{event}' events per active user in the last 28 days "
                    "(derived).",
                    "unit": "events per user",
                    "filter": flt,
                    "window_days": 28,
                }
            ),
            MetricDefinition.model_validate(
                {
                    "name": f"{slug}_28d_change",
                    "kind": "pct_change",
                    "description": f"Change of {count} against 28 days earlier (derived).",
                    "unit": "percent",
                    "of": count,
                    "days_earlier": 28,
                }
            ),
            MetricDefinition.model_validate(
                {
                    "name": f"days_since_{slug}",
                    "kind": "days_since_last",
                    "description": f"Days since the last '{event}' event (derived; null when "
                    f"none in {DAYS_SINCE_WINDOW} days).",
                    "unit": "days",
                    "filter": flt,
                    "window_days": DAYS_SINCE_WINDOW,
                }
            ),
        ]
        taken.update(m.name for m in out)
    return out


def suggest_metrics(
    lake_dir: Path, base: MetricSet, cap: int = DEFAULT_CAP, counts: dict[str, int] | None = None
) -> Suggestion:
    """Derived metrics for the ``cap`` most frequent event types ``base`` does not cover."""
    counts = event_type_counts(lake_dir) if counts is None else counts
    covered = covered_event_types(base)
    uncovered = [e for e in counts if e not in covered]
    chosen, left_out = uncovered[: max(cap, 0)], uncovered[max(cap, 0) :]
    definitions = derived_definitions(chosen, set(base.names))
    metrics = (
        parse_definitions(
            {"metrics": [m.model_dump(exclude_none=True, by_alias=True) for m in definitions]},
            "derived metrics",
        )
        if definitions
        else MetricSet(metrics=[])
    )
    return Suggestion(
        event_counts=counts,
        covered=sorted(e for e in counts if e in covered),
        derived_for=chosen,
        left_out=left_out,
        metrics=metrics,
    )
