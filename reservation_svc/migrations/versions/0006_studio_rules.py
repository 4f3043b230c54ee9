"""the studio's rules: waitlisted, expired, attended and no-show reservations, late cancels,
limits overridden by staff, and the terms a booking was made under

Revision ID: c3a9e1d2f006
Revises: cd11a59a403c
Create Date: 2026-12-02 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c3a9e1d2f006"
down_revision: str | None = "cd11a59a403c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = (
    "status IN ('PENDING', 'CONFIRMED', 'REJECTED', 'CANCELLED', 'WAITLISTED', 'EXPIRED', "
    "'ATTENDED', 'NO_SHOW')"
)
_REJECTIONS = (
    "(status = 'REJECTED') = (reason IN ('BLOCKED', 'BOOKING_LIMIT', 'CLASS_CANCELLED', "
    "'CLASS_FULL', 'CLASS_NOT_FOUND', 'CLASS_STARTED', 'WAITLIST_BLOCKED', "
    "'WAITLIST_BOOKING_LIMIT', 'WAITLIST_OVERLAPPING_BOOKING'))"
)
_OLD_STATUSES = "status IN ('PENDING', 'CONFIRMED', 'REJECTED', 'CANCELLED')"
_OLD_REJECTIONS = (
    "(status = 'REJECTED') = (reason IN "
    "('CLASS_FULL', 'CLASS_NOT_FOUND', 'CLASS_CANCELLED', 'CLASS_STARTED'))"
)
_ACTIVE = "status IN ('PENDING', 'CONFIRMED', 'WAITLISTED')"
_OLD_ACTIVE = "status IN ('PENDING', 'CONFIRMED')"
_WAITLISTED = "status = 'WAITLISTED'"


def _active_index(batch_op: object, where: str) -> None:
    batch_op.create_index(  # type: ignore[attr-defined]
        "uq_reservations_active",
        ["class_id", "user_id"],
        unique=True,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waitlist_ticket", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("promoted", sa.Boolean(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("limit_overridden", sa.Boolean(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("cancellation_window_s", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("check_in_time", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("join_waitlist", sa.Boolean(), server_default="1", nullable=False)
        )
        batch_op.drop_constraint("ck_reservations_status", type_="check")
        batch_op.create_check_constraint("ck_reservations_status", _STATUSES)
        batch_op.drop_constraint("ck_reservations_rejection_reason", type_="check")
        batch_op.create_check_constraint("ck_reservations_rejection_reason", _REJECTIONS)
        batch_op.create_check_constraint(
            "ck_reservations_ticket", "status <> 'WAITLISTED' OR waitlist_ticket IS NOT NULL"
        )
        batch_op.drop_index("uq_reservations_active")
        _active_index(batch_op, _ACTIVE)
        batch_op.create_index(
            "ix_reservations_queue",
            ["class_id", "waitlist_ticket"],
            unique=False,
            sqlite_where=sa.text(_WAITLISTED),
            postgresql_where=sa.text(_WAITLISTED),
        )


def downgrade() -> None:
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_index("ix_reservations_queue")
        batch_op.drop_index("uq_reservations_active")
        _active_index(batch_op, _OLD_ACTIVE)
        batch_op.drop_constraint("ck_reservations_ticket", type_="check")
        batch_op.drop_constraint("ck_reservations_rejection_reason", type_="check")
        batch_op.create_check_constraint("ck_reservations_rejection_reason", _OLD_REJECTIONS)
        batch_op.drop_constraint("ck_reservations_status", type_="check")
        batch_op.create_check_constraint("ck_reservations_status", _OLD_STATUSES)
        batch_op.drop_column("join_waitlist")
        batch_op.drop_column("check_in_time")
        batch_op.drop_column("cancellation_window_s")
        batch_op.drop_column("limit_overridden")
        batch_op.drop_column("promoted")
        batch_op.drop_column("waitlist_ticket")
