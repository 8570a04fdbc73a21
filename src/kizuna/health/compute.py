"""Computing health as of a date: score every account, roll up parents, keep a snapshot.

:func:`score_inputs` is the pure, vectorised core (inputs in, snapshot table out);
:func:`compute_health` wires it to the store, the metric values and the
snapshot files.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kizuna.errors import InvalidInput, Problem
from kizuna.health.inputs import AccountFrame, HealthInputs, gather_inputs, source_key
from kizuna.health.scorecard import Scorecard, ScorecardSet, load_scorecards
from kizuna.health.scoring import FloatArray, ScoreMatrix, assemble, band_of, score_measure
from kizuna.health.snapshots import (
    CHILD_TYPE,
    GROUP_TYPE,
    MEASURE_TYPE,
    SNAPSHOT_SCHEMA,
    write_snapshot,
)
from kizuna.platform import Platform
from kizuna.settings import Settings


def scorecard_paths(settings: Settings, paths: list[Path] | None = None) -> list[Path] | None:
    """The scorecard files in use: ``paths`` if given, else ``<home>/scorecards/*.yaml``
    when that folder holds any, else None (the shipped default)."""
    if paths:
        return paths
    folder = settings.home / "scorecards"
    found = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []
    return found or None


def _nested(offsets: np.ndarray, arrays: list[pa.Array], kind: pa.DataType) -> pa.Array:
    struct = pa.StructArray.from_arrays(arrays, fields=list(kind))
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), struct)


def _card_block(
    card: Scorecard, accounts: AccountFrame, rows: np.ndarray, inputs: HealthInputs
) -> tuple[pa.Table, FloatArray]:
    """Score the accounts at positions ``rows`` on ``card``; the block and its scores."""
    pairs = card.measures
    n, m, k = len(rows), len(pairs), len(card.groups)
    raw = np.column_stack([inputs.values[source_key(meas.source)][rows] for _, meas in pairs])
    segments = accounts.segments[rows]
    scored = np.column_stack(
        [score_measure(raw[:, j], meas.scoring, segments) for j, (_, meas) in enumerate(pairs)]
    )
    result: ScoreMatrix = assemble(card, scored)
    missing_mask = np.isnan(result.measure_scores)
    names = np.array([meas.name for _, meas in pairs], dtype=object)
    missing_offsets = np.concatenate([[0], np.cumsum(missing_mask.sum(axis=1))])
    missing = pa.ListArray.from_arrays(
        pa.array(missing_offsets, pa.int32()),
        pa.array(np.broadcast_to(names, (n, m))[missing_mask], pa.string()),
    )
    # group effective weights: the sum of their measures' effective weights
    group_of = np.array([card.groups.index(g) for g, _ in pairs])
    group_eff = np.zeros((n, k))
    for g in range(k):
        group_eff[:, g] = result.weights[:, group_of == g].sum(axis=1)

    def repeat(values: list[object], kind: pa.DataType, per: int) -> pa.Array:
        # the same few values for every account: one small array taken n times (C++)
        return pa.array(values, kind).take(pa.array(np.tile(np.arange(per), n)))

    groups = _nested(
        np.arange(0, n * k + 1, k),
        [
            repeat([g.name for g in card.groups], pa.string(), k),
            repeat([g.weight for g in card.groups], pa.float64(), k),
            pa.array(group_eff.ravel(), pa.float64()),
            pa.array(result.group_scores.ravel(), pa.float64(), from_pandas=True),
        ],
        GROUP_TYPE,
    )
    measures = _nested(
        np.arange(0, n * m + 1, m),
        [
            repeat([g.name for g, _ in pairs], pa.string(), m),
            repeat(list(names), pa.string(), m),
            repeat([meas.source.kind for _, meas in pairs], pa.string(), m),
            repeat([meas.scoring.scheme for _, meas in pairs], pa.string(), m),
            pa.array(raw.ravel(), pa.float64(), from_pandas=True),
            pa.array(result.measure_scores.ravel(), pa.float64(), from_pandas=True),
            repeat([meas.weight for _, meas in pairs], pa.float64(), m),
            pa.array(result.weights.ravel(), pa.float64()),
            pa.array(result.contributions.ravel(), pa.float64()),
            pa.array(missing_mask.ravel(), pa.bool_()),
        ],
        MEASURE_TYPE,
    )
    table = pa.table(
        {
            "account_id": pa.array(accounts.ids[rows], pa.string()),
            "as_of": pa.array(np.full(n, inputs.as_of), pa.date32()),
            "name": pa.array(accounts.names[rows], pa.string()),
            "segment": pa.array(segments, pa.string()),
            "parent_id": pa.array(accounts.parent_ids[rows], pa.string()),
            "scorecard": pa.array([card.name] * n, pa.string()),
            "method": pa.array(["scorecard"] * n, pa.string()),
            "arr": pa.array(accounts.arr[rows], pa.float64()),
            "score": pa.array(result.score, pa.float64(), from_pandas=True),
            "band": pa.array(band_of(result.score, card), pa.string()),
            "missing": missing,
            "groups": groups,
            "measures": measures,
            "children": pa.ListArray.from_arrays(
                pa.array(np.zeros(n + 1, np.int32)), pa.array([], CHILD_TYPE)
            ),
        },
        schema=SNAPSHOT_SCHEMA,
    )
    return table, result.score


@dataclass(frozen=True)
class RollUp:
    """A parent's score as the ARR-weighted mean of its children's scores."""

    score: float
    children: list[dict[str, object]]


def roll_up(
    ids: np.ndarray, parent_ids: np.ndarray, arr: FloatArray, scores: FloatArray
) -> dict[str, RollUp]:
    """Roll children's scores up to their parents, bottom-up through the hierarchy.

    A child weighs by the ARR of its whole subtree (its own active ARR plus its
    descendants'); children without a score are left out. When the scored
    children have no ARR at all they weigh equally. A parent that has children
    gets the roll-up instead of its own scorecard score.
    """
    position = {a: i for i, a in enumerate(ids)}
    children: dict[str, list[str]] = {}
    for account, parent in zip(ids, parent_ids, strict=True):
        if parent is not None and parent in position:
            children.setdefault(parent, []).append(account)
    if not children:
        return {}

    def depth(account: str) -> int:
        seen, d = {account}, 0
        parent = parent_ids[position[account]]
        while parent is not None and parent in position and parent not in seen:
            seen.add(parent)
            d += 1
            parent = parent_ids[position[parent]]
        return d

    score = {a: float(s) for a, s in zip(ids, scores, strict=True)}
    subtree_arr = {a: float(v) for a, v in zip(ids, arr, strict=True)}
    result: dict[str, RollUp] = {}
    for parent in sorted(children, key=depth, reverse=True):
        kids = sorted(children[parent])
        subtree_arr[parent] += sum(subtree_arr[c] for c in kids)
        valued = [c for c in kids if not np.isnan(score[c])]
        if not valued:
            score[parent] = float("nan")
            continue
        weights = np.array([subtree_arr[c] for c in valued])
        if weights.sum() <= 0:
            weights = np.ones(len(valued))
        shares = weights / weights.sum()
        rows = [
            {
                "account_id": c,
                "arr": subtree_arr[c],
                "effective_weight": float(w),
                "score": score[c],
                "contribution": float(w) * score[c],
            }
            for c, w in zip(valued, shares, strict=True)
        ]
        score[parent] = round(float(sum(r["contribution"] for r in rows)), 9)  # type: ignore[misc]
        result[parent] = RollUp(score=score[parent], children=rows)
    return result


def score_inputs(scorecards: ScorecardSet, inputs: HealthInputs) -> pa.Table:
    """Score every account in ``inputs`` on its segment's scorecard, then roll up parents.

    Returns the snapshot table (schema :data:`SNAPSHOT_SCHEMA`): each scorecard's
    accounts in id order, then the rolled-up parents (re-sorting would copy every
    nested column once more; readers filter by account id).
    """
    accounts = inputs.accounts
    card_of = np.array(
        [getattr(scorecards.for_segment(s), "name", None) for s in accounts.segments],
        dtype=object,
    )
    unassigned = sorted(
        {str(s) for s, c in zip(accounts.segments, card_of, strict=True) if c is None}
    )
    if unassigned:
        raise InvalidInput(
            "some accounts have no scorecard",
            [
                Problem(f"no scorecard applies to segment {s!r}", field="segment")
                for s in unassigned
            ],
        )
    scores = np.full(len(accounts), np.nan)
    blocks: list[pa.Table] = []
    for card in scorecards.scorecards:
        rows = np.flatnonzero(card_of == card.name)
        if len(rows):
            block, block_scores = _card_block(card, accounts, rows, inputs)
            blocks.append(block)
            scores[rows] = block_scores
    table = pa.concat_tables(blocks) if blocks else SNAPSHOT_SCHEMA.empty_table()
    rolled = roll_up(accounts.ids, accounts.parent_ids, accounts.arr, scores)
    if rolled:
        table = _apply_roll_ups(table, rolled, scorecards)
    return table


def _apply_roll_ups(table: pa.Table, rolled: dict[str, RollUp], cards: ScorecardSet) -> pa.Table:
    keep = pc.invert(pc.is_in(table["account_id"], value_set=pa.array(list(rolled), pa.string())))
    parents = table.filter(pc.invert(keep)).to_pylist()
    for row in parents:
        roll = rolled[row["account_id"]]
        card = cards.by_name(row["scorecard"])
        row.update(
            method="roll-up",
            score=roll.score,
            band=card.band(roll.score) if card else None,
            missing=[],
            groups=[],
            measures=[],
            children=roll.children,
        )
    return pa.concat_tables(
        [table.filter(keep), pa.Table.from_pylist(parents, schema=SNAPSHOT_SCHEMA)]
    )


@dataclass
class HealthRun:
    """What one date's computation did."""

    as_of: date
    accounts: int
    scored: int
    bands: dict[str, int]
    snapshot: str
    notes: list[str] = field(default_factory=list)


def compute_health(
    platform: Platform, as_of: date, scorecards: ScorecardSet | None = None
) -> HealthRun:
    """Compute every account's health as of ``as_of`` and replace that date's snapshot."""
    cards = scorecards or load_scorecards(scorecard_paths(platform.settings))
    inputs = gather_inputs(platform, as_of, cards)
    table = score_inputs(cards, inputs)
    path = write_snapshot(platform.settings, as_of, table)
    bands = Counter(b for b in table["band"].to_pylist() if b is not None)
    return HealthRun(
        as_of=as_of,
        accounts=table.num_rows,
        scored=table.num_rows - table["score"].null_count,
        bands={b: bands.get(b, 0) for b in ("red", "yellow", "green")},
        snapshot=str(path),
        notes=inputs.notes,
    )


def compute_health_range(
    platform: Platform,
    start: date,
    end: date,
    every_days: int = 1,
    scorecards: ScorecardSet | None = None,
) -> list[HealthRun]:
    """Compute health on ``start``, ``start + every_days``, ... up to ``end`` (oldest first)."""
    if end < start:
        raise InvalidInput(f"--to {end} is before --from {start}")
    if every_days < 1:
        raise InvalidInput("the step must be at least one day")
    cards = scorecards or load_scorecards(scorecard_paths(platform.settings))
    runs = []
    day = start
    while day <= end:
        runs.append(compute_health(platform, day, cards))
        day += timedelta(days=every_days)
    return runs
