"""delivery promise: quotes, capacity slots and bookings, hub and merchant settings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 18:32:13.610088
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "network_revision",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_revision")),
    )
    op.create_table(
        "capacity_slots",
        sa.Column("hub_id", sa.String(length=32), nullable=False),
        sa.Column("option", sa.String(length=24), nullable=False),
        sa.Column("slot_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("slot_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("capacity >= 0", name=op.f("ck_capacity_slots_capacity_nonnegative")),
        sa.CheckConstraint("used <= capacity", name=op.f("ck_capacity_slots_used_within_capacity")),
        sa.CheckConstraint("used >= 0", name=op.f("ck_capacity_slots_used_nonnegative")),
        sa.ForeignKeyConstraint(
            ["hub_id"], ["hubs.id"], name=op.f("fk_capacity_slots_hub_id_hubs")
        ),
        sa.PrimaryKeyConstraint("hub_id", "option", "slot_start", name="pk_capacity_slots"),
    )
    op.create_table(
        "hub_promise_settings",
        sa.Column("hub_id", sa.String(length=32), nullable=False),
        sa.Column(
            "settings", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["hub_id"], ["hubs.id"], name=op.f("fk_hub_promise_settings_hub_id_hubs")
        ),
        sa.PrimaryKeyConstraint("hub_id", name=op.f("pk_hub_promise_settings")),
    )
    op.create_table(
        "merchant_promise_settings",
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column(
            "settings", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_merchant_promise_settings_merchant_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_merchant_promise_settings")),
    )
    op.create_table(
        "quotes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column(
            "lines", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "address", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lng", sa.Float(), nullable=False),
        sa.Column(
            "customer", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "options", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column(
            "unavailable", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_quotes_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotes")),
    )
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.create_index("ix_quotes_merchant", ["merchant_id", "id"], unique=False)

    op.create_table(
        "slot_bookings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("merchant_id", sa.String(length=32), nullable=False),
        sa.Column("hub_id", sa.String(length=32), nullable=False),
        sa.Column("option", sa.String(length=24), nullable=False),
        sa.Column("slot_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["hub_id"], ["hubs.id"], name=op.f("fk_slot_bookings_hub_id_hubs")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_slot_bookings_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slot_bookings")),
    )
    with op.batch_alter_table("slot_bookings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_slot_bookings_order_id"), ["order_id"], unique=False)

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "promise", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("promise")

    with op.batch_alter_table("slot_bookings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slot_bookings_order_id"))

    op.drop_table("slot_bookings")
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.drop_index("ix_quotes_merchant")

    op.drop_table("quotes")
    op.drop_table("merchant_promise_settings")
    op.drop_table("hub_promise_settings")
    op.drop_table("capacity_slots")
    op.drop_table("network_revision")
