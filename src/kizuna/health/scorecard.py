"""Scorecard definitions: measures in weighted groups, each read from a source and scored.

A scorecard is data (YAML loaded into the pydantic models below)::

    name: default
    applies_to: {segments: [smb, mid_market]}   # omit for the fallback scorecard
    bands: {yellow: 50, green: 75}              # red < 50 <= yellow < 75 <= green
    groups:
      - name: adoption
        weight: 30
        measures:
          - name: seat_utilisation
            weight: 2
            source: {kind: metric, metric: seat_utilisation}
            scoring: {scheme: linear, worst: 0.2, best: 0.9}

:func:`load_scorecards` validates a set of files and raises one
:class:`~kizuna.errors.InvalidInput` listing every problem with its file and field.
Adding a source kind (e.g. ``onboarding`` once lifecycle lands) is one more model
in :data:`Source` plus one gatherer in :mod:`kizuna.health.inputs`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kizuna.errors import CodedValueError, InvalidInput, Problem, validation_code

_NAME = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- sources: where a measure's raw value comes from ---------------------------


class MetricSource(_Strict):
    """A behavioural metric computed by the metrics engine for the same date."""

    kind: Literal["metric"]
    metric: str = Field(min_length=1)


class SurveySource(_Strict):
    """An NPS or CSAT aggregate over answers given in the ``window_days`` up to the date.

    ``nps`` is % promoters (9–10) minus % detractors (0–6), from −100 to 100;
    ``mean`` is the mean answer; ``count`` the number of answers.
    """

    kind: Literal["survey"]
    survey: Literal["nps", "csat"]
    aggregate: Literal["nps", "mean", "count"] = "mean"
    window_days: int = Field(default=180, gt=0)

    @model_validator(mode="after")
    def _nps_only_for_nps(self) -> SurveySource:
        if self.aggregate == "nps" and self.survey != "nps":
            raise CodedValueError("aggregate 'nps' needs survey 'nps'", "scorecard.nps_survey")
        return self


class TicketSource(_Strict):
    """Support-ticket facts as of the date, from ``opened_at``/``closed_at``.

    ``open`` counts tickets opened by the date and not closed by it;
    ``opened`` counts tickets opened in the window; ``mean_days_to_resolve`` is the
    mean time from opening to closing (days) of tickets closed in the window;
    ``mean_csat`` the mean CSAT (1–5) given on tickets closed in the window.
    """

    kind: Literal["tickets"]
    fact: Literal["open", "opened", "mean_days_to_resolve", "mean_csat"]
    priorities: tuple[Literal["low", "normal", "high", "urgent"], ...] = ("high", "urgent")
    window_days: int = Field(default=90, gt=0)


class ContractSource(_Strict):
    """Contract facts from the lines active on the date (``start <= date <= end``).

    ``days_to_renewal``: days from the date to the earliest active line's end date;
    ``arr``: active ARR (reporting currency); ``seats``: licensed quantity;
    ``tenure_days``: days since the first line started.
    """

    kind: Literal["contract"]
    fact: Literal["days_to_renewal", "arr", "seats", "tenure_days"]


class FitCriterion(_Strict):
    """One ideal-customer-profile criterion on an account field or attribute.

    ``field`` is ``segment``, ``industry``, ``region`` or ``attributes.<key>``;
    give ``in`` (allowed values) or ``min``/``max`` (inclusive numeric range).
    """

    field: str = Field(pattern=r"^(segment|industry|region|attributes\.[A-Za-z0-9_]+)$")
    in_: tuple[str, ...] | None = Field(default=None, alias="in")
    min: float | None = None
    max: float | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_test(self) -> FitCriterion:
        if (self.in_ is None) == (self.min is None and self.max is None):
            raise CodedValueError("give either 'in' or 'min'/'max'", "scorecard.fit_test")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise CodedValueError("'min' must not exceed 'max'", "scorecard.min_max")
        return self


class FitSource(_Strict):
    """Fit with the ideal customer profile: the share (0–1) of criteria the account
    meets, among the criteria whose field is known for it."""

    kind: Literal["fit"]
    criteria: tuple[FitCriterion, ...] = Field(min_length=1)


class SentimentSource(_Strict):
    """A CSM's manual sentiment (1–5): the newest entry made by the date and not expired."""

    kind: Literal["manual_sentiment"]


