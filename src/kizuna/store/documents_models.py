"""Customer-facing documents (issue 16): read-only share links and rendered documents."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.store.models import Base, UTCDateTime


class ShareLink(Base):
    """A link the customer opens without an account: only the token's hash is kept."""

    __tablename__ = "share_links"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    account_id: Mapped[str] = mapped_column(
        sa.ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[str | None] = mapped_column(
        sa.ForeignKey("contacts.id", ondelete="SET NULL")
    )
    created_by: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class RenderedDocument(Base):
    """A document rendered into the data folder (``documents/<account>/<file>``)."""

    __tablename__ = "rendered_documents"
    __table_args__ = (sa.Index("ix_rendered_documents_account", "account_id", "created_at"),)

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(16))  # plan, meeting, ebr
    fmt: Mapped[str] = mapped_column(sa.String(8))  # html, pdf, pptx
    language: Mapped[str] = mapped_column(sa.String(2))
    internal: Mapped[bool] = mapped_column(sa.Boolean)
    as_of: Mapped[date] = mapped_column(sa.Date)
    path: Mapped[str] = mapped_column(sa.String(500))  # relative to the data folder
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
