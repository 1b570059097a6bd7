"""return pickups and locker holds

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 23:05:01.446973
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("locker_compartments") as batch:
        batch.add_column(sa.Column("hold_order_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("hold_until", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(
            batch.f("ix_locker_compartments_hold_order_id"), ["hold_order_id"], unique=False
        )
    with op.batch_alter_table("shipments") as batch:
        batch.add_column(
            sa.Column("direction", sa.String(length=8), server_default="out", nullable=False)
        )
        batch.add_column(sa.Column("return_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("dest_lat", sa.Float(), nullable=True))
        batch.add_column(sa.Column("dest_lng", sa.Float(), nullable=True))
        batch.add_column(sa.Column("locker_bank_id", sa.String(length=32), nullable=True))
        batch.create_index(batch.f("ix_shipments_return_id"), ["return_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("shipments") as batch:
        batch.drop_index(batch.f("ix_shipments_return_id"))
        batch.drop_column("locker_bank_id")
        batch.drop_column("dest_lng")
        batch.drop_column("dest_lat")
        batch.drop_column("return_id")
        batch.drop_column("direction")
    with op.batch_alter_table("locker_compartments") as batch:
        batch.drop_index(batch.f("ix_locker_compartments_hold_order_id"))
        batch.drop_column("hold_until")
        batch.drop_column("hold_order_id")
