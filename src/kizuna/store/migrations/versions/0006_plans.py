"""plans: success plans and their parts; activities gain contact_id and meeting_series_id

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-03 09:22:36.505607
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kizuna.store.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "plans",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "proposed",
                "active",
                "achieved",
                "closed",
                name="plan_state",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=True),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("previous_plan_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", kizuna.store.models.UTCDateTime(), nullable=False),
        sa.Column("updated_at", kizuna.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_plans_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["team_members.id"],
            name=op.f("fk_plans_owner_id_team_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["previous_plan_id"],
            ["plans.id"],
            name=op.f("fk_plans_previous_plan_id_plans"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
    )
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.create_index("ix_plans_account_state", ["account_id", "state"], unique=False)

    op.create_table(
        "plan_checklist_items",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("failure_pattern", sa.Text(), nullable=True),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_plan_checklist_items_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_checklist_items")),
    )
    with op.batch_alter_table("plan_checklist_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plan_checklist_items_plan_id"), ["plan_id"], unique=False
        )

    op.create_table(
        "plan_initiatives",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("approach", sa.Text(), nullable=True),
        sa.Column("extent", sa.Text(), nullable=True),
        sa.Column("impact", sa.SmallInteger(), nullable=False),
        sa.Column("difficulty", sa.SmallInteger(), nullable=False),
        sa.Column("tie_break", sa.Integer(), nullable=True),
        sa.Column("order_override", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "difficulty BETWEEN 1 AND 5", name=op.f("ck_plan_initiatives_difficulty_1_to_5")
        ),
        sa.CheckConstraint(
            "impact BETWEEN 1 AND 5", name=op.f("ck_plan_initiatives_impact_1_to_5")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_plan_initiatives_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_initiatives")),
        sa.UniqueConstraint("plan_id", "key", name="uq_plan_initiatives_plan_key"),
    )
    with op.batch_alter_table("plan_initiatives", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_initiatives_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "plan_issues",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("business_issue", sa.Text(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("solution", sa.Text(), nullable=True),
        sa.Column("benefit", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_plan_issues_plan_id_plans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_issues")),
    )
    with op.batch_alter_table("plan_issues", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_issues_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "plan_meeting_series",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column(
            "cadence",
            sa.Enum(
                "weekly",
                "biweekly",
                "monthly",
                name="meeting_cadence",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("audience", sa.String(length=32), nullable=True),
        sa.Column("first_date", sa.Date(), nullable=False),
        sa.Column("last_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_plan_meeting_series_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_meeting_series")),
    )
    with op.batch_alter_table("plan_meeting_series", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plan_meeting_series_plan_id"), ["plan_id"], unique=False
        )

    op.create_table(
        "plan_milestones",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "open",
                "done",
                "cancelled",
                name="plan_milestone_state",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("done_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_plan_milestones_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_milestones")),
    )
    with op.batch_alter_table("plan_milestones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_milestones_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "plan_roles",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["team_members.id"],
            name=op.f("fk_plan_roles_member_id_team_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_plan_roles_plan_id_plans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_roles")),
    )
    with op.batch_alter_table("plan_roles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_roles_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "plan_status_snapshots",
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("kpis_on_track", sa.Integer(), nullable=False),
        sa.Column("kpis_at_risk", sa.Integer(), nullable=False),
        sa.Column("kpis_off_track", sa.Integer(), nullable=False),
        sa.Column("kpis_achieved", sa.Integer(), nullable=False),
        sa.Column("milestones_overdue", sa.Integer(), nullable=False),
        sa.Column("computed_at", kizuna.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_plan_status_snapshots_plan_id_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_id", "as_of", name=op.f("pk_plan_status_snapshots")),
    )
    with op.batch_alter_table("plan_status_snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_status_snapshots_as_of"), ["as_of"], unique=False)

    op.create_table(
        "plan_kpis",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column(
            "initiative_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("is_kgi", sa.Boolean(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column(
            "direction",
            sa.Enum(
                "higher",
                "lower",
                name="kpi_direction",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("baseline_date", sa.Date(), nullable=False),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("target_date", sa.Date(), nullable=False),
        sa.Column("evaluation_method", sa.Text(), nullable=True),
        sa.Column("metric", sa.String(length=128), nullable=True),
        sa.CheckConstraint("target <> baseline", name=op.f("ck_plan_kpis_target_differs")),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["plan_initiatives.id"],
            name=op.f("fk_plan_kpis_initiative_id_plan_initiatives"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_plan_kpis_plan_id_plans"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_kpis")),
        sa.UniqueConstraint("plan_id", "key", name="uq_plan_kpis_plan_key"),
    )
    with op.batch_alter_table("plan_kpis", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plan_kpis_initiative_id"), ["initiative_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_plan_kpis_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "plan_checkins",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kpi_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("checkin_date", sa.Date(), nullable=False),
        sa.Column("checked_by", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_at", kizuna.store.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["kpi_id"],
            ["plan_kpis.id"],
            name=op.f("fk_plan_checkins_kpi_id_plan_kpis"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_checkins")),
    )
    with op.batch_alter_table("plan_checkins", schema=None) as batch_op:
        batch_op.create_index("ix_plan_checkins_kpi_date", ["kpi_id", "checkin_date"], unique=False)

    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("meeting_series_id", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_activities_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_activities_meeting_series_id"), ["meeting_series_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_activities_contact_id_contacts"),
            "contacts",
            ["contact_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_activities_meeting_series_id_plan_meeting_series"),
            "plan_meeting_series",
            ["meeting_series_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:

    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_activities_meeting_series_id_plan_meeting_series"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_activities_contact_id_contacts"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_activities_meeting_series_id"))
        batch_op.drop_index(batch_op.f("ix_activities_contact_id"))
        batch_op.drop_column("meeting_series_id")
        batch_op.drop_column("contact_id")

    with op.batch_alter_table("plan_checkins", schema=None) as batch_op:
        batch_op.drop_index("ix_plan_checkins_kpi_date")

    op.drop_table("plan_checkins")
    with op.batch_alter_table("plan_kpis", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_kpis_plan_id"))
        batch_op.drop_index(batch_op.f("ix_plan_kpis_initiative_id"))

    op.drop_table("plan_kpis")
    with op.batch_alter_table("plan_status_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_status_snapshots_as_of"))

    op.drop_table("plan_status_snapshots")
    with op.batch_alter_table("plan_roles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_roles_plan_id"))

    op.drop_table("plan_roles")
    with op.batch_alter_table("plan_milestones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_milestones_plan_id"))

    op.drop_table("plan_milestones")
    with op.batch_alter_table("plan_meeting_series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_meeting_series_plan_id"))

    op.drop_table("plan_meeting_series")
    with op.batch_alter_table("plan_issues", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_issues_plan_id"))

    op.drop_table("plan_issues")
    with op.batch_alter_table("plan_initiatives", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_initiatives_plan_id"))

    op.drop_table("plan_initiatives")
    with op.batch_alter_table("plan_checklist_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_checklist_items_plan_id"))

    op.drop_table("plan_checklist_items")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_index("ix_plans_account_state")

    op.drop_table("plans")
