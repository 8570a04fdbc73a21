"""The lifecycle and portfolio steps' work: each derived table computed once and handed on
through the files it is saved to.

:func:`lifecycle_outputs` evaluates the book's lifecycle once
(:func:`kizuna.lifecycle.compute_and_keep`), stores the transitions and saves, from the
same evaluation, each account's lifecycle detail and the onboarding report
(:func:`kizuna.daily.files.write_lifecycle`). :func:`portfolio_outputs` builds the
portfolio snapshot from those files (stages, overdue milestones, onboarding) and the
ledger; it never evaluates the lifecycle again. Nothing passes between the two in memory,
so either can run on its own (a resumed run starts from the failed step).
"""

from __future__ import annotations

from datetime import date

from kizuna.daily.files import (
    read_lifecycle_book,
    read_onboarding,
    write_lifecycle,
    write_portfolio,
)
from kizuna.daily.lifecycle_book import (
    build_lifecycle_book,
    lifecycle_book_from,
    onboarding_from,
)
from kizuna.daily.portfolio import build_portfolio
from kizuna.errors import KizunaError
from kizuna.lifecycle import compute_and_keep, definition_for
from kizuna.platform import Platform

__all__ = ["lifecycle_outputs", "portfolio_outputs"]


def lifecycle_outputs(platform: Platform, days: list[date]) -> str:
    """Evaluate the lifecycle through the last of ``days`` (from the day after the previous
    run: a re-run of a date replaces its transitions, a gap since the last run is evaluated
    too) and save each date's lifecycle details and onboarding report."""
    definition = definition_for(platform.settings.home)
    last = days[-1]
    result, evaluation = compute_and_keep(platform, definition, last)
    for day in days[:-1]:  # a range: the earlier dates' views, each as of itself
        write_lifecycle(platform.settings, build_lifecycle_book(platform, day), None)
    try:
        onboarding = onboarding_from(definition, evaluation)
    except KizunaError:
        onboarding = None  # the portfolio notes why (it computes the report itself)
    write_lifecycle(
        platform.settings, lifecycle_book_from(platform, definition, evaluation), onboarding
    )
    return f"{result.accounts} accounts, {result.transitions_written} transitions"


def portfolio_outputs(platform: Platform, days: list[date]) -> str:
    """Save each date's portfolio snapshot, built from the lifecycle step's files."""
    for day in days:
        book = read_lifecycle_book(platform.settings, day)
        stages = (
            {a: d.stage for a, d in book.details.items() if d is not None and d.stage is not None}
            if book is not None
            else None
        )
        snapshot = build_portfolio(
            platform, day, stages=stages, onboarding=read_onboarding(platform.settings, day)
        )
        if book is None:  # the lifecycle step did not save this date: evaluate it here
            write_portfolio(platform.settings, snapshot, build_lifecycle_book(platform, day))
        else:
            write_portfolio(platform.settings, snapshot, keep_lifecycle=True)
    return f"{len(days)} snapshot(s)"
