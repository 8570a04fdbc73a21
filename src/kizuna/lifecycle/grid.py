"""Evaluating lifecycle rules as columns: every account × every day at once.

Accounts are processed in chunks that share an onboarding template. A chunk is
a grid of R accounts × D days (from a little before the earliest contract start
of the chunk, so trailing windows are full, through the as-of date); every
condition is one NumPy array over that grid:

* contract facts come from the lines in force each day (ARR is added line by
  line in the store's order, so sums are bit-identical to adding them one by one);
* event and activity windows are differences of running sums; distinct users in
  a trailing window count, per day, the users whose activity interval
  ``[event day, event day + window)`` covers it;
* metric and health values are the latest snapshot, forward-filled along days;
* a milestone is done on the earlier of its manual completion and the first day
  its rule holds (``argmax`` along days); milestones are evaluated so that a
  milestone reading another sees the same completion days as a day-by-day loop
  in template order would;
* the stage of a day is the first stage whose rule holds; transitions are the
  cells where it differs from the day before. Only transitions are returned.

:mod:`kizuna.lifecycle.reference` computes the same day by day for one account
at a time; tests and ``bench/lifecycle`` check that both agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import numpy as np

from kizuna.lifecycle.book import Book
from kizuna.lifecycle.definitions import (
    ActivitySpec,
    Condition,
    EventsSpec,
    LifecycleDefinition,
    OnboardingTemplate,
    Rule,
    evaluation_order,
)
from kizuna.lifecycle.milestones import Completion, Schedule
from kizuna.lifecycle.usage import series_key

CATCH_ALL_REASON = "no earlier stage's entry rule held"
#: Grid cells per chunk (accounts × days); bounds memory at ~8 MB per float array.
CHUNK_CELLS = 1_000_000

Kind = Literal["bool", "int", "float", "str"]

FACT_KIND: dict[str, Kind] = {
    "was_customer": "bool",
    "has_contract": "bool",
    "days_since_contract_start": "int",
    "days_to_renewal": "int",
    "arr": "float",
    "arr_growth": "float",
    "onboarding_complete": "bool",
    "overdue_milestones": "int",
    "milestones_done": "int",
    "days_since_first_value": "int",
}
MILESTONE_FACTS = {
    "onboarding_complete",
    "overdue_milestones",
    "milestones_done",
    "days_since_first_value",
}


@dataclass(frozen=True)
class Transition:
    """An account entered ``to_stage`` on ``date``."""

    date: date
    from_stage: str | None
    to_stage: str
    reason: str


@dataclass
class AccountResult:
    """One account evaluated through the as-of date."""

    account_id: str
    name: str
    segment: str | None
    schedule: Schedule
    completions: dict[str, Completion]
    #: transitions over the requested range (default: from the contract start)
    transitions: list[Transition] = field(default_factory=list)

    @property
    def ctx(self) -> Schedule:
        """The schedule, under the name :func:`milestone_statuses` callers used."""
        return self.schedule


@dataclass(frozen=True)
class Values:
    """A condition subject's value on every cell: floats (NaN unknown) or label codes (-1)."""

    kind: Kind
    data: np.ndarray
    labels: tuple[str, ...] = ()

    def known(self) -> np.ndarray:
        return self.data >= 0 if self.kind == "str" else ~np.isnan(self.data)

    def equals(self, other: Any) -> np.ndarray:
        """Python's ``value == other`` on every cell (False where unknown)."""
        if self.kind == "str":
            if isinstance(other, str) and other in self.labels:
                return self.data == self.labels.index(other)
            return np.zeros(self.data.shape, dtype=bool)
        if isinstance(other, bool | int | float):
            return self.data == float(other)
        return np.zeros(self.data.shape, dtype=bool)

    def text(self, r: int, c: int) -> str:
        """The value on one cell as the reasons show it."""
        return _text(self, self.data[r, c])


def _text(values: Values, v: Any) -> str:
    """One value of ``values`` as the reasons show it."""
    if values.kind == "str":
        return "unknown" if v < 0 else values.labels[int(v)]
    if np.isnan(v):
        return "unknown"
    if values.kind == "bool":
        return "true" if v else "false"
    if values.kind == "int":
        return str(int(v))
    return f"{float(v):g}"


#: milestone id -> day column it counts as done from (inf: not done), one per row
View = dict[str, np.ndarray]


#: An account's automatic completions stored by earlier runs: milestone -> (day, condition).
Known = dict[str, tuple[date, str | None]]


