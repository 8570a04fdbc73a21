"""Declarative metric definitions: YAML loaded into pydantic models, validated whole.

A metric is computed per account as of a business date D over a *window* of
``window_days`` days: events whose business-timezone date lies in
``(D - window_days, D]`` — the window includes D and the ``window_days - 1``
days before it; an event exactly ``window_days`` days before D is out, and
events after D never count.

Kinds (``kind:``) and what they need:

==================  =====================================  ==========================
kind                value                                  needs
==================  =====================================  ==========================
count               matching events in the window          filter, window_days
sum                 sum of a numeric property              + property
distinct_users      distinct user_id with a matching event filter, window_days
active_days         distinct business days with one        filter, window_days
per_user            matching events / active users         filter, window_days
                    (active = any event, or active_filter)
seat_share          distinct active users / licensed seats filter, window_days
                    (sum of quantity of lines live at D)
feature_breadth     how many of ``features`` were used     features, window_days
days_since_last     D - date of the last matching event;   filter, window_days
                    null if none in the window             (the look-back)
tenure              D - first contract start (days)        —
ratio               numerator / denominator (metrics)      numerator, denominator
pct_change          100 * (v(D) - v(D-N)) / v(D-N)         of, days_earlier
==================  =====================================  ==========================

Counts, sums and breadths are 0 for an account without events; ratios are null
when the denominator is 0 or null.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kizuna.errors import CodedValueError, InvalidInput, Problem, unreadable, validation_code

MetricKind = Literal[
    "count",
    "sum",
    "distinct_users",
    "active_days",
    "per_user",
    "seat_share",
    "feature_breadth",
    "days_since_last",
    "tenure",
    "ratio",
    "pct_change",
]
#: Kinds computed from events in a window.
EVENT_KINDS = frozenset(
    {
        "count",
        "sum",
        "distinct_users",
        "active_days",
        "per_user",
        "seat_share",
        "feature_breadth",
        "days_since_last",
    }
)
#: Kinds computed from other metrics.
DERIVED_KINDS = frozenset({"ratio", "pct_change"})
_IDENT = r"^[A-Za-z_][A-Za-z0-9_]*$"


class PropertyPredicate(BaseModel):
    """A test on one event property; all given tests must hold."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    eq: str | float | bool | None = None
    ne: str | float | bool | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    in_: tuple[str | float, ...] | None = Field(default=None, alias="in")

    @model_validator(mode="after")
    def _at_least_one(self) -> PropertyPredicate:
        if all(
            v is None for v in (self.eq, self.ne, self.gt, self.gte, self.lt, self.lte, self.in_)
        ):
            raise CodedValueError(
                "give at least one of eq, ne, gt, gte, lt, lte, in", "metrics.predicate_empty"
            )
        return self


class EventFilter(BaseModel):
    """Which events count: by name (none = every event) and by property tests."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    events: tuple[str, ...] | None = None
    where: dict[str, PropertyPredicate] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _valid(self) -> EventFilter:
        if self.events is not None and not self.events:
            raise CodedValueError(
                "events must list at least one event name (omit it for all events)",
                "metrics.events_empty",
            )
        import re

        bad = [name for name in self.where if not re.match(_IDENT, name)]
        if bad:
            names = ", ".join(bad)
            raise CodedValueError(
                f"property names must be identifiers: {names}",
                "metrics.property_names",
                names=names,
            )
        return self

    def key(self) -> str:
        """A stable text form, used to share work between metrics with the same filter."""
        return self.model_dump_json(by_alias=True, exclude_none=True)


class MetricDefinition(BaseModel):
    """One metric (see the module docstring for the kinds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=63)
    #: Names shown to people in English and Japanese (None: the name made readable).
    label: str | None = None
    label_ja: str | None = None
    kind: MetricKind
    description: str = ""
    unit: str = ""
    filter: EventFilter = Field(default_factory=EventFilter)
    window_days: int | None = Field(default=None, ge=1, le=3660)
    property: str | None = Field(default=None, pattern=_IDENT)
    features: tuple[str, ...] | None = None
    active_filter: EventFilter | None = None
    numerator: str | None = None
    denominator: str | None = None
    of: str | None = None
    days_earlier: int | None = Field(default=None, ge=1, le=3660)

    @model_validator(mode="after")
    def _fields_for_kind(self) -> MetricDefinition:
        need: dict[str, tuple[str, ...]] = {
            "sum": ("window_days", "property"),
            "feature_breadth": ("window_days", "features"),
            "ratio": ("numerator", "denominator"),
            "pct_change": ("of", "days_earlier"),
        }
        required = need.get(self.kind, ("window_days",) if self.kind in EVENT_KINDS else ())
        missing = [f for f in required if getattr(self, f) in (None, ())]
        if missing:
            fields = ", ".join(missing)
            raise CodedValueError(
                f"kind {self.kind} needs {fields}",
                "metrics.kind_needs",
                kind=self.kind,
                fields=fields,
            )
        if self.kind in DERIVED_KINDS | {"tenure"} and self.window_days is not None:
            raise CodedValueError(
                f"kind {self.kind} takes no window_days", "metrics.no_window", kind=self.kind
            )
        return self

    def references(self) -> list[str]:
        """Names of the metrics this one is computed from."""
        return [n for n in (self.numerator, self.denominator, self.of) if n]


