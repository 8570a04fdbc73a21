"""The composition root: settings, store and clock wired together once.

The CLI, the API and the web UI each build one :class:`Platform` and pass it
down; nothing in the core reaches for globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from kizuna.clock import Clock, SystemClock, business_date
from kizuna.settings import Settings
from kizuna.store.db import Store


@dataclass
class Platform:
    """Everything a service function needs to do its work."""

    settings: Settings
    store: Store
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, *, clock: Clock | None = None
    ) -> Platform:
        settings = settings or Settings()
        return cls(settings=settings, store=Store(settings.store_url), clock=clock or SystemClock())

    def today(self) -> date:
        """Today's date in the business timezone."""
        return business_date(self.clock.now(), self.settings.tz)

    def close(self) -> None:
        self.store.dispose()
