"""What the planner needs to know about a region, read in one short read-only transaction:
the parcels waiting or re-plannable, the vehicles and couriers free to take them, the
routes already under way, and the gig couriers and carriers to fall back on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from hubflow.catalog.store import products_table
from hubflow.core.geo import LatLng
from hubflow.delivery.fleet import DEFAULTS, CourierKind, Mode, VehicleTypeSpec
from hubflow.delivery.fleet_service import spec_from_row
from hubflow.delivery.model import RouteStatus, ShipmentStatus, StopStatus
from hubflow.delivery.store import (
    carriers_table,
    couriers_table,
    offers_table,
    route_stops_table,
    routes_table,
    shifts_table,
    vehicle_types_table,
    vehicles_table,
)
from hubflow.inventory.store import reservations_table
from hubflow.network.model import Hub
from hubflow.network.store import hub_from_row, hubs_table
from hubflow.orders.store import orders_table, shipments_table

__all__ = [
    "Carrier",
    "Free",
    "Parcel",
    "Snapshot",
    "UnderWay",
    "delivery_window",
    "read_snapshot",
]

HORIZON = timedelta(hours=12)  # how far ahead shifts are read
DEFAULT_DIMS = (300, 200, 150)


@dataclass(frozen=True)
class HubInfo:
    id: str
    name: str
    point: LatLng
    timezone: str
    pickup_in_store: bool
    hub: Hub

    def open_window(self, now: datetime) -> tuple[datetime, datetime] | None:
        """The hub's next open stretch within the horizon, to a quarter of an hour:
        self-driving vehicles are loaded by the hub's staff, so they work its hours."""
        step = timedelta(minutes=15)
        t, end = now, now + HORIZON
        while t < end and not self.hub.is_open(t):
            t += step
        if t >= end:
            return None
        start = t
        while t < end and self.hub.is_open(t):
            t += step
        return start, t


@dataclass(frozen=True)
class Parcel:
    id: str
    order_id: str
    merchant_id: str
    hub_id: str
    status: str
    version: int
    route_id: str | None
    point: LatLng
    weight_g: int
    volume_cm3: int
    dims_mm: tuple[int, int, int]
    ready_at: datetime  # packed, or expected packed
    packed: bool
    window: tuple[datetime, datetime]
    service_extra_s: int  # PIN, signature or an ID check take time at the door
    tracking_token: str | None = None
    pickup: bool = False  # a return to collect from the customer and bring to the hub


@dataclass(frozen=True)
class Free:
    """A vehicle free to take new work in [start, end): an employee's shift in one of the
    hub's vehicles, a self-driving vehicle, or a gig courier's own vehicle."""

    key: str  # the planner's vehicle id
    hub_id: str
    spec: VehicleTypeSpec
    profile: str
    start: datetime
    end: datetime
    vehicle_id: str | None
    courier_id: str | None
    shift_id: str | None


@dataclass(frozen=True)
class UnderWay:
    """A started route: where its vehicle is and the stops it has still to make."""

    route_id: str
    free: Free  # the vehicle, from now
    position: LatLng
    busy_until: datetime  # an arrived stop's service still running
    remaining: list[dict[str, Any]]  # stop rows, planned, in order
    last_seq: int
    trips: int


@dataclass(frozen=True)
class Recent:
    """A parcel a hub sent lately: where to, and its window relative to its order."""

    point: LatLng
    opens_after_s: int
    window_s: int


@dataclass(frozen=True)
class Carrier:
    id: str
    name: str
    rate_card: dict[str, Any]
    handoff_cutoff: str


@dataclass
class Snapshot:
    region: str
    now: datetime
    hubs: dict[str, HubInfo]
    parcels: list[Parcel]
    replannable: list[str]  # planned routes, cancelled when the new plan lands
    free: list[Free]
    under_way: list[UnderWay]
    gig: list[Free]
    carriers: list[Carrier]
    on_board: dict[str, Parcel] = field(default_factory=dict)
    recent: dict[str, list[Recent]] = field(default_factory=dict)  # per hub, for sampling
    rate: dict[str, float] = field(default_factory=dict)  # parcels per second, per hub


