"""Tables of the browser side: people's accounts, their sessions, merchants' branding."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table

from hubflow.core.db import metadata
from hubflow.core.types import UTCDateTime

__all__ = ["branding_table", "users_table", "web_sessions_table"]

users_table = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    # What the account acts for: a merchant's staff, a hub's staff, one courier.
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=True),
    Column("hub_id", String(32), ForeignKey("hubs.id"), nullable=True),
    Column("courier_id", String(32), ForeignKey("couriers.id"), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled_at", UTCDateTime(), nullable=True),
    # Wrong passwords in a row; at LOCK_AFTER the account waits until locked_until.
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_until", UTCDateTime(), nullable=True),
)

# The cookie holds a random token; only its hash is stored, as for API keys.
web_sessions_table = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(32), ForeignKey("users.id"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Index("ix_web_sessions_user", "user_id"),
)

branding_table = Table(
    "merchant_branding",
    metadata,
    Column("merchant_id", String(32), ForeignKey("merchants.id"), primary_key=True),
    Column("display_name", String(100), nullable=False),
    Column("logo_url", String(2000), nullable=True),  # same-site path or a data: image
    Column("primary_colour", String(7), nullable=False),
    Column("accent_colour", String(7), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
