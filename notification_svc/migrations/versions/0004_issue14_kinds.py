"""notification kinds of the waitlist, check-in, no-shows and strikes

The CHECK on `notifications.kind` takes WAITLISTED, PROMOTED, WAITLIST_EXPIRED, ATTENDED,
NO_SHOW, BLOCKED and BLOCK_LIFTED besides the four kinds before (SQLite: batch mode rebuilds
the table with the new constraint).

Revision ID: 7c1e9a4b2d60
Revises: 4f9493de3103
Create Date: 2027-01-10 09:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7c1e9a4b2d60"
down_revision: str | None = "4f9493de3103"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = "'BOOKED', 'REJECTED', 'CANCELLED', 'CLASS_CANCELLED'"
AFTER = (
    f"{BEFORE}, 'WAITLISTED', 'PROMOTED', 'WAITLIST_EXPIRED', 'ATTENDED', 'NO_SHOW',"
    " 'BLOCKED', 'BLOCK_LIFTED'"
)


def _kinds(allowed: str) -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint("ck_notifications_kind", type_="check")
        batch_op.create_check_constraint("ck_notifications_kind", f"kind IN ({allowed})")


def upgrade() -> None:
    _kinds(AFTER)


def downgrade() -> None:
    # Notifications of the newer kinds cannot stay under the older constraint.
    op.execute(f"DELETE FROM notifications WHERE kind NOT IN ({BEFORE})")
    _kinds(BEFORE)
