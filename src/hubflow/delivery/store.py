"""Last-mile tables: the fleet, shifts, carriers, dispatch runs, routes and their stops,
gig offers, carrier handoffs, tracking events and proofs of delivery.

The delivery state of a parcel lives on the ``shipments`` row (owned by orders), in
columns this context adds; every change there is a conditional UPDATE on the status read.
"""

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
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
)

from hubflow.core.db import metadata
from hubflow.core.types import JsonType, UTCDateTime

__all__ = [
    "carrier_handoffs_table",
    "carriers_table",
    "couriers_table",
    "dispatch_leases_table",
    "dispatch_runs_table",
    "offers_table",
    "proofs_table",
    "route_stops_table",
    "routes_table",
    "shifts_table",
    "tracking_events_table",
    "vehicle_types_table",
    "vehicles_table",
]

vehicle_types_table = Table(
    "vehicle_types",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("mode", String(24), nullable=False),
    Column("spec", JsonType, nullable=False),  # the resolved VehicleTypeSpec
    Column("created_at", UTCDateTime(), nullable=False),
)

vehicles_table = Table(
    "vehicles",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("type_id", String(32), ForeignKey("vehicle_types.id"), nullable=False),
    Column("hub_id", String(32), ForeignKey("hubs.id"), nullable=False, index=True),
    Column("active", Boolean, nullable=False),
    Column("lat", Float, nullable=True),
    Column("lng", Float, nullable=True),
    Column("located_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

couriers_table = Table(
    "couriers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("hub_id", String(32), ForeignKey("hubs.id"), nullable=False, index=True),
    Column("mode", String(24), nullable=False),  # what a gig courier drives
    Column("on_shift", Boolean, nullable=False),
    Column("vehicle_id", String(32), ForeignKey("vehicles.id"), nullable=True),
    Column("lat", Float, nullable=True),
    Column("lng", Float, nullable=True),
    Column("located_at", UTCDateTime(), nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# Employees' shifts and gig couriers' availability: when the planner may count on them.
shifts_table = Table(
    "shifts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("courier_id", String(32), ForeignKey("couriers.id"), nullable=False),
    Column("vehicle_id", String(32), ForeignKey("vehicles.id"), nullable=True),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("ended_at", UTCDateTime(), nullable=True),
    Index("ix_shifts_courier_time", "courier_id", "starts_at"),
    CheckConstraint("ends_at > starts_at", name="shift_ends_after_start"),
)

carriers_table = Table(
    "carriers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("rate_card", JsonType, nullable=False),
    Column("handoff_cutoff", String(5), nullable=False),  # hub-local "HH:MM"
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# One planner per region at a time, whichever process: a lease taken by a conditional
# UPDATE (or the INSERT of its row), as the webhook relay does.
dispatch_leases_table = Table(
    "dispatch_leases",
    metadata,
    Column("region", String(64), primary_key=True),
    Column("holder", String(32), nullable=False),
    Column("until", UTCDateTime(), nullable=False),
    Column("last_run_at", UTCDateTime(), nullable=True),
)

dispatch_runs_table = Table(
    "dispatch_runs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("region", String(64), nullable=False),
    Column("policy", String(32), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("runtime_ms", Integer, nullable=False),
    Column("summary", JsonType, nullable=False),
    Index("ix_dispatch_runs_region", "region", "started_at"),
)

routes_table = Table(
    "routes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("run_id", String(32), ForeignKey("dispatch_runs.id"), nullable=True),
    Column("region", String(64), nullable=False),
    Column("hub_id", String(32), ForeignKey("hubs.id"), nullable=False),
    Column("mode", String(24), nullable=False),
    Column("vehicle_id", String(32), ForeignKey("vehicles.id"), nullable=True),
    Column("courier_id", String(32), ForeignKey("couriers.id"), nullable=True),
    Column("status", String(16), nullable=False),
    Column("planned_start", UTCDateTime(), nullable=False),
    Column("planned_end", UTCDateTime(), nullable=False),
    Column("distance_m", Integer, nullable=False),
    Column("cost", BigInteger, nullable=False),
    Column("started_at", UTCDateTime(), nullable=True),
    Column("completed_at", UTCDateTime(), nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_routes_region_status", "region", "status"),
    Index("ix_routes_courier", "courier_id", "status"),
)

route_stops_table = Table(
    "route_stops",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("route_id", String(32), ForeignKey("routes.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("trip", Integer, nullable=False),
    Column("shipment_id", String(32), ForeignKey("shipments.id"), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lng", Float, nullable=False),
    Column("planned_arrival", UTCDateTime(), nullable=False),
    Column("eta", UTCDateTime(), nullable=False),
    Column("arrived_at", UTCDateTime(), nullable=True),
    Column("done_at", UTCDateTime(), nullable=True),
    Column("fail_reason", String(32), nullable=True),
    # PINs tried at the door; counted before each is compared, so at most MAX_PIN_TRIES
    # are ever compared, however many requests come at once.
    Column("pin_tries", Integer, nullable=False, server_default="0"),
    UniqueConstraint("route_id", "seq", name="uq_route_stops_route_seq"),
)

offers_table = Table(
    "offers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("route_id", String(32), ForeignKey("routes.id"), nullable=False, index=True),
    Column("courier_id", String(32), ForeignKey("couriers.id"), nullable=False),
    Column("status", String(16), nullable=False),  # open, accepted, declined, expired
    Column("pay", BigInteger, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("answered_at", UTCDateTime(), nullable=True),
    UniqueConstraint("route_id", "courier_id", name="uq_offers_route_courier"),
    Index("ix_offers_courier_status", "courier_id", "status"),
)

carrier_handoffs_table = Table(
    "carrier_handoffs",
    metadata,
    Column("shipment_id", String(32), ForeignKey("shipments.id"), primary_key=True),
    Column("carrier_id", String(32), ForeignKey("carriers.id"), nullable=False),
    Column("status", String(16), nullable=False),  # quoted, handed_over, cancelled
    Column("price", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("cutoff_at", UTCDateTime(), nullable=False),
    Column("tracking_number", String(64), nullable=True),
    Column("handed_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

tracking_events_table = Table(
    "tracking_events",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("shipment_id", String(32), ForeignKey("shipments.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("details", JsonType, nullable=False),
    Index("ix_tracking_events_shipment", "shipment_id", "at"),
)

proofs_table = Table(
    "delivery_proofs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("shipment_id", String(32), ForeignKey("shipments.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # photo, signature
    Column("content_type", String(64), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
