"""issue 14 on the page: waitlist, check-in and the statuses and reasons that came with them

Each reservation row keeps `promoted`, `check_in_time`, the class's zone and, for one that
waited, its `waitlist_ticket`; the status CHECK takes WAITLISTED, EXPIRED, ATTENDED and NO_SHOW.
The class index grows to (class, status, ticket): its prefix still serves a class's rewrite, and
a waiting reservation's place is one count over a range of it.

Revision ID: 3b7d52e0c9a1
Revises: 9d8a174e21be
Create Date: 2027-01-10 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b7d52e0c9a1"
down_revision: str | None = "9d8a174e21be"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = "'PENDING', 'CONFIRMED', 'REJECTED', 'CANCELLED'"
AFTER = f"{BEFORE}, 'WAITLISTED', 'EXPIRED', 'ATTENDED', 'NO_SHOW'"


def upgrade() -> None:
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("promoted", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("check_in_time", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("class_time_zone", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("waitlist_ticket", sa.BigInteger(), nullable=True))
        batch_op.drop_constraint("ck_reservations_status", type_="check")
        batch_op.create_check_constraint("ck_reservations_status", f"status IN ({AFTER})")
        batch_op.drop_index("ix_reservations_class")
        batch_op.create_index(
            "ix_reservations_class_queue",
            ["class_id", "status", "waitlist_ticket"],
            unique=False,
        )


def downgrade() -> None:
    # Rows of the newer statuses cannot stay under the older constraint; the read model is
    # rebuilt from the events by replaying them.
    op.execute(f"DELETE FROM reservations WHERE status NOT IN ({BEFORE})")
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_index("ix_reservations_class_queue")
        batch_op.create_index("ix_reservations_class", ["class_id"], unique=False)
        batch_op.drop_constraint("ck_reservations_status", type_="check")
        batch_op.create_check_constraint("ck_reservations_status", f"status IN ({BEFORE})")
        batch_op.drop_column("waitlist_ticket")
        batch_op.drop_column("class_time_zone")
        batch_op.drop_column("check_in_time")
        batch_op.drop_column("promoted")