def _hubs(conn: Connection, region: str) -> dict[str, HubInfo]:
    h = hubs_table.c
    rows = conn.execute(select(hubs_table).where(h.region == region, h.active))
    return {
        r.id: HubInfo(
            r.id,
            r.name,
            LatLng(r.lat, r.lng),
            r.timezone,
            "pick_up_in_store" in r.capabilities,
            hub_from_row(r),
        )
        for r in rows
    }


def physicals(
    conn: Connection, ships: Sequence[Any]
) -> dict[str, tuple[int, int, tuple[int, ...]]]:
    """Weight, volume and largest item of each unpacked shipment, from its products."""
    todo = [s for s in ships if s.weight_g is None]
    if not todo:
        return {}
    r, p = reservations_table.c, products_table.c
    rows = conn.execute(
        select(
            r.owner_id,
            r.hub_id,
            func.sum(r.quantity * p.weight_g).label("weight"),
            func.sum(r.quantity * p.length_mm * p.width_mm * p.height_mm / 1000).label("vol"),
            func.max(p.length_mm).label("l"),
            func.max(p.width_mm).label("w"),
            func.max(p.height_mm).label("h"),
        )
        .join(products_table, p.id == r.product_id)
        .where(r.owner_id.in_({s.order_id for s in todo}))
        .group_by(r.owner_id, r.hub_id)
    )
    by_order_hub = {(x.owner_id, x.hub_id): x for x in rows}
    out: dict[str, tuple[int, int, tuple[int, ...]]] = {}
    for s in todo:
        x = by_order_hub.get((s.order_id, s.hub_id))
        if x is not None:
            out[s.id] = (int(x.weight), max(1, int(x.vol)), (int(x.l), int(x.w), int(x.h)))
    return out


def destination(row: Any) -> LatLng:
    """Where a shipment row goes: its own destination (a locker bank), else its order's."""
    if row.dest_lat is not None:
        return LatLng(row.dest_lat, row.dest_lng)
    return LatLng(row.lat, row.lng)


def delivery_window(
    order_promise: dict[str, Any] | None, created: datetime, cfg: Any
) -> tuple[datetime, datetime]:
    """When a parcel may arrive: its promise's window, else the default from its order time."""
    window = (order_promise or {}).get("window")
    if window:
        return datetime.fromisoformat(window["from"]), datetime.fromisoformat(window["to"])
    return created + timedelta(seconds=cfg.handling_s), created + timedelta(seconds=cfg.window_s)


_PARCEL_COLUMNS = (
    "id",
    "order_id",
    "merchant_id",
    "hub_id",
    "status",
    "version",
    "route_id",
    "dest_lat",
    "dest_lng",
    "weight_g",
    "volume_cm3",
    "dims_mm",
    "direction",
    "created_at",
    "proof",
    "packed_at",
    "ready_at",
    "tracking_token",
)