class MetricSet(BaseModel):
    """A validated set of metrics, in an order where every metric follows its inputs."""

    model_config = ConfigDict(extra="forbid")

    metrics: list[MetricDefinition]

    def get(self, name: str) -> MetricDefinition:
        for metric in self.metrics:
            if metric.name == name:
                return metric
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.metrics]

    def subset(self, names: list[str]) -> MetricSet:
        """These metrics plus everything they are computed from."""
        wanted: set[str] = set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name not in wanted:
                wanted.add(name)
                stack.extend(self.get(name).references())
        return MetricSet(metrics=[m for m in self.metrics if m.name in wanted])


def cross_check(
    metrics: list[MetricDefinition], where: str, positions: list[int] | None = None
) -> list[Problem]:
    """Problems between metrics: duplicate names, unknown references, cycles.

    ``positions`` are the metrics' indexes in the file (when some failed to parse).
    """
    pos = positions or list(range(len(metrics)))
    problems: list[Problem] = []
    index: dict[str, int] = {}
    for i, metric in enumerate(metrics):
        if metric.name in index:
            problems.append(
                Problem(
                    f"duplicate metric name {metric.name!r} "
                    f"(first at metrics[{pos[index[metric.name]]}])",
                    where=f"{where}: metrics[{pos[i]}]",
                    field="name",
                    code="metrics.duplicate_name",
                    params={"name": metric.name, "first": f"metrics[{pos[index[metric.name]]}]"},
                )
            )
        index.setdefault(metric.name, i)
    for i, metric in enumerate(metrics):
        for attr in ("numerator", "denominator", "of"):
            ref = getattr(metric, attr)
            if ref and ref not in index:
                problems.append(
                    Problem(
                        f"unknown metric {ref!r}",
                        where=f"{where}: metrics[{pos[i]}] ({metric.name})",
                        field=attr,
                        code="metrics.unknown_metric",
                        params={"name": ref},
                    )
                )
    # cycles: depth-first search over references
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2 or name not in index:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*path[path.index(name) :], name])
            problems.append(
                Problem(
                    f"metrics refer to each other in a cycle: {cycle}",
                    where=where,
                    code="metrics.cycle",
                    params={"path": cycle},
                )
            )
            return
        state[name] = 1
        for ref in metrics[index[name]].references():
            visit(ref, [*path, name])
        state[name] = 2

    for metric in metrics:
        visit(metric.name, [])
    return problems


def _order(metrics: list[MetricDefinition]) -> list[MetricDefinition]:
    by_name = {m.name: m for m in metrics}
    done: dict[str, MetricDefinition] = {}

    def place(metric: MetricDefinition) -> None:
        if metric.name in done:
            return
        for ref in metric.references():
            place(by_name[ref])
        done[metric.name] = metric

    for metric in metrics:
        place(metric)
    return list(done.values())


def parse_definitions(data: Any, where: str) -> MetricSet:
    """Validate already-parsed YAML/JSON data; raise :class:`InvalidInput` with every problem."""
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), list):
        raise InvalidInput(
            f"{where} is not a metric definition file",
            [
                Problem(
                    "expected a mapping with a 'metrics:' list",
                    where=where,
                    field="metrics",
                    code="metrics.not_a_file",
                )
            ],
        )
    problems: list[Problem] = []
    metrics: list[MetricDefinition] = []
    positions: list[int] = []
    for i, raw in enumerate(data["metrics"]):
        name = raw.get("name") if isinstance(raw, dict) else None
        label = f"{where}: metrics[{i}]" + (f" ({name})" if name else "")
        try:
            metrics.append(MetricDefinition.model_validate(raw))
            positions.append(i)
        except ValidationError as exc:
            for err in exc.errors():
                field = ".".join(str(p) for p in err["loc"]) or None
                code, params = validation_code(err)
                problems.append(Problem(err["msg"], label, field, code=code, params=params))
    extra = sorted(set(data) - {"metrics"})
    if extra:
        keys = ", ".join(extra)
        problems.append(
            Problem(
                f"unknown top-level keys: {keys}", where, code="unknown_keys", params={"keys": keys}
            )
        )
    problems.extend(cross_check(metrics, where, positions))
    if problems:
        raise InvalidInput(f"{where}: {len(problems)} problem(s) in metric definitions", problems)
    return MetricSet(metrics=_order(metrics))


def load_definitions(path: Path | str | None = None) -> MetricSet:
    """Load and validate a metric definition file (``None``: the shipped default set)."""
    if path is None:
        text = resources.files("kizuna.metrics").joinpath("default_metrics.yaml").read_text()
        where = "default_metrics.yaml"
    else:
        path = Path(path)
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(
                f"cannot read {where}",
                [unreadable(exc, where)],
            ) from None
    return _parsed(text, where)


@lru_cache(maxsize=16)
def _parsed(text: str, where: str) -> MetricSet:
    # Parsed once per file content: pages read the definitions' labels and units often.
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        loc = f"{where} line {mark.line + 1}" if mark is not None else where
        bad = Problem(str(exc), where=loc, code="yaml_syntax", params={"error": str(exc)})
        raise InvalidInput(f"{where} is not valid YAML", [bad]) from None
    return parse_definitions(data, where)
