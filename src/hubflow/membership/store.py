"""Membership tables: plans, subscriptions, the members of each household, the trials
used, and the charge ledger. A customer is in at most one live household per scope (the
primary key of ``membership_members``); a period is charged once (a unique key on the
subscription, kind and period start), so a renewal run twice charges once."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)

from hubflow.core.db import metadata
from hubflow.core.types import JsonType, UTCDateTime

__all__ = [
    "charges_table",
    "members_table",
    "plans_table",
    "subscriptions_table",
    "trials_table",
]

plans_table = Table(
    "membership_plans",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("scope", String(32), nullable=False),  # a merchant id, or "network"
    Column("code", String(40), nullable=False),
    Column("name", String(100), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("monthly_price", BigInteger, nullable=False),
    Column("annual_price", BigInteger, nullable=True),
    Column("trial_days", Integer, nullable=False),
    Column("household_max", Integer, nullable=False),
    Column("benefits", JsonType, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("scope", "code", name="uq_membership_plans_scope_code"),
    CheckConstraint(
        "monthly_price >= 0 AND (annual_price IS NULL OR annual_price >= 0)",
        name="prices_nonnegative",
    ),
    CheckConstraint("trial_days >= 0 AND household_max >= 0", name="limits_nonnegative"),
)

subscriptions_table = Table(
    "membership_subscriptions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("plan_id", String(32), ForeignKey("membership_plans.id"), nullable=False),
    Column("scope", String(32), nullable=False),
    Column("customer_id", String(100), nullable=False),
    Column("billing", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("price", BigInteger, nullable=False),  # per period, minor units
    Column("currency", String(3), nullable=False),
    Column("address", JsonType, nullable=False),
    Column("address_key", String(400), nullable=False),
    Column("anchor", UTCDateTime(), nullable=False),  # periods are counted from here
    Column("cycle", Integer, nullable=False),  # 0 in the trial, then 1, 2, ...
    Column("period_start", UTCDateTime(), nullable=False),
    Column("period_end", UTCDateTime(), nullable=False),
    Column("auto_renew", Boolean, nullable=False),
    Column("household_size", Integer, nullable=False),  # members besides the primary
    Column("household_max", Integer, nullable=False),
    Column("ended_at", UTCDateTime(), nullable=True),
    Column("end_reason", String(32), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("version", Integer, nullable=False),
    Index("ix_membership_subscriptions_due", "status", "period_end"),
    Index("ix_membership_subscriptions_customer", "scope", "customer_id"),
    CheckConstraint(
        "household_size >= 0 AND household_size <= household_max", name="household_within_max"
    ),
)

members_table = Table(
    "membership_members",
    metadata,
    Column("scope", String(32), primary_key=True),
    Column("customer_id", String(100), primary_key=True),
    Column(
        "subscription_id",
        String(32),
        ForeignKey("membership_subscriptions.id"),
        nullable=False,
        index=True,
    ),
    Column("role", String(16), nullable=False),  # primary, member
    Column("added_at", UTCDateTime(), nullable=False),
)

trials_table = Table(
    "membership_trials",
    metadata,
    Column("scope", String(32), primary_key=True),
    Column("customer_id", String(100), primary_key=True),
    Column("subscription_id", String(32), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
)

charges_table = Table(
    "membership_charges",
    metadata,
    Column("id", String(32), primary_key=True),
    Column(
        "subscription_id",
        String(32),
        ForeignKey("membership_subscriptions.id"),
        nullable=False,
    ),
    Column("scope", String(32), nullable=False, index=True),
    Column("kind", String(8), nullable=False),  # charge, refund
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("period_start", UTCDateTime(), nullable=False),
    Column("period_end", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint(
        "subscription_id", "kind", "period_start", name="uq_membership_charges_period"
    ),
    CheckConstraint("amount >= 0", name="amount_nonnegative"),
)