def _parcels(
    conn: Connection, region: str, now: datetime, cfg: Any
) -> tuple[list[Parcel], list[str]]:
    s, o, h, r = shipments_table.c, orders_table.c, hubs_table.c, routes_table.c
    waiting = or_(
        s.status.in_([ShipmentStatus.PENDING.value, ShipmentStatus.READY.value]),
        and_(s.status == ShipmentStatus.ASSIGNED.value, r.status == RouteStatus.PLANNED.value),
    )
    # Only the promise's window and option: decoding every waiting order's whole promise
    # each epoch was most of this read.
    rows = conn.execute(
        select(
            *(s[name] for name in _PARCEL_COLUMNS),
            o.lat,
            o.lng,
            o.promise[("window", "from")].as_string().label("window_from"),
            o.promise[("window", "to")].as_string().label("window_to"),
            o.created_at.label("ordered_at"),
        )
        .join(orders_table, o.id == s.order_id)
        .join(hubs_table, h.id == s.hub_id)
        .outerjoin(routes_table, r.id == s.route_id)
        .where(
            h.region == region,
            waiting,
            s.created_at <= now,
            # Pick-up-in-store orders wait for their customer; they are not delivered.
            func.coalesce(o.promise["option"].as_string(), "") != "pickup_in_store",
        )
        .order_by(s.id)
    ).all()
    phys = physicals(conn, rows)
    horizon = now + timedelta(seconds=cfg.horizon_s)
    parcels, replannable = [], set()
    for x in rows:
        if x.weight_g is not None:
            weight, vol = x.weight_g, x.volume_cm3 or 1
            dims = tuple(x.dims_mm or DEFAULT_DIMS)
        elif x.id in phys:
            weight, vol, dims = phys[x.id]
        else:
            continue  # reservations gone: the order was cancelled under us
        pickup = x.direction == "return"
        # A return's pickup runs from when it was booked, not from the order's promise.
        window = (
            delivery_window(None, x.created_at, cfg)
            if pickup or x.window_from is None
            else (datetime.fromisoformat(x.window_from), datetime.fromisoformat(x.window_to))
        )
        if window[0] > horizon:
            continue  # routes are re-planned each epoch: it joins the plan nearer its time
        proof = x.proof or {}
        extra = 60 * bool(proof.get("pin")) + 60 * bool(proof.get("signature"))
        extra += 120 * (proof.get("min_age") is not None)
        ready = x.packed_at or x.ready_at or (x.ordered_at + timedelta(seconds=cfg.handling_s))
        if pickup:
            ready = x.created_at  # nothing to pack: the vehicle may leave at once
        if x.route_id is not None:
            replannable.add(x.route_id)
        parcels.append(
            Parcel(
                id=x.id,
                order_id=x.order_id,
                merchant_id=x.merchant_id,
                hub_id=x.hub_id,
                status=x.status,
                version=x.version,
                route_id=x.route_id,
                point=destination(x),
                weight_g=weight,
                volume_cm3=vol,
                dims_mm=(int(dims[0]), int(dims[1]), int(dims[2])),
                ready_at=ready,
                packed=x.packed_at is not None or pickup,
                window=window,
                service_extra_s=extra,
                tracking_token=x.tracking_token,
                pickup=pickup,
            )
        )
    return parcels, sorted(replannable)


def _types(conn: Connection) -> dict[str, tuple[str, VehicleTypeSpec]]:
    return {
        r.id: (r.mode, spec_from_row(r.mode, r.spec))
        for r in conn.execute(select(vehicle_types_table))
    }


def _own_fleet(conn: Connection, hubs: dict[str, HubInfo], now: datetime) -> list[Free]:
    """Every vehicle and employee shift of the region's hubs that works in the horizon."""
    types = _types(conn)
    v, sh, c = vehicles_table.c, shifts_table.c, couriers_table.c
    vehicles = conn.execute(
        select(vehicles_table).where(v.hub_id.in_(list(hubs)), v.active).order_by(v.id)
    ).all()
    shifts = conn.execute(
        select(shifts_table, c.kind)
        .join(couriers_table, c.id == sh.courier_id)
        .where(
            sh.vehicle_id.in_([x.id for x in vehicles]),
            sh.ends_at > now,
            sh.starts_at < now + HORIZON,
            sh.ended_at.is_(None),
            c.kind == CourierKind.EMPLOYEE.value,
        )
        .order_by(sh.starts_at)
    ).all()
    by_vehicle: dict[str, list[Any]] = {}
    for s in shifts:
        by_vehicle.setdefault(s.vehicle_id, []).append(s)
    free: list[Free] = []
    for x in vehicles:
        type_id = x.type_id
        _, spec = types[type_id]
        if spec.needs_driver:
            for s in by_vehicle.get(x.id, []):
                free.append(
                    Free(
                        f"{x.id}/{s.id}",
                        x.hub_id,
                        spec,
                        type_id,
                        max(now, s.starts_at),
                        s.ends_at,
                        x.id,
                        s.courier_id,
                        s.id,
                    )
                )
        elif (window := hubs[x.hub_id].open_window(now)) is not None:
            free.append(Free(x.id, x.hub_id, spec, type_id, *window, x.id, None, None))
    return free


