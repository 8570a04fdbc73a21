"""actions: CTA events keep the values their text names (``params``)

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-03 16:10:00

An event's ``kind`` says what happened and ``params`` the values (task title, new owner,
snooze date, note), so the UI words it in the reader's language. Events stored before
keep ``params`` NULL and are shown from their stored text.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cta_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cta_events", schema=None) as batch_op:
        batch_op.drop_column("params")
