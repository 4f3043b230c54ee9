"""the waitlist: queue length, tickets and capacity of a class, and waiting claims

Revision ID: b2f1c0a9d014
Revises: e6c632920fba
Create Date: 2026-12-02 12:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b2f1c0a9d014"
down_revision: str | None = "e6c632920fba"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("classes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("waitlist_capacity", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("waiting", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("next_ticket", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("cancellation_window_s", sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            "ck_classes_waitlist", "waiting >= 0 AND waiting <= waitlist_capacity"
        )
    with op.batch_alter_table("seat_claims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ticket", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(length=32), nullable=True))
        batch_op.drop_constraint("ck_seat_claims_state", type_="check")
        batch_op.create_check_constraint(
            "ck_seat_claims_state", "state IN ('HELD', 'RELEASED', 'WAITING', 'EXPIRED')"
        )
        batch_op.create_check_constraint(
            "ck_seat_claims_ticket", "state <> 'WAITING' OR ticket IS NOT NULL"
        )
        batch_op.drop_index("ix_seat_claims_class")
        batch_op.create_index("ix_seat_claims_queue", ["class_id", "state", "ticket"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("seat_claims", schema=None) as batch_op:
        batch_op.drop_index("ix_seat_claims_queue")
        batch_op.create_index("ix_seat_claims_class", ["class_id", "state"], unique=False)
        batch_op.drop_constraint("ck_seat_claims_ticket", type_="check")
        batch_op.drop_constraint("ck_seat_claims_state", type_="check")
        batch_op.create_check_constraint("ck_seat_claims_state", "state IN ('HELD', 'RELEASED')")
        batch_op.drop_column("reason")
        batch_op.drop_column("ticket")
    with op.batch_alter_table("classes", schema=None) as batch_op:
        batch_op.drop_constraint("ck_classes_waitlist", type_="check")
        batch_op.drop_column("cancellation_window_s")
        batch_op.drop_column("next_ticket")
        batch_op.drop_column("waiting")
        batch_op.drop_column("waitlist_capacity")
