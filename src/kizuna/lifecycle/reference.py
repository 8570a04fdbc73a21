"""The day-by-day, account-by-account evaluation: the plain statement of the semantics.

For each account, every day from its contract start is evaluated in Python
(:class:`~kizuna.lifecycle.conditions.AccountContext`). This was the original
implementation; :mod:`kizuna.lifecycle.grid` now computes the same as columns.
It stays as the reference the columnar path is tested and benchmarked against.
"""

from __future__ import annotations

from datetime import date, timedelta

from kizuna.lifecycle.book import tracking_start
from kizuna.lifecycle.conditions import AccountContext
from kizuna.lifecycle.definitions import LifecycleDefinition
from kizuna.lifecycle.grid import CATCH_ALL_REASON, AccountResult, Transition
from kizuna.lifecycle.milestones import Schedule, evaluate_milestones
from kizuna.lifecycle.sources import load_accounts
from kizuna.platform import Platform


def stage_on(definition: LifecycleDefinition, ctx: AccountContext, day: date) -> tuple[str, str]:
    """The account's one stage on ``day`` and why (the first stage whose rule holds)."""
    for stage in definition.stages:
        if stage.entry is None:
            return stage.id, CATCH_ALL_REASON
        ok, why = ctx.rule(stage.entry, day)
        if ok:
            return stage.id, why
    raise AssertionError("validated definitions end with a catch-all stage")


def stage_transitions(
    definition: LifecycleDefinition,
    ctx: AccountContext,
    start: date,
    end: date,
    previous: str | None,
) -> list[Transition]:
    """Transitions over [start, end], given the stage held the day before ``start``."""
    out = []
    day = start
    current = previous
    while day <= end:
        stage, why = stage_on(definition, ctx, day)
        if stage != current:
            out.append(Transition(day, current, stage, why))
            current = stage
        day += timedelta(days=1)
    return out


def reference_evaluate(
    platform: Platform,
    definition: LifecycleDefinition,
    as_of: date,
    account_ids: list[str] | None = None,
) -> dict[str, AccountResult]:
    """Milestones and the whole stage history of each account, one account and day at a time.

    The same result as :func:`kizuna.lifecycle.grid.evaluate_book` without ``starts``.
    """
    conditions = definition.all_conditions()
    accounts = load_accounts(
        platform,
        as_of,
        account_ids=account_ids,
        event_names={n for c in conditions if c.events for n in c.events.names},
        metric_names={c.metric for c in conditions if c.metric},
        with_health=any(c.health for c in conditions),
    )
    started = tracking_start(platform, definition)
    out: dict[str, AccountResult] = {}
    for account_id, data in accounts.items():
        anchor = data.contract_start
        if anchor is None:
            continue
        template = definition.template_for(data.segment)
        tracked = started is None or anchor >= started
        ctx = AccountContext(data, template, anchor, as_of, tracked)
        completions = evaluate_milestones(ctx)
        out[account_id] = AccountResult(
            account_id=account_id,
            name=data.name,
            segment=data.segment,
            schedule=Schedule(template, anchor, tracked),
            completions=completions,
            transitions=stage_transitions(definition, ctx, anchor, as_of, None),
        )
    return out