def _under_way(
    conn: Connection, region: str, now: datetime, free: list[Free], hubs: dict[str, HubInfo]
) -> tuple[list[UnderWay], list[Free]]:
    """Started routes take their vehicle (or shift) out of the free list and come back
    as vehicles that start where they are now, with their parcels on board."""
    r, st = routes_table.c, route_stops_table.c
    started = conn.execute(
        select(routes_table).where(r.region == region, r.status == RouteStatus.STARTED.value)
    ).all()
    if not started:
        return [], free
    by_vehicle = {f.vehicle_id: f for f in free if f.courier_id is None}
    by_courier = {f.courier_id: f for f in free if f.courier_id is not None}
    taken: set[str] = set()
    out: list[UnderWay] = []
    for route in started:
        stops = conn.execute(
            select(route_stops_table).where(st.route_id == route.id).order_by(st.seq)
        ).all()
        own = by_courier.get(route.courier_id) if route.courier_id else None
        own = own or by_vehicle.get(route.vehicle_id)
        if own is None:
            continue  # a gig courier's route, or a shift that ended: leave it as it is
        taken.add(own.key)
        done = [x for x in stops if x.status != StopStatus.PLANNED.value]
        arrived = [x for x in stops if x.status == StopStatus.ARRIVED.value]
        position = _position(conn, route, done, hubs)
        busy = now + timedelta(minutes=own.spec.service_minutes) if arrived else now
        out.append(
            UnderWay(
                route_id=route.id,
                free=own,
                position=position,
                busy_until=busy,
                remaining=[dict(x._mapping) for x in stops if x.status == StopStatus.PLANNED.value],
                last_seq=max((x.seq for x in stops), default=0),
                trips=max((x.trip for x in stops), default=1),
            )
        )
    return out, [f for f in free if f.key not in taken]


def _position(conn: Connection, route: Any, done: list[Any], hubs: dict[str, HubInfo]) -> LatLng:
    c, v = couriers_table.c, vehicles_table.c
    if route.courier_id:
        pos = conn.execute(select(c.lat, c.lng).where(c.id == route.courier_id)).first()
    else:
        pos = conn.execute(select(v.lat, v.lng).where(v.id == route.vehicle_id)).first()
    if pos is not None and pos.lat is not None:
        return LatLng(pos.lat, pos.lng)
    if done:
        return LatLng(done[-1].lat, done[-1].lng)
    return hubs[route.hub_id].point


def _gig(conn: Connection, hubs: dict[str, HubInfo], now: datetime) -> list[Free]:
    """Gig couriers on shift (or available now) with no route or open offer."""
    c, sh, r, o = couriers_table.c, shifts_table.c, routes_table.c, offers_table.c
    busy_routes = select(r.courier_id).where(
        r.courier_id.is_not(None),
        r.status.in_([RouteStatus.ACCEPTED.value, RouteStatus.STARTED.value]),
    )
    open_offers = select(o.courier_id).where(o.status == "open")
    rows = conn.execute(
        select(couriers_table, sh.id.label("shift_id"), sh.ends_at)
        .join(shifts_table, sh.courier_id == c.id)
        .where(
            c.kind == CourierKind.GIG.value,
            c.hub_id.in_(list(hubs)),
            sh.starts_at <= now,
            sh.ends_at > now,
            sh.ended_at.is_(None),
            c.id.not_in(busy_routes),
            c.id.not_in(open_offers),
        )
        .order_by(c.id)
    ).all()
    return [
        Free(
            f"gig/{x.id}",
            x.hub_id,
            DEFAULTS[Mode(x.mode)],
            f"gig_{x.mode}",
            now,
            x.ends_at,
            None,
            x.id,
            x.shift_id,
        )
        for x in rows
    ]


