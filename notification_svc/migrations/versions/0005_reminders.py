"""reminders, the studio's reminder lead, the class's zone on notifications

A `reminders` table (one row per reservation, its due time, state and the reservation version
applied) with the job's partial index on what is SCHEDULED; `studio_lead` keeps the lead from
StudioSettingsChanged (the default, 24 h, as version 0 until one is heard); `notifications.class_time_zone` and the RESCHEDULED and REMINDER kinds
(SQLite: batch mode rebuilds the table with the new constraint).

Revision ID: a5e15c0d7105
Revises: 7c1e9a4b2d60
Create Date: 2027-01-20 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a5e15c0d7105"
down_revision: str | None = "7c1e9a4b2d60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = (
    "'BOOKED', 'REJECTED', 'CANCELLED', 'CLASS_CANCELLED', 'WAITLISTED', 'PROMOTED',"
    " 'WAITLIST_EXPIRED', 'ATTENDED', 'NO_SHOW', 'BLOCKED', 'BLOCK_LIFTED'"
)
AFTER = f"{BEFORE}, 'RESCHEDULED', 'REMINDER'"
SCHEDULED = sa.text("state = 'SCHEDULED'")


def upgrade() -> None:
    op.create_table(
        "reminders",
        sa.Column("reservation_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("class_id", sa.String(length=64), nullable=False),
        sa.Column("class_title", sa.String(length=200), nullable=False),
        sa.Column("class_start_time", sa.DateTime(), nullable=False),
        sa.Column("class_time_zone", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=9), nullable=False),
        sa.Column("reason", sa.String(length=32), server_default="", nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "state IN ('SCHEDULED', 'SENT', 'CANCELLED', 'DROPPED', 'SKIPPED')",
            name="ck_reminders_state",
        ),
        sa.CheckConstraint("version >= 0", name="ck_reminders_version"),
        sa.PrimaryKeyConstraint("reservation_id"),
    )
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reminders_due",
            ["due_at", "reservation_id"],
            unique=False,
            sqlite_where=SCHEDULED,
            postgresql_where=SCHEDULED,
        )
        batch_op.create_index("ix_reminders_class_start", ["class_start_time"], unique=False)
    op.create_table(
        "studio_lead",
        sa.Column("studio", sa.String(length=16), nullable=False),
        sa.Column("lead_seconds", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("update_time", sa.DateTime(), nullable=False),
        sa.CheckConstraint("lead_seconds >= 0", name="ck_studio_lead_seconds"),
        sa.PrimaryKeyConstraint("studio"),
    )
    # The default lead (24 h) as version 0: a row there from the start is what a booking's
    # transaction holds (FOR SHARE) while a new lead is being applied.
    op.execute(
        "INSERT INTO studio_lead (studio, lead_seconds, version, update_time)"
        " VALUES ('studio', 86400, 0, '2000-01-01 00:00:00')"
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("class_time_zone", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.drop_constraint("ck_notifications_kind", type_="check")
        batch_op.create_check_constraint("ck_notifications_kind", f"kind IN ({AFTER})")


def downgrade() -> None:
    # Notifications of the newer kinds cannot stay under the older constraint.
    op.execute(f"DELETE FROM notifications WHERE kind NOT IN ({BEFORE})")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint("ck_notifications_kind", type_="check")
        batch_op.create_check_constraint("ck_notifications_kind", f"kind IN ({BEFORE})")
        batch_op.drop_column("class_time_zone")
    op.drop_table("studio_lead")
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_index("ix_reminders_class_start")
        batch_op.drop_index("ix_reminders_due", sqlite_where=SCHEDULED, postgresql_where=SCHEDULED)
    op.drop_table("reminders")
