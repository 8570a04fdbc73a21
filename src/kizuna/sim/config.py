"""What the simulator simulates: :class:`SimConfig` and its presets.

Every field has a default so ``SimConfig()`` is a usable, deterministic
configuration: 500 accounts and one year of history ending 2025-06-30. The end
date is fixed on purpose — a default of "today" would make the output depend on
the day it runs.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PresetName = Literal["demo", "test", "S", "M"]

#: Accounts and event scale of each preset; the rest of the config keeps its defaults.
PRESETS: dict[str, dict[str, object]] = {
    # a living demo: 500 accounts, about 1M events
    "demo": {"accounts": 500, "activity_scale": 1.0},
    # small and fast, for tests
    "test": {"accounts": 100, "activity_scale": 0.5},
    # benchmark S: 10k accounts, about 10M events
    "S": {"accounts": 10_000, "activity_scale": 0.6},
    # benchmark M: 100k accounts, about 100M events
    "M": {"accounts": 100_000, "activity_scale": 0.6},
}


class SimConfig(BaseModel):
    """Parameters of one simulated customer base.

    The same config (including ``seed``) always produces byte-identical files.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = Field(default=42, ge=0, description="Seed of every random draw.")
    accounts: int = Field(default=500, ge=1, le=999_999, description="Number of accounts.")
    start_date: date = Field(
        default=date(2024, 7, 1), description="First day of simulated history (inclusive)."
    )
    end_date: date = Field(
        default=date(2025, 6, 30), description="Last day of simulated history (inclusive)."
    )
    activity_scale: float = Field(
        default=1.0,
        gt=0,
        le=100,
        description=(
            "Multiplies the number of feature events per active user and day; "
            "1.0 gives roughly 5 events per live account and day."
        ),
    )
    new_customer_share: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="Share of accounts that start their first contract inside the window.",
    )
    non_usd_share: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="Share of EMEA/APAC accounts billed in EUR or JPY (fx_rates.csv is written).",
    )

    @model_validator(mode="after")
    def _window(self) -> SimConfig:
        if self.end_date < self.start_date:
            raise ValueError(f"end_date {self.end_date} is before start_date {self.start_date}")
        if (self.end_date - self.start_date).days > 3 * 366:
            raise ValueError("the simulated window may be at most three years long")
        return self

    @property
    def n_days(self) -> int:
        """Number of simulated days, both ends included."""
        return (self.end_date - self.start_date).days + 1

    @classmethod
    def preset(cls, name: str, **overrides: object) -> SimConfig:
        """A named configuration (``demo``, ``test``, ``S`` or ``M``) with optional overrides."""
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        values = {**PRESETS[name], **{k: v for k, v in overrides.items() if v is not None}}
        return cls.model_validate(values)
