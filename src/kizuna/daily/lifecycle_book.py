"""Each account's lifecycle as its page shows it, for the whole book at once.

:func:`build_lifecycle_book` evaluates every account's lifecycle in one pass
(:class:`LifecycleDetail` per account) and stamps each with a digest of the stored
rows it was built from (:func:`lifecycle_stamps`), so a saved detail is shown only
while it is still current.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import sqlalchemy as sa

from kizuna.lifecycle import (
    AccountLifecycle,
    Evaluation,
    LifecycleDefinition,
    OnboardingReport,
    Transition,
    definition_for,
    lifecycles_of,
    onboarding_report_of,
    show_accounts,
    stored_transitions,
)
from kizuna.lifecycle.book import collector_paused
from kizuna.platform import Platform
from kizuna.store.lifecycle_models import MilestoneCompletion, StageTransition
from kizuna.store.models import Account, ContractLine

__all__ = [
    "EPOCH",
    "LifecycleBook",
    "LifecycleDetail",
    "MilestoneRow",
    "OnboardingState",
    "StageStep",
    "build_lifecycle_book",
    "lifecycle_book_from",
    "lifecycle_detail_of",
    "lifecycle_stamps",
    "onboarding_from",
]

#: The first contract start the book-wide onboarding report covers (all of them).
EPOCH = date(1900, 1, 1)

OnboardingState = Literal["finished_on_time", "finished_late", "in_progress", "overdue"]


@dataclass(frozen=True, slots=True)
class StageStep:
    at: date
    stage_name: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class MilestoneRow:
    id: str
    name: str
    owner: str
    due: date
    status: str  # done | done_late | overdue | open
    done_on: date | None
    done_by: str | None


@dataclass
class LifecycleDetail:
    """One account's lifecycle as its page shows it (stage history newest first)."""

    stage: str | None
    stage_name: str | None
    since: date | None
    days_in_stage: int | None
    history: list[StageStep]
    milestones: list[MilestoneRow]
    contract_start: date | None
    time_to_value_days: int | None
    onboarding_planned: date | None
    onboarding_finished: date | None
    onboarding_state: OnboardingState | None


def _onboarding_state(life: AccountLifecycle, today: date) -> OnboardingState | None:
    planned, finished = life.onboarding_planned, life.onboarding_finished
    if planned is None:
        return None
    if finished is not None:
        return "finished_on_time" if finished <= planned else "finished_late"
    return "overdue" if today > planned else "in_progress"


def lifecycle_detail_of(
    life: AccountLifecycle,
    definition: LifecycleDefinition,
    names: dict[str, str] | None = None,
) -> LifecycleDetail | None:
    """What the account page shows of :func:`kizuna.lifecycle.show_account`'s result
    (None: no stage history and no onboarding milestones). ``names``: each stage id's name
    (:func:`stage_names`; saves looking them up per account)."""
    if not life.history and not life.milestones:
        return None
    known = stage_names(definition) if names is None else names

    def name_of(stage_id: str) -> str:
        return known.get(stage_id, stage_id)

    return LifecycleDetail(
        stage=life.stage,
        stage_name=life.stage_name or life.stage,
        since=life.since,
        days_in_stage=life.days_in_stage,
        history=[StageStep(t.date, name_of(t.to_stage), t.reason) for t in reversed(life.history)],
        milestones=[
            MilestoneRow(
                id=m.id,
                name=m.name,
                owner=m.owner,
                due=m.due,
                status=str(m.status),
                done_on=m.done,
                done_by=m.completed_by,
            )
            for m in life.milestones
        ],
        contract_start=life.contract_start,
        time_to_value_days=life.time_to_value_days,
        onboarding_planned=life.onboarding_planned,
        onboarding_finished=life.onboarding_finished,
        onboarding_state=_onboarding_state(life, life.as_of),
    )


def stage_names(definition: LifecycleDefinition) -> dict[str, str]:
    """Each stage id's name (the first stage of an id, as ``definition.stage`` finds it)."""
    names: dict[str, str] = {}
    for stage in definition.stages:
        names.setdefault(stage.id, stage.name)
    return names


