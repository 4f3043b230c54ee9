"""studio settings, strikes, member standing, the inbox (issue 14)

Revision ID: 7d3e91a2c5b8
Revises: b2f1c0a9d014
Create Date: 2026-12-10 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7d3e91a2c5b8"
down_revision: str | None = "b2f1c0a9d014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "studio_settings",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("waitlist_cutoff_seconds", sa.BigInteger(), nullable=False),
        sa.Column("cancellation_window_seconds", sa.BigInteger(), nullable=False),
        sa.Column("check_in_opens_seconds", sa.BigInteger(), nullable=False),
        sa.Column("no_show_grace_seconds", sa.BigInteger(), nullable=False),
        sa.Column("strike_limit", sa.Integer(), nullable=False),
        sa.Column("strike_period_seconds", sa.BigInteger(), nullable=False),
        sa.Column("block_duration_seconds", sa.BigInteger(), nullable=False),
        sa.Column("booking_limit", sa.Integer(), nullable=False),
        sa.Column("update_time", sa.DateTime(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_studio_settings_one_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "strikes",
        sa.Column("reservation_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("time", sa.DateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('LATE_CANCEL', 'NO_SHOW')", name="ck_strikes_kind"),
        sa.PrimaryKeyConstraint("reservation_id"),
    )
    with op.batch_alter_table("strikes", schema=None) as batch_op:
        batch_op.create_index("ix_strikes_user_time", ["user_id", "time"], unique=False)

    op.create_table(
        "member_standing",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("blocked_until", sa.DateTime(), nullable=True),
        sa.Column("lifted_time", sa.DateTime(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("applied_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.create_index("ix_inbox_applied", ["applied_at"], unique=False)

    with op.batch_alter_table("seat_claims", schema=None) as batch_op:
        batch_op.create_index("ix_seat_claims_user", ["user_id", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("seat_claims", schema=None) as batch_op:
        batch_op.drop_index("ix_seat_claims_user")

    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_applied")

    op.drop_table("inbox")
    op.drop_table("member_standing")
    with op.batch_alter_table("strikes", schema=None) as batch_op:
        batch_op.drop_index("ix_strikes_user_time")

    op.drop_table("strikes")
    op.drop_table("studio_settings")
