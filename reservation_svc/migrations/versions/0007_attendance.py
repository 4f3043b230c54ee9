"""attendance: the class version a reservation's class description holds, and the index of
the no-show sweep's due bookings

Revision ID: d4b2f7a8e007
Revises: c3a9e1d2f006
Create Date: 2026-12-02 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d4b2f7a8e007"
down_revision: str | None = "c3a9e1d2f006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("class_version", sa.BigInteger(), nullable=True))
        batch_op.create_index(
            "ix_reservations_no_show_due", ["status", "class_end_time"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_index("ix_reservations_no_show_due")
        batch_op.drop_column("class_version")
