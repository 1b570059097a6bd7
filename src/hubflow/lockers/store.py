"""Locker tables: banks and their compartments. A compartment row carries its parcel,
the hash of its pickup code and its wrong-code count; every change is a conditional
UPDATE on the status (and version) read."""

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
from hubflow.core.types import UTCDateTime

__all__ = ["banks_table", "compartments_table", "store_pickups_table"]

banks_table = Table(
    "locker_banks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("kind", String(16), nullable=False),  # store, station, apartment
    Column("hub_id", String(32), ForeignKey("hubs.id"), nullable=False),  # serviced from
    Column("lat", Float, nullable=False),
    Column("lng", Float, nullable=False),
    # Wrong codes across the whole bank in the current window: a keypad rate limit.
    Column("fail_window_start", UTCDateTime(), nullable=True),
    Column("fail_count", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

compartments_table = Table(
    "locker_compartments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("bank_id", String(32), ForeignKey("locker_banks.id"), nullable=False, index=True),
    Column("label", String(16), nullable=False),
    Column("size", String(4), nullable=False),
    Column("length_mm", Integer, nullable=False),
    Column("width_mm", Integer, nullable=False),
    Column("height_mm", Integer, nullable=False),
    Column("max_weight_g", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("shipment_id", String(32), ForeignKey("shipments.id"), nullable=True),
    Column("code_hash", String(64), nullable=True),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("failures", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    # Held for an order promised ``locker`` delivery until its parcel is deposited.
    Column("hold_order_id", String(32), nullable=True, index=True),
    Column("hold_until", UTCDateTime(), nullable=True),
    UniqueConstraint("bank_id", "label", name="uq_locker_compartments_bank_label"),
    UniqueConstraint("shipment_id", name="uq_locker_compartments_shipment"),
    CheckConstraint("failures >= 0", name="failures_nonnegative"),
)

# Pick-up in store: the order waits at the counter for the customer's code.
store_pickups_table = Table(
    "store_pickups",
    metadata,
    Column("shipment_id", String(32), ForeignKey("shipments.id"), primary_key=True),
    Column("hub_id", String(32), ForeignKey("hubs.id"), nullable=False),
    Column("status", String(16), nullable=False),  # waiting, collected, no_show
    Column("code_hash", String(64), nullable=True),
    Column("hold_until", UTCDateTime(), nullable=False),
    Column("failures", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("done_at", UTCDateTime(), nullable=True),
    Index("ix_store_pickups_due", "status", "hold_until"),
)
