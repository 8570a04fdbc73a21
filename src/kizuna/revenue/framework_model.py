"""The fifteen metrics' vocabulary: their definitions, a figure, a report, and the
per-group accumulation every figure module uses (:mod:`kizuna.revenue.framework`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any, Literal

import yaml

FrameworkBy = Literal["segment", "owner"]
Category = Literal["onboarding", "adoption", "expansion", "retention", "renewal"]

#: The health scorecard group whose score is the adoption score.
ADOPTION_GROUP = "adoption"
#: Stored metrics read for product and feature usage.
USAGE_METRIC = "events_28d"
FEATURE_METRIC = "feature_breadth_28d"
NONE_GROUP = "(none)"


@dataclass(frozen=True, slots=True)
class MetricDefinition:
    """One of the fifteen: its id, category, unit, and name and definition in en and ja."""

    id: str
    category: Category
    unit: str  # days | ratio | score | nps | money | count
    name: dict[str, str]
    definition: dict[str, str]


def _load_metrics() -> tuple[MetricDefinition, ...]:
    text = (resources.files("kizuna.revenue") / "framework_metrics.yaml").read_text("utf-8")
    return tuple(
        MetricDefinition(m["id"], m["category"], m["unit"], m["name"], m["definition"])
        for m in yaml.safe_load(text)
    )


#: The fifteen metrics (``framework_metrics.yaml``), in the order reports list them.
METRICS: tuple[MetricDefinition, ...] = _load_metrics()


@dataclass(frozen=True, slots=True)
class MetricValue:
    """A figure: the headline ``value`` and its parts (``None``: no data to compute it)."""

    id: str
    category: str
    value: float | None
    parts: dict[str, float | int | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FrameworkGroup:
    key: str | None
    metrics: list[MetricValue]


@dataclass(frozen=True, slots=True)
class FrameworkReport:
    """``kizuna framework``: the fifteen metrics of ``[start, end]``, overall and per group."""

    start: date
    end: date
    as_of: date
    by: str | None
    currency: str
    health_as_of: date | None
    metrics_as_of: date | None
    definitions: list[MetricDefinition]
    overall: list[MetricValue]
    groups: list[FrameworkGroup] = field(default_factory=list)


def ratio(num: float | int | Decimal, den: float | int | Decimal) -> float | None:
    """``num ÷ den`` rounded to six places; None when ``den`` is 0."""
    return round(float(num) / float(den), 6) if den else None


class Grouped:
    """Per-group accumulation of one figure: the overall key is ``None``."""

    def __init__(self) -> None:
        self.values: dict[str | None, dict[str, Any]] = defaultdict(dict)

    def put(self, key: str | None, metric: MetricValue) -> None:
        self.values[key][metric.id] = metric


def group_keys(by: FrameworkBy | None, value: str | None) -> tuple[str | None, ...]:
    """The keys a value counts under: overall (``None``) and its group."""
    return (None,) if by is None else (None, value if value is not None else NONE_GROUP)


def as_float(value: Decimal | None) -> float | None:
    return round(float(value), 6) if value is not None else None


def last_on_or_before(days: Iterable[date], start: date, end: date) -> date | None:
    """The newest of ``days`` within ``[start, end]``."""
    found = [d for d in days if start <= d <= end]
    return max(found) if found else None
