"""Points tables. ``points_accounts`` holds each customer's balance and debt (never
negative: CHECK constraints); ``points_entries`` is the ledger, one row per change with
its cause, unique per merchant on ``ref`` (so an earn, burn, reversal, expiry or
transfer is written once however often it is asked); credits are lots that keep what is
left of them (``remaining``) and when they expire. Every change takes the account row
first, so an account's entries and lots change one transaction at a time."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    literal_column,
)

from hubflow.core.db import metadata
from hubflow.core.types import JsonType, UTCDateTime

__all__ = [
    "LIVE_LOT",
    "accounts_table",
    "entries_table",
    "partner_usage_table",
    "partners_table",
    "programs_table",
    "transfers_table",
]

programs_table = Table(
    "points_programs",
    metadata,
    Column("merchant_id", String(32), ForeignKey("merchants.id"), primary_key=True),
    Column("rules", JsonType, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

accounts_table = Table(
    "points_accounts",
    metadata,
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False),
    Column("customer_id", String(100), nullable=False),
    Column("balance", BigInteger, nullable=False),
    Column("debt", BigInteger, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("merchant_id", "customer_id", name="pk_points_accounts"),
    CheckConstraint("balance >= 0", name="balance_nonnegative"),
    CheckConstraint("debt >= 0", name="debt_nonnegative"),
)

entries_table = Table(
    "points_entries",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("merchant_id", String(32), nullable=False),
    Column("customer_id", String(100), nullable=False),
    Column("ref", String(160), nullable=False),  # what makes it once: "earn:ord_..."
    Column("kind", String(16), nullable=False),
    Column("points", BigInteger, nullable=False),  # change of the balance
    Column("debt", BigInteger, nullable=False),  # change of the debt
    Column("cause_type", String(16), nullable=False),  # order, return, transfer, expiry, grant
    Column("cause_id", String(100), nullable=False),
    Column("reverses_id", String(32), ForeignKey("points_entries.id"), nullable=True),
    Column("remaining", BigInteger, nullable=False),  # credits: what is left of the lot
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("detail", JsonType, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("merchant_id", "ref", name="uq_points_entries_merchant_ref"),
    Index("ix_points_entries_account", "merchant_id", "customer_id", "id"),
    Index("ix_points_entries_cause", "merchant_id", "cause_id"),
    CheckConstraint("remaining >= 0", name="remaining_nonnegative"),
)
# Live lots only (partial indexes): a debit reads an account's lots, expiry the due ones.
# Queries say ``LIVE_LOT`` (a literal 0, not a bound one) so the planners can use them.
LIVE_LOT = entries_table.c.remaining > literal_column("0")
Index(
    "ix_points_entries_lots",
    entries_table.c.merchant_id,
    entries_table.c.customer_id,
    entries_table.c.expires_at,
    sqlite_where=LIVE_LOT,
    postgresql_where=LIVE_LOT,
)
Index(
    "ix_points_entries_expiry",
    entries_table.c.expires_at,
    sqlite_where=LIVE_LOT,
    postgresql_where=LIVE_LOT,
)

partners_table = Table(
    "points_partners",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False, index=True),
    Column("name", String(100), nullable=False),
    Column("secret", String(100), nullable=False),  # HMAC key of the partner's requests
    Column("rate_ours", Integer, nullable=False),  # rate_ours of our points ...
    Column("rate_theirs", Integer, nullable=False),  # ... for rate_theirs of theirs
    Column("daily_cap_in", BigInteger, nullable=False),  # our points, per customer and day
    Column("daily_cap_out", BigInteger, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    CheckConstraint("rate_ours > 0 AND rate_theirs > 0", name="rate_positive"),
)

transfers_table = Table(
    "points_transfers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("partner_id", String(32), ForeignKey("points_partners.id"), nullable=False),
    Column("merchant_id", String(32), nullable=False),
    Column("partner_transfer_id", String(100), nullable=False),
    Column("direction", String(4), nullable=False),  # in, out
    Column("customer_id", String(100), nullable=False),
    Column("partner_points", BigInteger, nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("entry_id", String(32), ForeignKey("points_entries.id"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint(
        "partner_id", "partner_transfer_id", name="uq_points_transfers_partner_transfer"
    ),
    Index("ix_points_transfers_partner_time", "partner_id", "created_at"),
)

partner_usage_table = Table(
    "points_partner_usage",
    metadata,
    Column("partner_id", String(32), ForeignKey("points_partners.id"), nullable=False),
    Column("customer_id", String(100), nullable=False),
    Column("day", String(10), nullable=False),  # UTC date
    Column("direction", String(4), nullable=False),
    Column("points", BigInteger, nullable=False),
    PrimaryKeyConstraint(
        "partner_id", "customer_id", "day", "direction", name="pk_points_partner_usage"
    ),
)
