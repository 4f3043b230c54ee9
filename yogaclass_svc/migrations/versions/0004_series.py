"""weekly class series: the series table, occurrences on classes, the studio's reminder lead
and series horizon (issue 15)

Revision ID: e8c4a7b1f104
Revises: 7d3e91a2c5b8
Create Date: 2026-12-02 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e8c4a7b1f104"
down_revision: str | None = "7d3e91a2c5b8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "series",
        sa.Column("series_id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("instructor", sa.String(length=200), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("waitlist_capacity", sa.Integer(), nullable=False),
        sa.Column("cancellation_window_s", sa.Integer(), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("start_time", sa.String(length=5), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("recurrence", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cancelled_from", sa.Date(), nullable=True),
        sa.Column("previous_series_id", sa.String(length=36), nullable=True),
        sa.Column("materialized_until", sa.DateTime(), nullable=False),
        sa.Column("next_due", sa.DateTime(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.DateTime(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.CheckConstraint("capacity > 0", name="ck_series_capacity"),
        sa.CheckConstraint("duration_s > 0", name="ck_series_duration"),
        sa.CheckConstraint("status IN ('ACTIVE', 'CANCELLED')", name="ck_series_status"),
        sa.CheckConstraint("end_date >= start_date", name="ck_series_dates"),
        sa.PrimaryKeyConstraint("series_id"),
        sa.UniqueConstraint("request_id"),
    )
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.create_index("ix_series_due", ["next_due"], unique=False)
        batch_op.create_index("ix_series_created", ["create_time", "series_id"], unique=False)
        batch_op.create_index(
            "ix_series_instructor", ["instructor", "create_time", "series_id"], unique=False
        )
    op.create_table(
        "series_edits",
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("series_id", sa.String(length=36), nullable=False),
        sa.Column("previous_id", sa.String(length=36), nullable=True),
        sa.Column("classes_updated", sa.Integer(), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )
    with op.batch_alter_table("classes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("series_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("occurrence_date", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("detached", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_foreign_key(
            "fk_classes_series_id_series", "series", ["series_id"], ["series_id"]
        )
        batch_op.create_unique_constraint("uq_classes_occurrence", ["series_id", "occurrence_date"])
        batch_op.create_check_constraint(
            "ck_classes_occurrence", "(series_id IS NULL) = (occurrence_date IS NULL)"
        )
        batch_op.create_index(
            "ix_classes_series", ["series_id", "start_time", "class_id"], unique=False
        )
        batch_op.create_index(
            "ix_classes_instructor", ["instructor", "start_time", "class_id"], unique=False
        )
    with op.batch_alter_table("studio_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "reminder_lead_seconds", sa.BigInteger(), server_default="86400", nullable=False
            )
        )
        batch_op.add_column(
            sa.Column(
                "series_horizon_seconds", sa.BigInteger(), server_default="4838400", nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("studio_settings", schema=None) as batch_op:
        batch_op.drop_column("series_horizon_seconds")
        batch_op.drop_column("reminder_lead_seconds")
    with op.batch_alter_table("classes", schema=None) as batch_op:
        batch_op.drop_index("ix_classes_instructor")
        batch_op.drop_index("ix_classes_series")
        batch_op.drop_constraint("ck_classes_occurrence", type_="check")
        batch_op.drop_constraint("uq_classes_occurrence", type_="unique")
        batch_op.drop_constraint("fk_classes_series_id_series", type_="foreignkey")
        batch_op.drop_column("detached")
        batch_op.drop_column("occurrence_date")
        batch_op.drop_column("series_id")
    op.drop_table("series_edits")
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.drop_index("ix_series_instructor")
        batch_op.drop_index("ix_series_created")
        batch_op.drop_index("ix_series_due")
    op.drop_table("series")