class PlanStatusSource(_Strict):
    """The account's success plan status: the newest status stored on or before the date
    (1 on track or achieved, 0.5 at risk, 0 off track); no plan status counts as missing."""

    kind: Literal["plan_status"]


Source = Annotated[
    MetricSource
    | SurveySource
    | TicketSource
    | ContractSource
    | FitSource
    | SentimentSource
    | PlanStatusSource,
    Field(discriminator="kind"),
]


# -- scoring schemes: raw value -> 0..100 --------------------------------------


class ThresholdScoring(_Strict):
    """Step bands: ``value < cuts[0]`` scores ``scores[0]``; ``cuts[i-1] <= value < cuts[i]``
    scores ``scores[i]``; ``value >= cuts[-1]`` scores ``scores[-1]``."""

    scheme: Literal["thresholds"]
    cuts: tuple[float, ...] = Field(min_length=1)
    scores: tuple[float, ...]

    @model_validator(mode="after")
    def _shape(self) -> ThresholdScoring:
        if len(self.scores) != len(self.cuts) + 1:
            raise CodedValueError(
                f"need one more score than cuts: {len(self.cuts)} cuts, {len(self.scores)} scores",
                "scorecard.cuts_scores",
                cuts=len(self.cuts),
                scores=len(self.scores),
            )
        if any(b <= a for a, b in zip(self.cuts, self.cuts[1:], strict=False)):
            raise CodedValueError("cuts must be strictly increasing", "scorecard.cuts_order")
        if any(not 0 <= s <= 100 for s in self.scores):
            raise CodedValueError("scores must lie between 0 and 100", "scorecard.score_range")
        return self


class LinearScoring(_Strict):
    """Bounded linear range: 0 at ``worst``, 100 at ``best``, clamped outside.

    ``best < worst`` means lower is better (e.g. open tickets)."""

    scheme: Literal["linear"]
    worst: float
    best: float

    @model_validator(mode="after")
    def _distinct(self) -> LinearScoring:
        if self.worst == self.best:
            raise CodedValueError("'worst' and 'best' must differ", "scorecard.worst_best")
        return self


class PercentileScoring(_Strict):
    """Percentile rank among peers in the same segment with a value on the same date.

    0 for the lowest, 100 for the highest, ties share their mean rank; one peer
    alone scores 50. With fewer than ``min_peers`` the measure is missing.
    """

    scheme: Literal["percentile"]
    higher_is_better: bool = True
    min_peers: int = Field(default=5, ge=1)


class BooleanScoring(_Strict):
    """Any non-zero value is true."""

    scheme: Literal["boolean"]
    true_score: float = Field(default=100, ge=0, le=100)
    false_score: float = Field(default=0, ge=0, le=100)


Scoring = Annotated[
    ThresholdScoring | LinearScoring | PercentileScoring | BooleanScoring,
    Field(discriminator="scheme"),
]


# -- the scorecard -------------------------------------------------------------


class Measure(_Strict):
    name: str = Field(pattern=_NAME)
    #: Names shown to people in English and Japanese (None: the name made readable).
    label: str | None = None
    label_ja: str | None = None
    description: str = ""
    weight: float = Field(gt=0)
    source: Source
    scoring: Scoring


