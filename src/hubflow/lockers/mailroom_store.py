"""Mailroom tables: a bank's mailroom settings, its residents (the standing code's hash
and wrong-code count) and which resident each mailroom parcel waits for. Kept apart from
the compartment tables: a compartment holding a resident's parcel is simply occupied
without a code of its own."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from hubflow.core.db import metadata
from hubflow.core.types import UTCDateTime

__all__ = ["mailrooms_table", "resident_parcels_table", "residents_table"]

mailrooms_table = Table(
    "locker_mailrooms",
    metadata,
    Column("bank_id", String(32), ForeignKey("locker_banks.id"), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("hold_hours", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    CheckConstraint("hold_hours > 0", name="hold_positive"),
)

residents_table = Table(
    "locker_residents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("bank_id", String(32), ForeignKey("locker_banks.id"), nullable=False),
    Column("unit", String(10), nullable=False),
    # The unit while the resident is not revoked, else NULL: one resident per unit at a
    # time (NULLs never clash), and a unit can be registered again after a move-out.
    Column("active_unit", String(10), nullable=True),
    Column("name", String(100), nullable=False),
    Column("code_hash", String(64), nullable=True),
    Column("status", String(16), nullable=False),  # active, locked, revoked
    Column("failures", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("code_issued_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
    UniqueConstraint("bank_id", "active_unit", name="uq_locker_residents_bank_active_unit"),
    CheckConstraint("failures >= 0", name="failures_nonnegative"),
)

resident_parcels_table = Table(
    "locker_resident_parcels",
    metadata,
    Column("shipment_id", String(32), ForeignKey("shipments.id"), primary_key=True),
    Column(
        "resident_id",
        String(32),
        ForeignKey("locker_residents.id"),
        nullable=False,
        index=True,
    ),
    Column("bank_id", String(32), ForeignKey("locker_banks.id"), nullable=False),
    Column("deposited_at", UTCDateTime(), nullable=False),
    Column("collected_at", UTCDateTime(), nullable=True),
)
