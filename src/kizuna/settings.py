"""Kizuna's one settings class.

Every setting has a working default, so ``kizuna demo`` needs no configuration.
Environment variables override the defaults: ``KIZUNA_HOME``,
``KIZUNA_DATABASE_URL``, ``KIZUNA_TIMEZONE``, ``KIZUNA_REPORTING_CURRENCY``,
``KIZUNA_ENGINE``, and for the API ``KIZUNA_CSM_SCOPE``, ``KIZUNA_SECRET_KEY``,
``KIZUNA_COOKIE_SECURE``, ``KIZUNA_EVENT_BODY_LIMIT``; for hardening (issue 13)
``KIZUNA_EVENT_TIMESTAMP_FLOOR``, ``KIZUNA_EVENT_MAX_AHEAD_HOURS``,
``KIZUNA_TRACKING_START_SHARE`` and the ``KIZUNA_LOGIN_*`` throttle settings; for success
plans ``KIZUNA_PLAN_AT_RISK_GAP``, ``KIZUNA_PLAN_OFF_TRACK_GAP``,
``KIZUNA_PLAN_EVALUATOR_TOUCH_DAYS``; for revenue ``KIZUNA_OPPORTUNITY_CREATES_LINES``; for
documents ``KIZUNA_PUBLIC_URL``, ``KIZUNA_DOCUMENTS_TEMPLATES_DIR``, ``KIZUNA_VENDOR_NAME``,
``KIZUNA_VENDOR_LOGO``, ``KIZUNA_VENDOR_COLOR``; for operations ``KIZUNA_DAILY_TIME``,
``KIZUNA_DAILY_LOCK_SECONDS``, ``KIZUNA_SCHEDULER_POLL_SECONDS``,
``KIZUNA_OPS_METRICS_TOKEN_HASH``, ``KIZUNA_OPS_METRICS_ADDRESSES``, ``KIZUNA_LOG_FORMAT``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
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
    secrets_key: SecretStr | None = Field(
        default=None,
        description=(
            "Fernet key(s) that encrypt the secrets Kizuna stores (SMTP password, webhook "
            "signing key, Slack URL; 'kizuna secret new-key' makes one). Comma-separated for "
            "rotation: the first encrypts, every one decrypts (KIZUNA_SECRETS_KEY)."
        ),
    )

    # -- hardening (issue 13) ------------------------------------------------
    event_timestamp_floor: date = Field(
        default=date(2000, 1, 1),
        description=(
            "Events timestamped before this day are quarantined (timestamp_before_floor). "
            "Lower it to load older history."
        ),
    )
    event_max_ahead_hours: float = Field(
        default=24,
        gt=0,
        description=(
            "Events timestamped more than this many hours after they arrived are "
            "quarantined (timestamp_in_future); relative to arrival, not to today."
        ),
    )
    tracking_start_share: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description=(
            "Lifecycle: onboarding tracking began on the first day on which at least this "
            "share of the store's accounts (and at least 2) had events; a lone outlier "
            "event cannot move it. 0 means the lake's first event day. A lifecycle "
            "definition's onboarding.tracking_started overrides it."
        ),
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description=(
            "Wrong passwords allowed per account (and 4x that per client address) before "
            "logins are refused for a backoff that doubles with each further failure."
        ),
    )
    login_backoff_seconds: int = Field(
        default=30,
        ge=1,
        description="First login backoff after too many failures, in seconds (doubling).",
    )
    login_backoff_max_seconds: int = Field(
        default=900,
        ge=1,
        description="Longest login backoff, in seconds: nobody is locked out for longer.",
    )
    # -- success plans (issue 14; see docs/plans.md) ---------------------------
    plan_at_risk_gap: float = Field(
        default=0.10,
        ge=0,
        le=1,
        description=(
            "A KPI whose progress is behind its expected progress (the straight line from "
            "baseline to target) by more than this share of the way is 'at risk'."
        ),
    )
    plan_off_track_gap: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="... and by more than this share, 'off track' (must be >= plan_at_risk_gap).",
    )
    plan_evaluator_touch_days: int = Field(
        default=45,
        gt=0,
        description=(
            "Days after which a plan warns that its evaluator has had no recorded meeting, "
            "call or e-mail."
        ),
    )
    plans_dir: Path | None = Field(
        default=None,
        description=(
            "Folder of extra success plan templates (*.yaml); unset means <home>/plan_templates."
        ),
    )
    # -- revenue (issue 18) -------------------------------------------------
    opportunity_creates_lines: bool = Field(
        default=False,
        description=(
            "Teams without a billing feed: winning an opportunity creates its contract line. "
            "Off (default): contract lines come from the billing import and a won renewal "
            "links the renewing line when it arrives."
        ),
    )

    # -- customer-facing documents and share links (issue 16) -------------------
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description=(
            "Address customers reach this server at; share links are built from it "
            "(KIZUNA_PUBLIC_URL)."
        ),
    )
    documents_templates_dir: Path | None = Field(
        default=None,
        description=(
            "Folder overriding the document templates (document.html.j2, style.css, "
            "master.pptx); unset means the templates shipped with Kizuna."
        ),
    )
    vendor_name: str = Field(
        default="Kizuna", description="The vendor's name printed on customer documents."
    )
    vendor_logo: Path | None = Field(
        default=None, description="A PNG or JPEG logo printed on customer documents."
    )
    vendor_color: str = Field(
        default="#1f4e79",
        pattern=r"^#[0-9a-fA-F]{6}$",
        description="The vendor's main colour (#RRGGBB) for document headings and charts.",
    )

    # -- operations: the daily run, the scheduler, metrics and logs (issue 19) ------
    daily_time: str = Field(
        default="06:00",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description=(
            "When 'kizuna scheduler' starts the daily run (HH:MM in the business timezone); "
            "the run computes that day."
        ),
    )
    daily_lock_seconds: float = Field(
        default=120,
        gt=0,
        description=(
            "The daily run's lock in the store expires this long after its holder last "
            "renewed it (every third of it): a killed run's lock falls free after this."
        ),
    )
    scheduler_poll_seconds: float = Field(
        default=30,
        gt=0,
        description="How often 'kizuna scheduler' checks whether the daily run is due.",
    )
    ops_metrics_token_hash: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description=(
            "SHA-256 (hex) of the bearer token that may read /ops/metrics "
            "(docs/operations.md shows how to make one). Unset: only ops_metrics_addresses."
        ),
    )
    ops_metrics_addresses: list[str] = Field(
        default_factory=list,
        description=(
            "Client addresses or networks (e.g. 10.0.0.0/8, 127.0.0.1) that may read "
            "/ops/metrics without a token; JSON list in KIZUNA_OPS_METRICS_ADDRESSES."
        ),
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines as plain text, or as one JSON object per line ('json').",
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

    @field_validator("ops_metrics_addresses")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        bad = []
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                bad.append(item)
        if bad:
            raise ValueError(f"not an address or network: {', '.join(map(repr, bad))}")
        return value

    @field_validator("reporting_currency")
    @classmethod
    def _currency_code(cls, value: str) -> str:
        code = value.strip().upper()
        if len(code) != 3 or not code.isalpha():
            raise ValueError(f"currency must be a 3-letter ISO 4217 code, got {value!r}")
        return code

    @model_validator(mode="after")
    def _plan_gaps_ordered(self) -> Settings:
        if self.plan_off_track_gap < self.plan_at_risk_gap:
            raise ValueError("plan_off_track_gap must be at least plan_at_risk_gap")
        return self

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
