"""PINs tried at a stop

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 02:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("route_stops", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pin_tries", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("route_stops", schema=None) as batch_op:
        batch_op.drop_column("pin_tries")
