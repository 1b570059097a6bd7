"""What the twin saw happen, as it happened: the raw facts the KPIs are computed from."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["OrderFact", "Recorder", "RouteFact"]


@dataclass
class OrderFact:
    order_id: str
    merchant: str  # merchant key
    kind: str  # merchant kind
    option: str
    member: bool
    placed_at: datetime
    promised_by: datetime | None  # the end of the promised window
    shipments: list[str]
    value: int
    fee: int
    delivered_at: datetime | None = None
    received: set[str] = field(default_factory=set)  # shipments the customer has


@dataclass
class RouteFact:
    route_id: str
    mode: str
    hub: str  # hub key
    vehicle_id: str | None
    courier_id: str | None
    started_at: datetime
    ended_at: datetime | None = None
    km: float = 0.0
    delivered: int = 0
    failed: int = 0
    lockers: int = 0
    # Where the route went, for the report's map: hub, then each stop, in order.
    path: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class Recorder:
    by_hour: defaultdict[str, Counter[int]] = field(
        default_factory=lambda: defaultdict(Counter)
    )  # kpi -> local hour index (hours since the start of day one) -> count
    orders: dict[str, OrderFact] = field(default_factory=dict)
    shipment_order: dict[str, str] = field(default_factory=dict)
    routes: dict[str, RouteFact] = field(default_factory=dict)
    unavailable: Counter[str] = field(default_factory=Counter)  # why no option was offered
    refused: Counter[str] = field(default_factory=Counter)  # error code of refused orders
    conflicts: Counter[str] = field(default_factory=Counter)  # expected races, by code
    fail_reasons: Counter[str] = field(default_factory=Counter)
    after_failure: Counter[str] = field(default_factory=Counter)  # retry, redirected, ...
    carrier_parcels: int = 0
    carrier_cost: int = 0
    gig_pay: int = 0
    offers: Counter[str] = field(default_factory=Counter)  # accepted, declined
    dispatch_runs: int = 0
    dispatch_ms: int = 0
    planned_routes: int = 0
    violations: int = 0  # findings of dispatch's plan checker
    picked_lines: int = 0
    packed: int = 0
    pick_wait_s: list[float] = field(default_factory=list)
    returns_value: int = 0
    refunds: int = 0
    received_units: int = 0
    left_at_dock: int = 0  # units a truck brought that no bin had room for
    # Picking through the hub's real waves: per wave its shipments, per cart its walk.
    wave_sizes: list[int] = field(default_factory=list)
    carts: int = 0
    walk_mm: int = 0
    picking_s: float = 0.0  # walking and at the shelf, summed over carts
    pick_to_pack_s: list[float] = field(default_factory=list)  # cart back -> parcel packed
    by_kind: defaultdict[str, Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )  # hub kind -> lines, carts, walk_mm, picking_s, packed

    def count(self, kpi: str, hour: int, n: int = 1) -> None:
        self.by_hour[kpi][hour] += n
