"""Stock, movement and reservation tables.

The database enforces ``0 <= reserved <= on_hand`` with CHECK constraints as a
last line of defence; the service never relies on hitting them.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
)

from hubflow.core.db import metadata
from hubflow.core.types import UTCDateTime

__all__ = ["movements_table", "reservations_table", "stock_table"]

stock_table = Table(
    "stock",
    metadata,
    Column("hub_id", String(32), ForeignKey("hubs.id"), nullable=False),
    Column("product_id", String(32), ForeignKey("products.id"), nullable=False),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False),
    Column("on_hand", Integer, nullable=False),
    Column("reserved", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("hub_id", "product_id", name="pk_stock"),
    CheckConstraint("on_hand >= 0", name="on_hand_nonnegative"),
    CheckConstraint("reserved >= 0", name="reserved_nonnegative"),
    CheckConstraint("reserved <= on_hand", name="reserved_within_on_hand"),
    Index("ix_stock_product", "product_id"),
)

movements_table = Table(
    "stock_movements",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("hub_id", String(32), nullable=False),
    Column("product_id", String(32), nullable=False),
    Column("merchant_id", String(32), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("on_hand_delta", Integer, nullable=False),
    Column("reserved_delta", Integer, nullable=False),
    Column("reason", String(32), nullable=True),
    Column("note", String(500), nullable=True),
    Column("ref", String(32), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_stock_movements_position", "hub_id", "product_id"),
)

reservations_table = Table(
    "reservations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("merchant_id", String(32), nullable=False),
    Column("owner_id", String(32), nullable=False),
    Column("hub_id", String(32), ForeignKey("hubs.id"), nullable=False),
    Column("product_id", String(32), ForeignKey("products.id"), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    CheckConstraint("quantity > 0", name="quantity_positive"),
    Index("ix_reservations_expiry", "status", "expires_at"),
    # Owner first and status with it: every per-owner flip filters on both, and without
    # planner statistics SQLite would otherwise take the status-first expiry index and walk
    # every active reservation.
    Index("ix_reservations_owner", "owner_id", "status", "expires_at"),
)
