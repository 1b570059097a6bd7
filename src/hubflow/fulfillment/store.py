"""Hub operations tables: layouts and their bins, what each bin holds, advance shipping
notices and their lines, the box catalogue, waves, pick tasks, cycle counts, cartons.

Bin quantities carry ``CHECK`` constraints as the last line of defence; the services
move them with conditional UPDATEs (never read-then-write)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
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

__all__ = [
    "asn_lines_table",
    "asns_table",
    "bin_stock_table",
    "bins_table",
    "box_types_table",
    "cartons_table",
    "cycle_counts_table",
    "layouts_table",
    "pick_tasks_table",
    "waves_table",
]

layouts_table = Table(
    "hub_layouts",
    metadata,
    Column("hub_id", String(32), ForeignKey("hubs.id"), primary_key=True),
    Column("layout", JsonType, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

bins_table = Table(
    "bins",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("hub_id", String(32), ForeignKey("hubs.id"), nullable=False),
    Column("code", String(40), nullable=False),  # the label on the shelf
    Column("zone", String(40), nullable=False),
    Column("x_mm", Integer, nullable=False),
    Column("y_mm", Integer, nullable=False),
    Column("level", Integer, nullable=False),
    Column("length_mm", Integer, nullable=False),
    Column("width_mm", Integer, nullable=False),
    Column("height_mm", Integer, nullable=False),
    Column("max_weight_g", Integer, nullable=False),
    Column("used_volume_cm3", BigInteger, nullable=False),
    Column("used_weight_g", BigInteger, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("location", JsonType, nullable=False),  # the layout's place: aisle, position, side
    UniqueConstraint("hub_id", "code", name="uq_bins_hub_code"),
    CheckConstraint("used_volume_cm3 >= 0", name="used_volume_nonnegative"),
    CheckConstraint("used_weight_g >= 0", name="used_weight_nonnegative"),
    CheckConstraint("used_weight_g <= max_weight_g", name="weight_within_limit"),
    CheckConstraint(
        "used_volume_cm3 * 1000 <= length_mm * width_mm * height_mm", name="volume_within_bin"
    ),
)

bin_stock_table = Table(
    "bin_stock",
    metadata,
    Column("bin_id", String(32), ForeignKey("bins.id"), primary_key=True),
    Column("product_id", String(32), ForeignKey("products.id"), primary_key=True),
    Column("merchant_id", String(32), nullable=False),
    Column("hub_id", String(32), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_bin_stock_hub_product", "hub_id", "product_id"),
    CheckConstraint("quantity >= 0", name="quantity_nonnegative"),
)

asns_table = Table(
    "asns",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("merchant_id", String(32), ForeignKey("merchants.id"), nullable=False),
    Column("hub_id", String(32), ForeignKey("hubs.id"), nullable=False),
    Column("reference", String(100), nullable=True),
    Column("status", String(16), nullable=False),  # expected, receiving, closed
    Column("expected_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=True),
    Index("ix_asns_merchant", "merchant_id", "id"),
)

asn_lines_table = Table(
    "asn_lines",
    metadata,
    Column("asn_id", String(32), ForeignKey("asns.id"), primary_key=True),
    Column("product_id", String(32), ForeignKey("products.id"), primary_key=True),
    Column("expected", Integer, nullable=False),
    Column("received", Integer, nullable=False),  # good units at the dock or stowed
    Column("damaged", Integer, nullable=False),
    Column("stowed", Integer, nullable=False),
    CheckConstraint("stowed <= received", name="stowed_within_received"),
    CheckConstraint("received >= 0 AND damaged >= 0 AND stowed >= 0", name="counts_nonnegative"),
)

box_types_table = Table(
    "box_types",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("hub_id", String(32), ForeignKey("hubs.id"), nullable=False, index=True),
    Column("code", String(40), nullable=False),
    Column("length_mm", Integer, nullable=False),
    Column("width_mm", Integer, nullable=False),
    Column("height_mm", Integer, nullable=False),
    Column("max_weight_g", Integer, nullable=False),
    Column("cost", Integer, nullable=False),
    UniqueConstraint("hub_id", "code", name="uq_box_types_hub_code"),
)

waves_table = Table(
    "waves",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("hub_id", String(32), ForeignKey("hubs.id"), nullable=False),
    Column("cutoff_at", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),  # released, done
    Column("plan", JsonType, nullable=False),  # batches, carts and walking distances
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_waves_hub", "hub_id", "created_at"),
)

pick_tasks_table = Table(
    "pick_tasks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("wave_id", String(32), ForeignKey("waves.id"), nullable=False, index=True),
    Column("batch", Integer, nullable=False),
    Column("seq", Integer, nullable=False),  # walking order within the batch
    Column("tote", Integer, nullable=False),
    Column("shipment_id", String(32), ForeignKey("shipments.id"), nullable=False, index=True),
    Column("product_id", String(32), ForeignKey("products.id"), nullable=False),
    Column("bin_id", String(32), ForeignKey("bins.id"), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("picked", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # open, picked, short
    Column("version", Integer, nullable=False),
    CheckConstraint("picked >= 0 AND picked <= quantity", name="picked_within_quantity"),
    # A wave counts the units open picks hold; the open ones are few among the day's tasks.
    Index("ix_pick_tasks_status_bin", "status", "bin_id"),
)

cycle_counts_table = Table(
    "cycle_counts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("bin_id", String(32), ForeignKey("bins.id"), nullable=False),
    Column("product_id", String(32), ForeignKey("products.id"), nullable=False),
    Column("reason", String(32), nullable=False),  # short_pick, scheduled, damage
    Column("expected", Integer, nullable=False),
    Column("counted", Integer, nullable=True),
    Column("status", String(16), nullable=False),  # open, done
    Column("created_at", UTCDateTime(), nullable=False),
    Column("done_at", UTCDateTime(), nullable=True),
    Index("ix_cycle_counts_status", "status"),
)

cartons_table = Table(
    "cartons",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("shipment_id", String(32), ForeignKey("shipments.id"), nullable=False, index=True),
    Column("box_type_id", String(32), ForeignKey("box_types.id"), nullable=False),
    Column("weight_g", Integer, nullable=False),
    Column("placements", JsonType, nullable=False),
    Column("fill", Float, nullable=False),  # share of the box volume used
    Column("created_at", UTCDateTime(), nullable=False),
)
