"""Behavioural metrics: declarative definitions compiled to Ibis, computed as of any date."""

from kizuna.metrics.definitions import MetricDefinition, MetricSet, load_definitions
from kizuna.metrics.service import (
    MetricRun,
    compute_metrics,
    explain_metric,
    read_metric_values,
)

__all__ = [
    "MetricDefinition",
    "MetricRun",
    "MetricSet",
    "compute_metrics",
    "explain_metric",
    "load_definitions",
    "read_metric_values",
]
