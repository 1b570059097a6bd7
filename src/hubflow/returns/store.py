"""Return tables: returns and their lines, and the refund ledger (one refund per return:
the primary key is the return, so a refund asked twice is written once)."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Integer, String, Table

from hubflow.core.db import metadata
from hubflow.core.types import UTCDateTime

__all__ = ["policies_table", "refunds_table", "return_lines_table", "returns_table"]

returns_table = Table(
    "returns",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False, index=True),
    Column("order_id", String(32), ForeignKey("orders.id"), nullable=False, index=True),
    # authorised, collected (by a courier), dropped_off, inspected
    Column("status", String(16), nullable=False),
    Column("method", String(16), nullable=False),  # store, locker, courier
    Column("reason", String(200), nullable=False),
    Column("token", String(32), nullable=False, unique=True),  # in the customer's QR code
    Column("hub_id", String(32), ForeignKey("hubs.id"), nullable=True),  # where it came in
    Column("created_at", UTCDateTime(), nullable=False),
    Column("dropped_at", UTCDateTime(), nullable=True),
    Column("inspected_at", UTCDateTime(), nullable=True),
)

return_lines_table = Table(
    "return_lines",
    metadata,
    Column("return_id", String(32), ForeignKey("returns.id"), primary_key=True),
    Column("product_id", String(32), ForeignKey("products.id"), primary_key=True),
    Column("quantity", Integer, nullable=False),
    Column("unit_value", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("disposition", String(32), nullable=True),  # restock, refurbish, liquidate, ...
    CheckConstraint("quantity > 0", name="quantity_positive"),
)

refunds_table = Table(
    "refunds",
    metadata,
    Column("return_id", String(32), ForeignKey("returns.id"), primary_key=True),
    Column("merchant_id", String(32), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("trigger", String(16), nullable=False),  # drop_off, inspection
    Column("created_at", UTCDateTime(), nullable=False),
    CheckConstraint("amount >= 0 AND fee >= 0", name="amounts_nonnegative"),
)

policies_table = Table(
    "return_policies",
    metadata,
    Column("merchant_id", String(32), ForeignKey("merchants.id"), primary_key=True),
    Column("window_days", Integer, nullable=False),
    Column("instant_refund_below", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
