"""reservations by owner and status: a per-owner flip finds its active rows by index

SQLite without planner statistics chose the status-first expiry index for
``owner_id = ? AND status = 'active'`` and walked every active reservation.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23 05:30:00
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_reservations_owner", "reservations", ["owner_id", "status", "expires_at"], unique=False
    )
    op.drop_index("ix_reservations_owner_id", table_name="reservations")


def downgrade() -> None:
    op.create_index("ix_reservations_owner_id", "reservations", ["owner_id"], unique=False)
    op.drop_index("ix_reservations_owner", table_name="reservations")
