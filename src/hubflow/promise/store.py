"""Promise tables: quotes, capacity slots and their bookings, hub and merchant settings.

``capacity_slots`` carries ``CHECK (used <= capacity)`` as a last line of
defence; the service consumes a slot with one conditional UPDATE and never
relies on hitting the constraint.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
)

from hubflow.core.db import metadata
from hubflow.core.types import JsonType, UTCDateTime

__all__ = [
    "capacity_slots_table",
    "hub_promise_table",
    "merchant_promise_table",
    "quotes_table",
    "slot_bookings_table",
]

quotes_table = Table(
    "quotes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False),
    Column("lines", JsonType, nullable=False),
    Column("address", JsonType, nullable=False),
    Column("lat", Float, nullable=False),
    Column("lng", Float, nullable=False),
    Column("customer", JsonType, nullable=False),
    Column("options", JsonType, nullable=False),
    Column("unavailable", JsonType, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index("ix_quotes_merchant", "merchant_id", "id"),
)

capacity_slots_table = Table(
    "capacity_slots",
    metadata,
    Column("hub_id", String(32), ForeignKey("hubs.id"), nullable=False),
    Column("option", String(24), nullable=False),
    Column("slot_start", UTCDateTime(), nullable=False),
    Column("slot_end", UTCDateTime(), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("used", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("hub_id", "option", "slot_start", name="pk_capacity_slots"),
    CheckConstraint("used >= 0", name="used_nonnegative"),
    CheckConstraint("capacity >= 0", name="capacity_nonnegative"),
    CheckConstraint("used <= capacity", name="used_within_capacity"),
)

slot_bookings_table = Table(
    "slot_bookings",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("order_id", String(32), ForeignKey("orders.id"), nullable=False, index=True),
    Column("merchant_id", String(32), nullable=False),
    Column("hub_id", String(32), ForeignKey("hubs.id"), nullable=False),
    Column("option", String(24), nullable=False),
    Column("slot_start", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

hub_promise_table = Table(
    "hub_promise_settings",
    metadata,
    Column("hub_id", String(32), ForeignKey("hubs.id"), primary_key=True),
    Column("settings", JsonType, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

merchant_promise_table = Table(
    "merchant_promise_settings",
    metadata,
    Column("merchant_id", String(32), ForeignKey("merchants.id"), primary_key=True),
    Column("settings", JsonType, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
