"""return lines' disposition wide enough for every disposition: "return_to_merchant" is
18 characters and PostgreSQL refused it in a 16-character column

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-23 12:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("return_lines") as batch:
        batch.alter_column(
            "disposition", existing_type=sa.String(length=16), type_=sa.String(length=32)
        )


def downgrade() -> None:
    with op.batch_alter_table("return_lines") as batch:
        batch.alter_column(
            "disposition", existing_type=sa.String(length=32), type_=sa.String(length=16)
        )
