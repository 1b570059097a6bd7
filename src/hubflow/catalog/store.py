"""Merchant, API key and product tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    Row,
    String,
    Table,
    UniqueConstraint,
)

from hubflow.catalog.model import Product, Temperature
from hubflow.core.db import metadata
from hubflow.core.money import Money
from hubflow.core.types import UTCDateTime

__all__ = ["api_keys_table", "merchants_table", "product_from_row", "products_table"]

merchants_table = Table(
    "merchants",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

api_keys_table = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=True, index=True),
    Column("courier_id", String(32), nullable=True, index=True),  # courier keys
    Column("prefix", String(16), nullable=False, index=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("label", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
)

products_table = Table(
    "products",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("length_mm", Integer, nullable=False),
    Column("width_mm", Integer, nullable=False),
    Column("height_mm", Integer, nullable=False),
    Column("weight_g", Integer, nullable=False),
    Column("value_amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("temperature", String(16), nullable=False),
    Column("hazmat", Boolean, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("merchant_id", "sku", name="uq_products_merchant_sku"),
    CheckConstraint("length_mm > 0 AND width_mm > 0 AND height_mm > 0", name="dims_positive"),
    CheckConstraint("weight_g > 0", name="weight_positive"),
    CheckConstraint("value_amount >= 0", name="value_nonnegative"),
)


def product_from_row(row: Row[Any]) -> Product:
    m = row._mapping
    return Product(
        id=m["id"],
        merchant_id=m["merchant_id"],
        sku=m["sku"],
        name=m["name"],
        dims_mm=(m["length_mm"], m["width_mm"], m["height_mm"]),
        weight_g=m["weight_g"],
        value=Money(m["value_amount"], m["currency"]),
        temperature=Temperature(m["temperature"]),
        hazmat=m["hazmat"],
    )
