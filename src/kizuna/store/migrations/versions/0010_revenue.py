"""revenue: opportunities, their stage history, and the sales team role

Revision ID: 0010
Revises: 0004
Create Date: 2026-12-03 09:45:00

The ``sales`` role widens the CHECK constraint of ``team_members.role``. On
PostgreSQL the constraint is replaced. SQLite cannot alter a constraint, and
Alembic's batch mode would copy and DROP ``team_members`` — with foreign keys on,
that DROP sets every ``accounts.owner_id`` to NULL. Widening an ``IN (...)`` list
changes no stored row, so on SQLite the table's recorded SQL is edited in place
(SQLite's documented ``writable_schema`` procedure); no user data is touched.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kizuna.store.models

revision: str = "0010"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_ROLES = "'admin', 'manager', 'csm', 'viewer'"
_NEW_ROLES = "'admin', 'manager', 'csm', 'viewer', 'sales'"
_ROLE_CHECK = "ck_team_members_team_role"


def _set_roles(old: str, new: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(f'ALTER TABLE team_members DROP CONSTRAINT IF EXISTS "{_ROLE_CHECK}"')
        op.execute(
            f'ALTER TABLE team_members ADD CONSTRAINT "{_ROLE_CHECK}" CHECK (role IN ({new}))'
        )
        return
    if bind.dialect.name != "sqlite":
        return
    sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'team_members'")
    ).scalar_one()
    if f"IN ({old})" not in sql:
        return
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(
        sa.text(
            "UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'team_members'"
        ),
        {"sql": sql.replace(f"IN ({old})", f"IN ({new})")},
    )
    bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))


def upgrade() -> None:
    _set_roles(_OLD_ROLES, _NEW_ROLES)
    op.create_table(
        "opportunities",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "renewal",
                "upsell",
                "cross_sell",
                "downsell",
                name="opportunity_type",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("arr_change", kizuna.store.models.Money(), nullable=False),
        sa.Column("arr_total", kizuna.store.models.Money(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("expected_close_date", sa.Date(), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column(
            "source",
            sa.Enum(
                "automatic",
                "cta",
                "manual",
                "crm",
                name="opportunity_source",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "won",
                "lost",
                name="opportunity_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("renews_line_id", sa.String(length=64), nullable=True),
        sa.Column("line_id", sa.String(length=64), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("created_at", kizuna.store.models.UTCDateTime(), nullable=False),
        sa.Column("updated_at", kizuna.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_opportunities_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["contract_lines.id"],
            name=op.f("fk_opportunities_line_id_contract_lines"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["team_members.id"],
            name=op.f("fk_opportunities_owner_id_team_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["renews_line_id"],
            ["contract_lines.id"],
            name=op.f("fk_opportunities_renews_line_id_contract_lines"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunities")),
        sa.UniqueConstraint("renews_line_id", name=op.f("uq_opportunities_renews_line_id")),
    )
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opportunities_account_id"), ["account_id"])
        batch_op.create_index(batch_op.f("ix_opportunities_owner_id"), ["owner_id"])
        batch_op.create_index("ix_opportunities_closed_on", ["closed_on"])
        batch_op.create_index("ix_opportunities_status_close", ["status", "expected_close_date"])
    op.create_table(
        "opportunity_stage_changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("opportunity_id", sa.String(length=64), nullable=False),
        sa.Column("from_stage", sa.String(length=64), nullable=True),
        sa.Column("to_stage", sa.String(length=64), nullable=False),
        sa.Column("changed_on", sa.Date(), nullable=False),
        sa.Column("changed_by", sa.String(length=200), nullable=True),
        sa.Column("recorded_at", kizuna.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunities.id"],
            name=op.f("fk_opportunity_stage_changes_opportunity_id_opportunities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunity_stage_changes")),
    )
    with op.batch_alter_table("opportunity_stage_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_opportunity_stage_changes_opportunity_id"), ["opportunity_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("opportunity_stage_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opportunity_stage_changes_opportunity_id"))
    op.drop_table("opportunity_stage_changes")
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.drop_index("ix_opportunities_status_close")
        batch_op.drop_index("ix_opportunities_closed_on")
        batch_op.drop_index(batch_op.f("ix_opportunities_owner_id"))
        batch_op.drop_index(batch_op.f("ix_opportunities_account_id"))
    op.drop_table("opportunities")
    _set_roles(_NEW_ROLES, _OLD_ROLES)