def _carriers(conn: Connection) -> list[Carrier]:
    c = carriers_table.c
    return [
        Carrier(x.id, x.name, x.rate_card, x.handoff_cutoff)
        for x in conn.execute(select(carriers_table).where(c.active).order_by(c.id))
    ]


def _on_board(
    conn: Connection, under_way: list[UnderWay], now: datetime, cfg: Any
) -> dict[str, Parcel]:
    ids = [x["shipment_id"] for u in under_way for x in u.remaining]
    if not ids:
        return {}
    s, o = shipments_table.c, orders_table.c
    rows = conn.execute(
        select(shipments_table, o.lat, o.lng, o.promise, o.created_at.label("ordered_at"))
        .join(orders_table, o.id == s.order_id)
        .where(s.id.in_(ids))
    ).all()
    out = {}
    for x in rows:
        out[x.id] = Parcel(
            id=x.id,
            order_id=x.order_id,
            merchant_id=x.merchant_id,
            hub_id=x.hub_id,
            status=x.status,
            version=x.version,
            route_id=x.route_id,
            point=destination(x),
            weight_g=x.weight_g or 1000,
            volume_cm3=x.volume_cm3 or 1,
            dims_mm=tuple(x.dims_mm or DEFAULT_DIMS),
            ready_at=now,
            packed=True,
            window=delivery_window(x.promise, x.ordered_at, cfg),
            service_extra_s=0,
        )
    return out


RECENT = timedelta(hours=24)
RATE_WINDOW = timedelta(hours=2)
RECENT_PER_HUB = 300


def _recent(
    conn: Connection, hubs: dict[str, HubInfo], now: datetime, cfg: Any
) -> tuple[dict[str, list[Recent]], dict[str, float]]:
    """Each hub's parcels of the last day (where to, window shape) and its recent rate."""
    s, o = shipments_table.c, orders_table.c
    rows = conn.execute(
        select(s.hub_id, s.created_at, o.lat, o.lng, o.promise)
        .join(orders_table, o.id == s.order_id)
        .where(s.hub_id.in_(list(hubs)), s.created_at > now - RECENT, s.created_at <= now)
        .order_by(s.created_at.desc())
    ).all()
    recent: dict[str, list[Recent]] = {}
    counts: dict[str, int] = {}
    for x in rows:
        if x.created_at > now - RATE_WINDOW:
            counts[x.hub_id] = counts.get(x.hub_id, 0) + 1
        mine = recent.setdefault(x.hub_id, [])
        if len(mine) < RECENT_PER_HUB:
            start, end = delivery_window(x.promise, x.created_at, cfg)
            opens = max(0, int((start - x.created_at).total_seconds()))
            mine.append(Recent(LatLng(x.lat, x.lng), opens, int((end - start).total_seconds())))
    rate = {h: n / RATE_WINDOW.total_seconds() for h, n in counts.items()}
    return recent, rate


def read_snapshot(
    conn: Connection, region: str, now: datetime, cfg: Any, *, history: bool = False
) -> Snapshot:
    hubs = _hubs(conn, region)
    parcels, replannable = _parcels(conn, region, now, cfg)
    under_way, free = _under_way(conn, region, now, _own_fleet(conn, hubs, now), hubs)
    recent, rate = _recent(conn, hubs, now, cfg) if history else ({}, {})
    return Snapshot(
        region=region,
        now=now,
        hubs=hubs,
        parcels=parcels,
        replannable=replannable,
        free=free,
        under_way=under_way,
        gig=_gig(conn, hubs, now),
        carriers=_carriers(conn),
        on_board=_on_board(conn, under_way, now, cfg),
        recent=recent,
        rate=rate,
    )
