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
    Column("hub_id", String(32), ForeignKey("hubs.id"), nullable=False, index=True),
    Column("status", String(24), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