def lifecycle_stamps(
    platform: Platform,
    definition: LifecycleDefinition,
    as_of: date,
    account_id: str | None = None,
    histories: dict[str, list[Transition]] | None = None,
) -> dict[str, str]:
    """A digest, per account (or of ``account_id`` only), of what its lifecycle detail is built
    from in the store: segment, first contract start, milestone completions and stage
    transitions up to ``as_of``, and the lifecycle definition.

    A detail saved by the daily run is shown only while its account's stamp is unchanged;
    a milestone marked done since (or a re-computed lifecycle, a new contract line, an
    edited definition) changes it, and the page computes the detail again.

    ``histories`` (every account's stored transitions through ``as_of``, as
    :func:`kizuna.lifecycle.stored_transitions` reads them) saves reading them again.
    """

    def only(query: Any, column: Any) -> Any:
        return query if account_id is None else query.where(column == account_id)

    parts: dict[str, list[Any]] = defaultdict(list)
    with platform.store.session() as session:
        accounts = only(sa.select(Account.id, Account.segment), Account.id)
        for a, segment in session.execute(accounts).all():
            parts[a].append(("account", segment))
        starts = sa.select(ContractLine.account_id, sa.func.min(ContractLine.start_date))
        starts = only(starts, ContractLine.account_id).group_by(ContractLine.account_id)
        for a, start in session.execute(starts).all():
            parts[a].append(("start", start))
        completions = sa.select(
            MilestoneCompletion.account_id,
            MilestoneCompletion.milestone_id,
            MilestoneCompletion.source,
            MilestoneCompletion.completed_on,
            MilestoneCompletion.completed_by,
            MilestoneCompletion.condition,
        )
        for row in session.execute(only(completions, MilestoneCompletion.account_id)).all():
            parts[row[0]].append(("completion", *(str(v) for v in row[1:])))
        if histories is None:
            transitions = sa.select(
                StageTransition.account_id,
                StageTransition.transition_date,
                StageTransition.from_stage,
                StageTransition.to_stage,
                StageTransition.reason,
            ).where(StageTransition.transition_date <= as_of)
            for row in session.execute(only(transitions, StageTransition.account_id)).all():
                parts[row[0]].append(("transition", *(str(v) for v in row[1:])))
        else:  # the same rows, read once by the caller
            for a, history in histories.items():
                if account_id is None or a == account_id:
                    parts[a].extend(
                        ("transition", str(t.date), str(t.from_stage), t.to_stage, str(t.reason))
                        for t in history
                        if t.date <= as_of
                    )
    # the digest of repr((definition JSON, sorted parts)), the definition's part hashed once
    common = hashlib.blake2b(digest_size=16)
    common.update(f"({definition.model_dump_json()!r}, ".encode())

    def stamp(p: list[Any]) -> str:
        h = common.copy()
        h.update(f"{sorted(map(str, p))!r})".encode())
        return h.hexdigest()

    return {a: stamp(p) for a, p in parts.items()}


@dataclass
class LifecycleBook:
    """Every account's lifecycle detail on ``as_of`` with the stamp it was computed at."""

    as_of: date
    stamps: dict[str, str]
    details: dict[str, LifecycleDetail | None]


def build_lifecycle_book(platform: Platform, as_of: date) -> LifecycleBook:
    """Each account's lifecycle detail as of ``as_of`` (what the account page shows).

    One evaluation of the whole book (:func:`kizuna.lifecycle.show_accounts`)
    instead of one per account and page view. Nothing is written.
    """
    definition = definition_for(platform.settings.home)
    stamps = lifecycle_stamps(platform, definition, as_of)
    lives = show_accounts(platform, definition, as_of)
    names = stage_names(definition)
    return LifecycleBook(
        as_of=as_of,
        stamps={a: stamps[a] for a in lives if a in stamps},
        details={a: lifecycle_detail_of(life, definition, names) for a, life in lives.items()},
    )


def lifecycle_book_from(
    platform: Platform, definition: LifecycleDefinition, computed: Evaluation
) -> LifecycleBook:
    """:func:`build_lifecycle_book` from the lifecycle step's own evaluation (no second one).

    ``computed`` is what :func:`kizuna.lifecycle.compute_and_keep` evaluated and stored;
    the stage histories are read back from the store it has just written.
    """
    as_of = computed.as_of
    with collector_paused():
        histories = stored_transitions(platform, until=as_of)
        stamps = lifecycle_stamps(platform, definition, as_of, histories=histories)
        lives = lifecycles_of(platform, definition, as_of, computed.accounts, histories)
        names = stage_names(definition)
        return LifecycleBook(
            as_of=as_of,
            stamps={a: stamps[a] for a in lives if a in stamps},
            details={a: lifecycle_detail_of(life, definition, names) for a, life in lives.items()},
        )


def onboarding_from(definition: LifecycleDefinition, computed: Evaluation) -> OnboardingReport:
    """The book-wide onboarding report (every contract start) of the lifecycle step's
    evaluation, as :func:`kizuna.lifecycle.onboarding_report` gives it from ``EPOCH``."""
    day = computed.as_of
    return onboarding_report_of(
        computed.accounts, definition, EPOCH, day, day, computed.tracking_started
    )
