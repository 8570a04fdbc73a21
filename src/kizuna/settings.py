"""Kizuna's one settings class.

Every setting has a working default, so ``kizuna demo`` needs no configuration.
Environment variables override the defaults: ``KIZUNA_HOME``,
``KIZUNA_DATABASE_URL``, ``KIZUNA_TIMEZONE``, ``KIZUNA_REPORTING_CURRENCY``,
``KIZUNA_ENGINE``, and for the API ``KIZUNA_CSM_SCOPE``, ``KIZUNA_SECRET_KEY``,
``KIZUNA_COOKIE_SECURE``, ``KIZUNA_EVENT_BODY_LIMIT``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where Kizuna keeps its data and how it interprets dates and money."""

    model_config = SettingsConfigDict(env_prefix="KIZUNA_", extra="ignore")

    home: Path = Field(
        default=Path("kizuna-data"),
        description="Data folder holding the SQLite store and the event lake.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of the operational store. Unset means a SQLite file in the "
            "data folder; e.g. postgresql+psycopg://user@host/db for PostgreSQL."
        ),
    )
    timezone: str = Field(
        default="UTC",
        description=(
            "Business timezone (IANA name, e.g. Asia/Tokyo). Decides which calendar day a "
            "timestamp belongs to in every 'as of a date' computation. Stored times are UTC."
        ),
    )
    reporting_currency: str = Field(
        default="USD",
        description="ISO 4217 currency that ARR figures are reported in.",
    )
    engine: Literal["duckdb", "spark"] = Field(
        default="duckdb",
        description="Analytics engine for metrics and retention: duckdb, or spark (kizuna[spark]).",
    )

    # -- API and access (issue 7) ------------------------------------------
    csm_scope: Literal["all", "own"] = Field(
        default="all",
        description=(
            "What a CSM may read: 'all' accounts, or only their 'own' book (accounts they "
            "own). CSMs write only their own accounts either way."
        ),
    )
    secret_key: str | None = Field(
        default=None,
        description=(
            "Key that signs UI session cookies. Unset means a random key kept in "
            "<home>/secret_key (created on first use, readable by its owner only)."
        ),
    )
    cookie_secure: bool = Field(
        default=True,
        description="Send the session cookie over HTTPS only (turn off for plain-HTTP local use).",
    )
    event_body_limit: int = Field(
        default=500 * 1024,
        gt=0,
        description="Largest accepted event-collection request body, in bytes (Segment: 500 KB).",
    )
    # Notifications (issue 17). Secrets come from the environment only and are never
    # logged or stored (SecretStr hides them in reprs and in 'kizuna info').
    notify_webhook_url: str | None = Field(
        default=None, description="Outbound webhook: every new CTA is POSTed there as JSON."
    )
    notify_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Key of the webhook's HMAC-SHA256 signature (X-Kizuna-Signature header).",
    )
    notify_slack_url: str | None = Field(
        default=None, description="Slack-compatible incoming webhook for new CTAs."
    )
    smtp_host: str | None = Field(default=None, description="SMTP server for e-mail.")
    smtp_port: int = Field(default=587, gt=0, lt=65536, description="SMTP port.")
    smtp_user: str | None = Field(default=None, description="SMTP login (optional).")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_starttls: bool = Field(default=True, description="Upgrade SMTP with STARTTLS.")
    smtp_from: str = Field(
        default="kizuna@localhost", description="Sender address of Kizuna's e-mails."
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r}; use an IANA name such as 'UTC' or 'Asia/Tokyo'"
            ) from None
        return value

    @field_validator("reporting_currency")
    @classmethod
    def _currency_code(cls, value: str) -> str:
        code = value.strip().upper()
        if len(code) != 3 or not code.isalpha():
            raise ValueError(f"currency must be a 3-letter ISO 4217 code, got {value!r}")
        return code

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def sqlite_path(self) -> Path:
        return self.home / "kizuna.sqlite3"

    @property
    def lake_dir(self) -> Path:
        """Root of the usage-event lake (see ``kizuna.lake.layout``)."""
        return self.home / "lake"

    @property
    def store_url(self) -> str:
        """The effective SQLAlchemy URL of the operational store."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.sqlite_path}"

    @property
    def uses_sqlite_default(self) -> bool:
        return not self.database_url
