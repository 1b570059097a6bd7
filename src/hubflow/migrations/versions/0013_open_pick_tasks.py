"""open pick tasks by status: a wave reads the units promised to open picks without
scanning every task of the day

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 02:30:00
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_pick_tasks_status_bin", "pick_tasks", ["status", "bin_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_pick_tasks_status_bin", table_name="pick_tasks")
