"""shipments by hub and packed time: a wave reads a hub's unpacked parcels, not every
parcel the hub has sent

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-23 05:45:00
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_shipments_hub_packed", "shipments", ["hub_id", "packed_at"], unique=False)
    op.drop_index("ix_shipments_hub_id", table_name="shipments")


def downgrade() -> None:
    op.create_index("ix_shipments_hub_id", "shipments", ["hub_id"], unique=False)
    op.drop_index("ix_shipments_hub_packed", table_name="shipments")
