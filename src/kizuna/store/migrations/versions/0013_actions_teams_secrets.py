"""actions: team membership roles; stored secrets (Fernet-encrypted); outbox target index

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 13:00:00

Plaintext secrets in the store before this revision: the outbox's Slack targets (an
incoming-webhook URL is a credential). They are left as they are here — encrypting needs
the key, which a migration must not require — and ``kizuna secret migrate`` encrypts them
(after a backup) once ``KIZUNA_SECRETS_KEY`` is set; the sender reads both forms.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kizuna.store.models

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("team_memberships", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("role", sa.String(length=16), server_default="member", nullable=False)
        )
    op.create_table(
        "stored_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.Column("updated_at", kizuna.store.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_stored_secrets")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_channel_target", ["channel", "target"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_channel_target")
    op.drop_table("stored_secrets")
    with op.batch_alter_table("team_memberships", schema=None) as batch_op:
        batch_op.drop_column("role")