def evaluate_book(
    book: Book,
    definition: LifecycleDefinition,
    starts: dict[str, tuple[date, str | None]] | None = None,
    known: dict[str, Known] | None = None,
    *,
    pending: bool = False,
) -> dict[str, AccountResult]:
    """Milestones and stage transitions of every account with a started contract line.

    ``starts`` maps an account to the first day whose transition is wanted and
    the stage it held the day before; accounts not in it get their whole
    history from the contract start.

    ``known`` (automatic completions stored before each account's first wanted day)
    makes the evaluation incremental: an account whose milestones are all settled
    before that day — untracked, or every milestone with a rule completed automatically
    by then (a rule's first day cannot move once data is known) — has only its stages
    evaluated, on the days from its first wanted day (less the longest window) on. Its
    milestones come from the store. The result is the same as evaluating it from its
    contract start; stage rules that count since the contract start turn this off.

    ``pending`` says ``known`` holds every automatic completion of an evaluation through
    the day before each first wanted day (the previous run's): a milestone not in it had
    not completed by then. Accounts whose onboarding is not settled are then evaluated
    from their first wanted day too: their settled milestones from ``known``, the open
    ones on the days from the first wanted day on, counts since the contract start
    carried into the grid (:attr:`kizuna.lifecycle.usage.Usage.before`).
    """
    anchors, lead, templates, by_template = _groups(book, definition)
    as_of = book.as_of.toordinal()
    out: dict[str, AccountResult] = {}
    shared: dict[Any, np.ndarray] = {}
    settled = _settled(book, definition, starts, known, pending)
    for (t, first), members in settled.items():
        rows = np.array(members, dtype=np.int64)
        origin = first - lead
        step = max(1, CHUNK_CELLS // (as_of - origin + 1))
        for lo in range(0, len(rows), step):
            part = rows[lo : lo + step]
            chunk = _Chunk(
                book,
                definition,
                templates[t],
                part,
                anchors[part],
                lead,
                shared,
                origin=origin,
                known=known or {},
            )
            out.update(chunk.results(starts or {}))
    done = {i for members in settled.values() for i in members}
    for t, members in by_template.items():
        members = [i for i in members if i not in done]
        if not members:
            continue
        rows = np.array(sorted(members, key=lambda i: -anchors[i]), dtype=np.int64)
        lo = 0
        while lo < len(rows):
            hi = lo + 1
            while hi < len(rows):
                days = as_of - (anchors[rows[hi]] - lead) + 1
                if (hi + 1 - lo) * days > CHUNK_CELLS:
                    break
                hi += 1
            chunk = _Chunk(
                book, definition, templates[t], rows[lo:hi], anchors[rows[lo:hi]], lead, shared
            )
            out.update(chunk.results(starts or {}))
            lo = hi
    return dict(sorted(out.items()))


def _groups(
    book: Book, definition: LifecycleDefinition
) -> tuple[np.ndarray, int, list[OnboardingTemplate], dict[int, list[int]]]:
    """Contract starts, the longest window, and the accounts with one by template."""
    anchors = book.contract_starts()
    windows = [
        spec.window_days
        for c in definition.all_conditions()
        for spec in (c.events, c.activity)
        if spec is not None and spec.window_days
    ]
    lead = max(windows, default=0)
    by_template: dict[int, list[int]] = {}
    templates: list[OnboardingTemplate] = []
    of_segment: dict[str | None, int] = {}  # a handful of segments: each looked up once
    for i in np.flatnonzero(anchors >= 0).tolist():
        segment = book.segments[i]
        t = of_segment.get(segment, -1)
        if t < 0:
            template = definition.template_for(segment)
            t = next((k for k, x in enumerate(templates) if x is template), -1)
            if t < 0:
                templates.append(template)
                t = len(templates) - 1
            of_segment[segment] = t
        by_template.setdefault(t, []).append(i)
    return anchors, lead, templates, by_template


def settled_accounts(
    book: Book,
    definition: LifecycleDefinition,
    starts: dict[str, tuple[date, str | None]] | None,
    known: dict[str, Known] | None,
    pending: bool = False,
) -> set[str]:
    """The accounts :func:`evaluate_book` evaluates from their first wanted day only."""
    return {
        book.account_ids[i]
        for members in _settled(book, definition, starts, known, pending).values()
        for i in members
    }


def first_day_read(
    book: Book,
    definition: LifecycleDefinition,
    starts: dict[str, tuple[date, str | None]] | None,
    known: dict[str, Known] | None,
    pending: bool = False,
) -> tuple[int | None, np.ndarray, int]:
    """The first day (ordinal) of usage :func:`evaluate_book` reads with these arguments
    (None: no account to evaluate), the book indexes it evaluates from their first wanted
    day with milestones still open (their counts since the contract start are carried into
    the grid from before that day), and how many accounts it evaluates from their first
    wanted day."""
    anchors, lead, templates, by_template = _groups(book, definition)
    trimmed = _settled(book, definition, starts, known, pending)
    done = {i for members in trimmed.values() for i in members}
    days = [first - lead for (_, first) in trimmed]
    days += [int(anchors[i]) - lead for m in by_template.values() for i in m if i not in done]
    open_rows = [
        i
        for (t, first), members in trimmed.items()
        for i in members
        if not _all_known(templates[t], (known or {}).get(book.account_ids[i], {}), first)
    ]
    return (min(days) if days else None), np.array(sorted(open_rows), dtype=np.int64), len(done)


def _all_known(template: OnboardingTemplate, stored: Known, first: int) -> bool:
    """Every milestone of ``template`` with a rule completed automatically before ``first``."""
    return all(
        m.id in stored and stored[m.id][0].toordinal() < first
        for m in template.milestones
        if m.complete_when is not None
    )


def _open_trimmable(template: OnboardingTemplate) -> bool:
    """Whether open milestones of ``template`` can be evaluated from a later day: none of
    their rules counts distinct users since the contract start (not carried in)."""
    return not any(
        c.events is not None and c.events.measure == "distinct_users" and not c.events.window_days
        for m in template.milestones
        if m.complete_when is not None
        for c in m.complete_when.conditions
    )


def _settled(
    book: Book,
    definition: LifecycleDefinition,
    starts: dict[str, tuple[date, str | None]] | None,
    known: dict[str, Known] | None,
    pending: bool = False,
) -> dict[tuple[int, int], list[int]]:
    """Accounts evaluated from their first wanted day, by (template, first wanted day):
    settled ones (stages alone) and, with ``pending``, those with open milestones too."""
    anchors, lead, templates, by_template = _groups(book, definition)
    out: dict[tuple[int, int], list[int]] = {}
    if not starts or known is None:
        return out
    since_start = any(
        spec is not None and not spec.window_days
        for stage in definition.stages
        if stage.entry is not None
        for c in stage.entry.conditions
        for spec in (c.events, c.activity)
    )
    if since_start:
        return out
    tracking = book.tracking_started.toordinal() if book.tracking_started else None
    for t, members in by_template.items():
        for i in members:
            account = book.account_ids[i]
            wanted = starts.get(account)
            if wanted is None:
                continue
            first = wanted[0].toordinal()
            if anchors[i] + lead >= first:
                continue  # a young account: its whole history is as short
            tracked = tracking is None or anchors[i] >= tracking
            settled = _all_known(templates[t], known.get(account, {}), first)
            if tracked and not settled and not (pending and _open_trimmable(templates[t])):
                continue
            out.setdefault((t, first), []).append(int(i))
    return out


class _Chunk:
    """R accounts sharing a template, on days [origin, as_of] (columns 0..D-1)."""

    def __init__(
        self,
        book: Book,
        definition: LifecycleDefinition,
        template: OnboardingTemplate,
        rows: np.ndarray,
        anchors: np.ndarray,
        lead: int,
        shared: dict[Any, np.ndarray],
        *,
        origin: int | None = None,
        known: dict[str, Known] | None = None,
    ) -> None:
        self.book = book
        self.shared = shared  # per-book work shared by the chunks (activity matches)
        self.definition = definition
        self.template = template
        self.rows = rows
        # settled accounts (see evaluate_book): a grid from ``origin``, after their
        # contract start, with their milestones from ``known``
        self.known = known
        self.lead = lead
        self.origin = int(anchors.min()) - lead if origin is None else origin
        self.R = len(rows)
        self.D = book.as_of.toordinal() - self.origin + 1
        self.col = np.arange(self.D, dtype=np.int64)
        self.anc = anchors - self.origin
        self.valid = self.col[None, :] >= self.anc[:, None]
        self.row_of = np.full(book.size, -1, dtype=np.int64)
        self.row_of[rows] = np.arange(self.R)
        start = book.tracking_started
        self.tracked = (
            np.ones(self.R, dtype=bool) if start is None else anchors >= start.toordinal()
        )
        self._cache: dict[Any, Values] = {}
        # conditions are the definition's own objects, alive for the whole evaluation
        self._holds: dict[tuple[int, str], np.ndarray] = {}
        self._described: dict[int, str] = {}
        self._contracts()

    # -- inputs ---------------------------------------------------------------

    def _contracts(self) -> None:
        b = self.book
        in_force = np.zeros((self.R, self.D), dtype=np.int32)
        arr = np.zeros((self.R, self.D), dtype=np.float64)
        max_end = np.full((self.R, self.D), np.iinfo(np.int64).min, dtype=np.int64)
        sel = np.flatnonzero(self.row_of[b.line_account] >= 0)
        for i in sel:  # in store order: ARR sums add up in the same order as one by one
            r = self.row_of[b.line_account[i]]
            s = max(int(b.line_start[i]) - self.origin, 0)
            e = int(b.line_end[i]) - self.origin + 1
            if e <= s:
                continue
            in_force[r, s:e] += 1
            arr[r, s:e] += b.line_arr[i]
            np.maximum(max_end[r, s:e], b.line_end[i], out=max_end[r, s:e])
        self.in_force = in_force > 0
        self.arr = arr
        if self.known is None:
            self.arr_at_start = arr[np.arange(self.R), self.anc]
        else:  # the contract start is before the grid: add its lines in the same order
            self.arr_at_start = np.zeros(self.R)
            for i in sel:
                r = self.row_of[b.line_account[i]]
                if b.line_start[i] - self.origin <= self.anc[r] <= b.line_end[i] - self.origin:
                    self.arr_at_start[r] += b.line_arr[i]
        self.max_end = max_end

    def _per_day(self, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Running sums P (R × D+1): ``P[:, k]`` is the total of columns before k."""
        ok = cols >= 0
        flat = rows[ok] * self.D + cols[ok]
        counts = np.bincount(flat, weights=weights[ok], minlength=self.R * self.D)
        out = np.zeros((self.R, self.D + 1), dtype=np.float64)
        np.cumsum(counts.reshape(self.R, self.D), axis=1, out=out[:, 1:])
        return out

    def _window(
        self, running: np.ndarray, window: int | None, before: np.ndarray | None = None
    ) -> np.ndarray:
        """Totals over the trailing ``window`` days (or since the contract start, ``before``
        being each row's total from its contract start to the grid's first day)."""
        ends = running[:, 1:]
        if window:
            starts_at = np.maximum(self.col + 1 - window, 0)
            values = ends - running[:, starts_at]
        else:
            at = np.maximum(self.anc, 0)[:, None]
            values = ends - np.take_along_axis(running, at, axis=1)
            if before is not None:
                values = values + before[:, None]
        return np.where(self.valid, values, np.nan)

    def _before(self, r: np.ndarray, cols: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Per grid row, the total of the rows dated before the grid, from the contract start."""
        sel = (cols < 0) & (cols >= self.anc[r])
        return np.bincount(r[sel], weights=weights[sel], minlength=self.R).astype(np.float64)

    def _series(self, spec: EventsSpec, part: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """This chunk's rows of one usage series: grid row, day column, value."""
        series = self.book.events.get(series_key(spec, part), self.book.size)
        pos = series.rows(self.rows)
        return (
            self.row_of[series.account[pos]],
            series.day[pos] - self.origin,
            series.value[pos],
        )

    def _events(self, spec: EventsSpec) -> np.ndarray:
        if spec.measure == "count":
            r, day, n = self._series(spec, "n")
            before = None
            if not spec.window_days and (self.anc < 0).any():
                # a grid after the contract start: the days before it, from the roll-up's
                # first day read (the series) and its prefix before that
                before = self._before(r, day, n)
                carried = self.book.events.before.get(series_key(spec, "n"))
                if carried is not None:
                    before += carried[self.rows]
            return self._window(self._per_day(r, day, n), spec.window_days, before)
        if spec.window_days:
            # users active in (D - W, D]: run starts in the window plus the runs still
            # open at the end of D - W (the roll-up's run columns, see kizuna.metrics.rollup)
            w = spec.window_days
            r, day, starts = self._series(spec, "ua")
            running = self._per_day(r, day, starts)
            ends = running[:, 1:]
            begins = running[:, np.maximum(self.col + 1 - w, 0)]
            r, day, level = self._series(spec, "uo")
            pos = self._latest_rows(r, day)
            open_runs = np.where(pos >= 0, level[np.maximum(pos, 0)], 0.0) if len(level) else 0.0
            shifted = np.zeros((self.R, self.D))
            if w < self.D and isinstance(open_runs, np.ndarray):
                shifted[:, w:] = open_runs[:, : self.D - w]
            return np.where(self.valid, ends - begins + shifted, np.nan)
        # since the contract start: a user counts from their first event day on or after it
        r, day, code = self._series(spec, "users")
        user = code.astype(np.int64)
        since = (day >= self.anc[r]) if len(r) else np.zeros(0, dtype=bool)
        r, user, day = r[since], user[since], day[since]
        order = np.lexsort((day, user, r))
        r, user, day = r[order], user[order], day[order]
        new_user = np.ones(len(r), dtype=bool)
        new_user[1:] = (r[1:] != r[:-1]) | (user[1:] != user[:-1])
        running = self._per_day(r[new_user], day[new_user], np.ones(int(new_user.sum())))
        return np.where(self.valid, running[:, 1:], np.nan)

    def _activities(self, spec: ActivitySpec) -> np.ndarray:
        b = self.book
        match = self.shared.get(spec)
        if match is None:
            needle = (spec.text_contains or "").lower()
            match = self.shared[spec] = np.array(
                [
                    (spec.kind is None or kind == spec.kind) and needle in text
                    for kind, text in zip(b.activity_kind, b.activity_text, strict=True)
                ],
                dtype=bool,
            )
        r = self.row_of[b.activity_account]
        mine = match & (r >= 0)
        sel = mine & (b.activity_day >= self.origin)
        running = self._per_day(r[sel], b.activity_day[sel] - self.origin, np.ones(int(sel.sum())))
        before = None
        if not spec.window_days and (self.anc < 0).any():
            early = np.flatnonzero(mine & (b.activity_day < self.origin))
            cols = b.activity_day[early] - self.origin
            before = self._before(r[early], cols, np.ones(len(early)))
        return self._window(running, spec.window_days, before)

    def _latest_rows(self, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Per cell, the index (into ``r``/``c``) of the latest row on or before it (-1: none);
        ``r`` grid rows, ``c`` day columns (rows before the grid count on its first day)."""
        if not len(r):
            return np.full((self.R, self.D), -1, dtype=np.int64)
        cc = np.maximum(c, 0)
        # a series' rows come account by account in grid row order, each by day: already
        # in (row, day) order, the sort is skipped
        dr, dc = np.diff(r), np.diff(c)
        in_order = bool(np.all((dr > 0) | ((dr == 0) & (dc >= 0))))
        order = np.arange(len(r)) if in_order else np.lexsort((c, cc, r))
        rs, cs = r[order], cc[order]
        last = np.ones(len(order), dtype=bool)
        last[:-1] = (rs[1:] != rs[:-1]) | (cs[1:] != cs[:-1])
        keep = np.flatnonzero(last)
        rank = np.full((self.R, self.D), -1, dtype=np.int64)
        rank[rs[keep], cs[keep]] = keep
        filled = np.maximum.accumulate(rank, axis=1)
        if in_order:  # ranks are the rows' own indexes
            return filled
        return np.where(filled >= 0, order[np.maximum(filled, 0)], -1)

    def _latest(self, account: np.ndarray, day: np.ndarray, tie: np.ndarray) -> np.ndarray:
        """Per cell, the index of the latest snapshot on or before it (-1: none).

        Among snapshots of the same day the one sorting last by ``tie`` wins;
        snapshots before the grid count on its first day.
        """
        r = self.row_of[account]
        sel = np.flatnonzero(r >= 0)
        if not len(sel):
            return np.full((self.R, self.D), -1, dtype=np.int64)
        r, d, t = r[sel], day[sel], tie[sel]
        c = np.maximum(d - self.origin, 0)
        order = np.lexsort((t, d, c, r))
        rs, cs = r[order], c[order]
        last = np.ones(len(order), dtype=bool)
        last[:-1] = (rs[1:] != rs[:-1]) | (cs[1:] != cs[:-1])
        keep = np.flatnonzero(last)
        rank = np.full((self.R, self.D), -1, dtype=np.int64)
        rank[rs[keep], cs[keep]] = keep
        # ranks grow with the day within a row, so a running maximum forward-fills
        filled = np.maximum.accumulate(rank, axis=1)
        source = sel[order]
        return np.where(filled >= 0, source[np.maximum(filled, 0)], -1)

    # -- condition values -----------------------------------------------------

    def values(self, cond: Condition, view: View, view_key: str) -> Values:
        """The value of ``cond``'s subject on every cell, with milestones done per ``view``."""
        if cond.fact is not None:
            key: Any = ("fact", cond.fact, view_key if cond.fact in MILESTONE_FACTS else None)
        elif cond.milestone is not None:
            key = ("milestone", cond.milestone, view_key)
        else:
            key = ("subject", cond.metric, cond.health, cond.events, cond.activity)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._compute(cond, view)
        return cached

    def _compute(self, cond: Condition, view: View) -> Values:
        col = self.col[None, :]
        if cond.fact is not None:
            return Values(FACT_KIND[cond.fact], self._fact(cond.fact, view))
        if cond.milestone is not None:
            done = view.get(cond.milestone, np.full(self.R, np.inf))
            return Values("bool", (col >= done[:, None]).astype(np.float64))
        if cond.metric is not None:
            none = np.zeros(0, dtype=np.int64)
            a, d, v = self.book.metrics.get(cond.metric, (none, none, np.zeros(0)))
            pos = self._latest(a, d, v)
            picked = v[np.maximum(pos, 0)] if len(v) else np.full(pos.shape, np.nan)
            return Values("float", np.where(pos >= 0, picked, np.nan))
        if cond.health is not None:
            b = self.book
            pos = self._latest(b.health_account, b.health_day, np.arange(len(b.health_day)))
            if cond.health == "score":
                data = b.health_score[np.maximum(pos, 0)] if len(b.health_score) else np.nan
                return Values("float", np.where(pos >= 0, data, np.nan))
            labels = tuple(sorted({x for x in b.health_band if x is not None}))
            codes = np.array(
                [-1 if x is None else labels.index(x) for x in b.health_band] + [-1],
                dtype=np.int64,
            )
            return Values("str", codes[np.where(pos >= 0, pos, len(b.health_band))], labels)
        if cond.events is not None:
            return Values("float", self._events(cond.events))
        assert cond.activity is not None
        return Values("float", self._activities(cond.activity))

    def _fact(self, name: str, view: View) -> np.ndarray:
        col = self.col[None, :]
        anc = self.anc[:, None]
        if name == "was_customer":
            return self.valid.astype(np.float64)
        if name == "has_contract":
            return self.in_force.astype(np.float64)
        if name == "days_since_contract_start":
            return np.where(self.valid, (col - anc).astype(np.float64), np.nan)
        if name == "days_to_renewal":
            days = (self.max_end - self.origin - col).astype(np.float64)
            return np.where(self.in_force, days, np.nan)
        if name == "arr":
            return self.arr
        if name == "arr_growth":
            start = self.arr_at_start[:, None]
            with np.errstate(divide="ignore", invalid="ignore"):
                growth = self.arr / start - 1
            return np.where(start != 0, growth, np.nan)
        milestones = self.template.milestones
        done = [view[m.id][:, None] for m in milestones]
        if name == "onboarding_complete":
            return (col >= np.max(np.hstack(done), axis=1)[:, None]).astype(np.float64)
        if name == "milestones_done":
            total = np.zeros((self.R, self.D))
            for d in done:
                total += col >= d
            return total
        if name == "overdue_milestones":
            total = np.zeros((self.R, self.D))
            for m, d in zip(milestones, done, strict=True):
                total += (col < d) & (col > anc + m.due_days)
            return total
        if name == "days_since_first_value":
            fv = view[self.template.first_value.id][:, None]
            with np.errstate(invalid="ignore"):
                return np.where(col >= fv, col - fv, np.nan)
        raise KeyError(name)  # definitions are validated, so this is a bug

    # -- rules ----------------------------------------------------------------

    def holds(self, cond: Condition, view: View, view_key: str) -> np.ndarray:
        """Where ``cond`` holds (an unknown value never does)."""
        key = (id(cond), view_key)
        cached = self._holds.get(key)
        if cached is None:
            cached = self._holds[key] = self._holds_now(cond, view, view_key)
        return cached

    def _holds_now(self, cond: Condition, view: View, view_key: str) -> np.ndarray:
        v = self.values(cond, view, view_key)
        if cond.milestone is not None:
            return v.equals(bool(cond.done))
        ok = v.known()
        if cond.eq is not None:
            ok &= v.equals(cond.eq)
        if cond.ne is not None:
            ok &= ~v.equals(cond.ne)
        if cond.in_ is not None:
            ok &= np.logical_or.reduce([v.equals(x) for x in cond.in_] or [np.zeros_like(ok)])
        for op, bound in (("lt", cond.lt), ("lte", cond.lte), ("gt", cond.gt), ("gte", cond.gte)):
            if bound is None:
                continue
            if v.kind in ("bool", "str"):
                return np.zeros(ok.shape, dtype=bool)
            with np.errstate(invalid="ignore"):
                ok &= {
                    "lt": np.less,
                    "lte": np.less_equal,
                    "gt": np.greater,
                    "gte": np.greater_equal,
                }[op](v.data, bound)
        return ok

    def rule(self, rule: Rule, view: View, view_key: str) -> np.ndarray:
        held = [self.holds(c, view, view_key) for c in rule.conditions]
        return np.logical_and.reduce(held) if rule.mode == "all" else np.logical_or.reduce(held)

    def detail(self, cond: Condition, view: View, view_key: str, r: int, c: int) -> str:
        # worded once per chunk: a reason is worded for every transition and completion
        described = self._described.get(id(cond))
        if described is None:
            described = self._described[id(cond)] = cond.describe()
        if cond.milestone is not None:
            return described
        return f"{described} (is {self.values(cond, view, view_key).text(r, c)})"

    def reasons(
        self, rule: Rule, view: View, view_key: str, rows: np.ndarray, cols: np.ndarray
    ) -> list[str]:
        """:meth:`reason` on many cells at once (each distinct value worded once)."""
        details: list[list[str]] = []
        for cond in rule.conditions:
            described = self._described.get(id(cond))
            if described is None:
                described = self._described[id(cond)] = cond.describe()
            if cond.milestone is not None:
                details.append([described] * len(rows))
                continue
            values = self.values(cond, view, view_key)
            cells = values.data[rows, cols]
            # distinct bit patterns: -0.0 and 0.0 are worded apart, as one by one
            bits = cells.view(np.int64) if cells.dtype == np.float64 else cells
            distinct, inverse = np.unique(bits, return_inverse=True)
            if cells.dtype == np.float64:
                distinct = distinct.view(np.float64)
            worded = [f"{described} (is {_text(values, v)})" for v in distinct.tolist()]
            details.append([worded[i] for i in inverse.reshape(-1).tolist()])
        if rule.mode == "all":
            return ["; ".join(parts) for parts in zip(*details, strict=True)]
        held = [self.holds(x, view, view_key)[rows, cols].tolist() for x in rule.conditions]
        out = []
        for parts, holds in zip(zip(*details, strict=True), zip(*held, strict=True), strict=True):
            chosen = [d for d, h in zip(parts, holds, strict=True) if h]
            out.append("; ".join(chosen) if chosen else "; ".join(parts))
        return out

    def reason(self, rule: Rule, view: View, view_key: str, r: int, c: int) -> str:
        """The conditions that decided ``rule`` on one cell (as the day-by-day loop words it)."""
        details = [self.detail(x, view, view_key, r, c) for x in rule.conditions]
        if rule.mode == "all":
            return "; ".join(details)
        held = [
            d
            for x, d in zip(rule.conditions, details, strict=True)
            if self.holds(x, view, view_key)[r, c]
        ]
        return "; ".join(held) if held else "; ".join(details)

    # -- milestones and stages --------------------------------------------------

    def _milestones(self) -> tuple[View, dict[str, np.ndarray], dict[tuple[str, int], str]]:
        """Final done columns, automatic completion columns and their reasons."""
        template = self.template
        ids = [m.id for m in template.milestones]
        place = {m: i for i, m in enumerate(ids)}
        inf = np.full(self.R, np.inf)
        manual: View = {}
        for m in ids:
            manual[m] = inf.copy()
            for r, account in enumerate(self.rows):
                done = self.book.manual.get(int(account), {}).get(m)
                if done is not None and self.tracked[r]:
                    manual[m][r] = done.completed_on.toordinal() - self.origin
        auto: dict[str, np.ndarray] = {m: inf.copy() for m in ids}
        reasons: dict[tuple[str, int], str] = {}
        untracked = np.where(self.tracked, np.inf, self.anc.astype(np.float64))
        # A grid after the contract start (see evaluate_book): the milestones completed
        # before its first wanted day come from the store, the open ones are evaluated on
        # the days from it on (they had not completed before it).
        stored: dict[str, np.ndarray] = {}
        open_rows: dict[str, np.ndarray] = {m: self.tracked.copy() for m in ids}
        if self.known is not None:
            stored = {m: inf.copy() for m in ids}
            for r, account in enumerate(self.rows):
                if not self.tracked[r]:
                    continue
                for m_id, (day, condition) in self.known.get(
                    self.book.account_ids[account], {}
                ).items():
                    if m_id in stored:
                        stored[m_id][r] = day.toordinal() - self.origin
                        reasons[(m_id, r)] = condition or ""
                        open_rows[m_id][r] = False
        wanted = self.col >= (self.lead if self.known is not None else 0)
        for m_id in evaluation_order(template):
            rule = template.milestone(m_id).complete_when  # type: ignore[union-attr]
            if rule is None:
                continue
            if self.known is not None:
                # in evaluation order, as a whole-history evaluation fills them in
                auto[m_id] = stored[m_id]
                if not open_rows[m_id].any():
                    continue
            # a milestone later in the template completing today is seen tomorrow
            view = {
                k: np.minimum(
                    np.minimum(manual[k], auto[k] + (0 if place[k] < place[m_id] else 1)),
                    untracked,
                )
                for k in ids
            }
            held = self.rule(rule, view, f"m:{m_id}") & self.valid & open_rows[m_id][:, None]
            held &= wanted[None, :]
            hit = held.any(axis=1)
            first = np.argmax(held, axis=1)
            auto[m_id] = np.where(hit, first, auto[m_id])
            hit_rows = np.flatnonzero(hit)
            worded = self.reasons(rule, view, f"m:{m_id}", hit_rows, first[hit_rows])
            for row, why in zip(hit_rows.tolist(), worded, strict=True):
                reasons[(m_id, row)] = why
        final = {k: np.minimum(np.minimum(manual[k], auto[k]), untracked) for k in ids}
        return final, auto, reasons

    def results(self, starts: dict[str, tuple[date, str | None]]) -> dict[str, AccountResult]:
        b = self.book
        final, auto, reasons = self._milestones()
        stages = self.definition.stages
        code = np.full((self.R, self.D), len(stages) - 1, dtype=np.int64)
        for i in range(len(stages) - 2, -1, -1):
            entry = stages[i].entry
            assert entry is not None
            code = np.where(self.rule(entry, final, "final"), i, code)
        ids = [s.id for s in stages]
        # the first wanted column and the stage code of the day before it (-1: none, -2: other)
        start_col = self.anc.copy()
        prev_code = np.full(self.R, -1, dtype=np.int64)
        prev_name: list[str | None] = [None] * self.R
        for r, account in enumerate(self.rows):
            wanted = starts.get(b.account_ids[account])
            if wanted is not None:
                start_col[r] = max(wanted[0].toordinal() - self.origin, int(self.anc[r]))
                prev_name[r] = wanted[1]
                if wanted[1] is not None:
                    prev_code[r] = ids.index(wanted[1]) if wanted[1] in ids else -2
        changed = np.zeros((self.R, self.D), dtype=bool)
        changed[:, 1:] = code[:, 1:] != code[:, :-1]
        in_range = self.col[None, :] >= start_col[:, None]
        changed &= in_range
        first_cells = start_col < self.D
        rr = np.flatnonzero(first_cells)
        changed[rr, start_col[rr]] = code[rr, start_col[rr]] != prev_code[rr]

        # every transition of the chunk at once, in row, then day order
        tr, tc = np.nonzero(changed)
        into = code[tr, tc]
        came = code[tr, np.maximum(tc - 1, 0)]
        why: list[str] = [CATCH_ALL_REASON] * len(tr)
        for s in np.unique(into).tolist():
            entry = stages[s].entry
            if entry is None:
                continue
            at = np.flatnonzero(into == s)
            for j, text in zip(
                at.tolist(), self.reasons(entry, final, "final", tr[at], tc[at]), strict=True
            ):
                why[j] = text
        days = {c: date.fromordinal(c + self.origin) for c in np.unique(tc).tolist()}
        by_row: list[list[Transition]] = [[] for _ in range(self.R)]
        first_col = start_col.tolist()
        for j, (r, c, s, before) in enumerate(
            zip(tr.tolist(), tc.tolist(), into.tolist(), came.tolist(), strict=True)
        ):
            by_row[r].append(
                Transition(
                    days[c], prev_name[r] if c == first_col[r] else ids[before], ids[s], why[j]
                )
            )

        out: dict[str, AccountResult] = {}
        autos = {m.id: auto[m.id].tolist() for m in self.template.milestones}
        anchors = (self.anc + self.origin).tolist()
        tracked = self.tracked.tolist()
        for r, account in enumerate(self.rows.tolist()):
            account_id = b.account_ids[account]
            anchor = date.fromordinal(anchors[r])
            completions: dict[str, Completion] = {}
            if tracked[r]:
                for m in self.template.milestones:
                    auto_col = autos[m.id][r]
                    auto_on = (
                        None
                        if auto_col == np.inf
                        else date.fromordinal(int(auto_col) + self.origin)
                    )
                    man = b.manual.get(account, {}).get(m.id)
                    if man is not None and (auto_on is None or man.completed_on <= auto_on):
                        completions[m.id] = Completion(
                            man.completed_on,
                            "manual",
                            completed_by=man.completed_by,
                            automatic_on=auto_on,
                        )
                    elif auto_on is not None:
                        completions[m.id] = Completion(
                            auto_on,
                            "automatic",
                            condition=reasons[(m.id, r)],
                            automatic_on=auto_on,
                        )
            out[account_id] = AccountResult(
                account_id=account_id,
                name=b.names[account],
                segment=b.segments[account],
                schedule=Schedule(self.template, anchor, tracked[r]),
                completions=completions,
                transitions=by_row[r],
            )
        return out
