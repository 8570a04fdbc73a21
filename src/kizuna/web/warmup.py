"""Computing the UI's book-wide figures before a visitor asks for them.

:func:`warm` computes them in the call (``kizuna demo`` before it serves,
benchmarks); :func:`start_warming` starts that in the background once per app
and day, on the first request a fresh worker gets (usually the login page), so
the figures are usually ready by the time the visitor has logged in.
"""

from __future__ import annotations

from kizuna.retention import LedgerFilters
from kizuna.web import lifecycle_views, retention_views
from kizuna.web.cache import quiet_engine
from kizuna.web.insights import Figures, account_facts, health_distribution_trend


def warm(figures: Figures) -> None:
    """Compute the book-wide figures now (before serving), so no first visitor waits."""
    with quiet_engine():
        account_facts(figures)
        health_distribution_trend(figures, ())
        # The unfiltered dashboard and retention page (managers, admins, unscoped CSMs).
        retention_views.summary_for(figures, LedgerFilters(), "quarter")
        retention_views.page_for(figures, LedgerFilters())
        lifecycle_views.onboarding_book(figures, wait=True)


def start_warming(figures: Figures) -> None:
    """Start :func:`warm` in the background, once per app and day (serving apps only)."""
    if not figures.background:
        return

    def run() -> bool:
        warm(figures)
        return True

    figures.reports.peek(figures.key("warm-up"), run)