class Group(_Strict):
    name: str = Field(pattern=_NAME)
    label: str | None = None
    label_ja: str | None = None
    weight: float = Field(gt=0)
    measures: tuple[Measure, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_measures(self) -> Group:
        names = [m.name for m in self.measures]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            repeated = ", ".join(dupes)
            raise CodedValueError(
                f"measure names repeat: {repeated}", "scorecard.measures_repeat", names=repeated
            )
        return self


class Bands(_Strict):
    """Lower bounds of the yellow and green bands; below ``yellow`` is red."""

    yellow: float = Field(default=50, ge=0, le=100)
    green: float = Field(default=75, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Bands:
        if self.yellow > self.green:
            raise CodedValueError("'yellow' must not exceed 'green'", "scorecard.bands_order")
        return self


class AppliesTo(_Strict):
    """Which accounts a scorecard scores: by segment (lifecycle stage comes later)."""

    segments: tuple[str, ...] = ()


class Scorecard(_Strict):
    name: str = Field(pattern=_NAME)
    label: str | None = None
    label_ja: str | None = None
    description: str = ""
    applies_to: AppliesTo = AppliesTo()
    bands: Bands = Bands()
    groups: tuple[Group, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Scorecard:
        names = [g.name for g in self.groups]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            repeated = ", ".join(dupes)
            raise CodedValueError(
                f"group names repeat: {repeated}", "scorecard.groups_repeat", names=repeated
            )
        measures = [m.name for g in self.groups for m in g.measures]
        dupes = sorted({n for n in measures if measures.count(n) > 1})
        if dupes:
            repeated = ", ".join(dupes)
            raise CodedValueError(
                f"measure names repeat across groups: {repeated}",
                "scorecard.measures_repeat_groups",
                names=repeated,
            )
        return self

    @property
    def measures(self) -> list[tuple[Group, Measure]]:
        """Every measure with its group, in file order."""
        return [(g, m) for g in self.groups for m in g.measures]

    def band(self, score: float | None) -> str | None:
        """The band of a 0–100 score: ``red``, ``yellow`` or ``green`` (None without a score)."""
        if score is None:
            return None
        if score >= self.bands.green:
            return "green"
        return "yellow" if score >= self.bands.yellow else "red"


class ScorecardSet(_Strict):
    """The scorecards in use: segment-specific ones plus one fallback."""

    scorecards: tuple[Scorecard, ...] = Field(min_length=1)

    def for_segment(self, segment: str | None) -> Scorecard | None:
        """The scorecard for accounts of ``segment``: the one naming it, else the fallback."""
        fallback = None
        for card in self.scorecards:
            if segment is not None and segment in card.applies_to.segments:
                return card
            if not card.applies_to.segments:
                fallback = card
        return fallback

    def by_name(self, name: str) -> Scorecard | None:
        return next((c for c in self.scorecards if c.name == name), None)


DEFAULT_SCORECARD = "default_scorecard.yaml"


def default_scorecard_path() -> Path:
    """The scorecard shipped with Kizuna (an example to adapt)."""
    return Path(str(resources.files("kizuna.health") / DEFAULT_SCORECARD))


def _loc(parts: Sequence[Any]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _problems(exc: ValidationError, where: str, prefix: Sequence[Any] = ()) -> list[Problem]:
    problems = []
    errors = exc.errors()
    deeper = {tuple(e["loc"][:i]) for e in errors for i in range(len(e["loc"]))}
    for err in errors:
        if err["type"] == "too_short" and tuple(err["loc"]) in deeper:
            continue  # "no items left" only because its items failed: already reported
        # Discriminated unions add the tag (e.g. 'metric') to the location; keep it,
        # it tells the reader which kind the validator took the entry for.
        field = _loc([*prefix, *err["loc"]])
        message = err["msg"].removeprefix("Value error, ")
        code, params = validation_code(err)
        problems.append(Problem(message, f"{where}: {field}", field, code=code, params=params))
    return problems


def parse_scorecard(data: Any, where: str) -> tuple[Scorecard | None, list[Problem]]:
    """Validate one scorecard mapping; return it or every problem found, located."""
    if not isinstance(data, dict):
        return None, [Problem("a scorecard file must hold a mapping", where, code="not_a_mapping")]
    try:
        return Scorecard.model_validate(data), []
    except ValidationError as exc:
        return None, _problems(exc, where)


@lru_cache(maxsize=64)
def _parsed(text: str, where: str) -> tuple[Scorecard | None, tuple[Problem, ...]]:
    # Parsed once per file content: pages read the scorecards' labels often.
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return None, (
            Problem(
                f"not valid YAML: {exc}", where, code="yaml_syntax", params={"error": str(exc)}
            ),
        )
    card, found = parse_scorecard(data, where)
    return card, tuple(found)


def load_scorecards(paths: Iterable[Path] | None = None) -> ScorecardSet:
    """Load and validate scorecard YAML files (default: the shipped default scorecard).

    Raises
    ------
    InvalidInput
        Listing every problem in every file (YAML syntax, unknown or missing
        fields, bad values) and in the set (repeated names, a segment claimed by
        two scorecards, no fallback scorecard).
    """
    files = list(paths) if paths is not None else [default_scorecard_path()]
    problems: list[Problem] = []
    cards: list[tuple[Path, Scorecard]] = []
    for path in files:
        try:
            card, found = _parsed(path.read_text(encoding="utf-8"), str(path))
        except OSError as exc:
            problems.append(
                Problem(
                    f"cannot read: {exc.strerror}",
                    str(path),
                    code="unreadable",
                    params={"error": exc.strerror},
                )
            )
            continue
        problems.extend(found)
        if card is not None:
            cards.append((path, card))
    problems.extend(_set_problems(cards))
    if problems or not cards:
        if not problems:
            problems.append(Problem("no scorecard files given", code="scorecard.no_files"))
        raise InvalidInput("the scorecards are not valid", problems)
    return ScorecardSet(scorecards=tuple(c for _, c in cards))


def _set_problems(cards: Sequence[tuple[Path, Scorecard]]) -> list[Problem]:
    problems: list[Problem] = []
    seen_names: dict[str, Path] = {}
    seen_segments: dict[str, tuple[Path, str]] = {}
    fallbacks: list[tuple[Path, Scorecard]] = []
    for path, card in cards:
        if card.name in seen_names:
            problems.append(
                Problem(
                    f"scorecard name {card.name!r} is also used in {seen_names[card.name]}",
                    where=f"{path}: name",
                    field="name",
                    code="scorecard.name_taken",
                    params={"name": card.name, "path": str(seen_names[card.name])},
                )
            )
        seen_names.setdefault(card.name, path)
        if not card.applies_to.segments:
            fallbacks.append((path, card))
        for segment in card.applies_to.segments:
            if segment in seen_segments:
                other_path, other = seen_segments[segment]
                problems.append(
                    Problem(
                        f"segment {segment!r} is also claimed by scorecard {other!r} "
                        f"in {other_path}",
                        where=f"{path}: applies_to.segments",
                        field="applies_to.segments",
                        code="scorecard.segment_taken",
                        params={"segment": segment, "other": other, "path": str(other_path)},
                    )
                )
            seen_segments.setdefault(segment, (path, card.name))
    if cards and not fallbacks:
        problems.append(
            Problem(
                "no fallback scorecard: give one scorecard without applies_to.segments, "
                "so accounts of other segments are scored too",
                code="scorecard.no_fallback",
            )
        )
    for path, card in fallbacks[1:]:
        problems.append(
            Problem(
                f"more than one fallback scorecard ({fallbacks[0][1].name!r} and {card.name!r}); "
                "give all but one an applies_to.segments list",
                where=f"{path}: applies_to",
                field="applies_to",
                code="scorecard.two_fallbacks",
                params={"first": fallbacks[0][1].name, "other": card.name},
            )
        )
    return problems
