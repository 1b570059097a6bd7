"""Order, line and shipment tables."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from hubflow.core.db import metadata
from hubflow.core.types import JsonType, UTCDateTime

__all__ = ["order_lines_table", "orders_table", "shipments_table"]

orders_table = Table(
    "orders",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False),
    Column("status", String(24), nullable=False),
    Column("external_ref", String(100), nullable=True),
    Column("customer", JsonType, nullable=False),
    Column("address", JsonType, nullable=False),
    Column("lat", Float, nullable=False),
    Column("lng", Float, nullable=False),
    Column("version", Integer, nullable=False),
    Column("promise", JsonType, nullable=True),  # the delivery promise kept (quoted orders)
    Column("loyalty", JsonType, nullable=True),  # points burned and earned (hubflow.points)
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_orders_merchant", "merchant_id", "id"),
    Index("ix_orders_status", "status"),
)

order_lines_table = Table(
    "order_lines",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("order_id", String(32), ForeignKey("orders.id"), nullable=False, index=True),
    Column("line_no", Integer, nullable=False),
    Column("product_id", String(32), ForeignKey("products.id"), nullable=False),
    Column("quantity", Integer, nullable=False),
    UniqueConstraint("order_id", "line_no", name="uq_order_lines_order_line"),
    CheckConstraint("quantity > 0", name="quantity_positive"),
)

shipments_table = Table(
    "shipments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("order_id", String(32), ForeignKey("orders.id"), nullable=False, index=True),
    Column("merchant_id", String(32), nullable=False),
    Column("hub_id", String(32), ForeignKey("hubs.id"), nullable=False),
    Column("status", String(24), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    # Delivery (the delivery context moves these; see hubflow.delivery).
    Column("tracking_token", String(32), nullable=True, unique=True),
    Column("proof", JsonType, nullable=True),  # the order's proof-of-delivery policy
    Column("pin", String(4), nullable=True),
    Column("ready_at", UTCDateTime(), nullable=True),  # expected packed by
    Column("packed_at", UTCDateTime(), nullable=True),
    Column("weight_g", Integer, nullable=True),
    Column("volume_cm3", Integer, nullable=True),
    Column("dims_mm", JsonType, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("route_id", String(32), nullable=True),
    Column("eta", UTCDateTime(), nullable=True),
    Column("note", String(64), nullable=True),  # why dispatch could not place it
    Column("redirect_hub_id", String(32), ForeignKey("hubs.id"), nullable=True),
    Column("version", Integer, nullable=False, server_default="1"),
    # "out" to the customer, or "return": a courier collects a return from the customer
    # and brings it to the hub.
    Column("direction", String(8), nullable=False, server_default="out"),
    Column("return_id", String(32), nullable=True, index=True),
    # Where the parcel goes (or is collected) when not the order's address: a locker bank.
    Column("dest_lat", Float, nullable=True),
    Column("dest_lng", Float, nullable=True),
    Column("locker_bank_id", String(32), nullable=True),
    Index("ix_shipments_status", "status"),
    # A hub's parcels not packed yet (a wave's candidates) without those that left.
    Index("ix_shipments_hub_packed", "hub_id", "packed_at"),
)
