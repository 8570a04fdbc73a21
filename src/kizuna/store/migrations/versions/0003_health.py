"""health: a CSM's manual sentiment per account

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kizuna.store.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "health_sentiments",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("value", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("entered_at", kizuna.store.models.UTCDateTime(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "value >= 1 AND value <= 5", name=op.f("ck_health_sentiments_value_1_to_5")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_health_sentiments_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_sentiments")),
    )
    with op.batch_alter_table("health_sentiments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_health_sentiments_account_entered", ["account_id", "entered_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("health_sentiments", schema=None) as batch_op:
        batch_op.drop_index("ix_health_sentiments_account_entered")
    op.drop_table("health_sentiments")
