"""The dispatcher's hand on a plan: move a planned stop to another route of the same
hub before either leaves, or give a route to another courier. The planner's rules that
a move can break (what the vehicle carries, how far it may go, what one parcel may
weigh) are checked first; both routes are taken by a conditional UPDATE on their
version, in id order, so two desks moving stops at once cannot both win."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update

from hubflow.core.clock import iso_z
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, InvalidInput, NotFound
from hubflow.core.events import Event, record
from hubflow.core.geo import LatLng, haversine_km
from hubflow.delivery.eta import SERVICE_S, route_spec
from hubflow.delivery.fleet import VehicleTypeSpec
from hubflow.delivery.model import RouteStatus, ShipmentStatus, StopStatus, check_route
from hubflow.delivery.store import couriers_table, route_stops_table, routes_table, shifts_table
from hubflow.delivery.travel import GreatCircleTravel, TravelProfile
from hubflow.network.store import hubs_table
from hubflow.orders.store import shipments_table

__all__ = ["Load", "move_stop", "move_violations", "reassign_route"]

MOVABLE = (RouteStatus.PLANNED.value, RouteStatus.ACCEPTED.value)


@dataclass(frozen=True)
class Load:
    parcels: int
    weight_g: int
    volume_cm3: int


def move_violations(
    spec: VehicleTypeSpec, load: Load, parcel: Load, hub_to_door_km: float
) -> list[str]:
    """Why ``parcel`` cannot join a trip already carrying ``load`` (empty: it can)."""
    out = []
    if load.parcels + 1 > spec.capacity_parcels:
        out.append(f"capacity: the vehicle carries at most {spec.capacity_parcels} parcels")
    if load.weight_g + parcel.weight_g > spec.capacity_weight_g:
        out.append(f"capacity: over the vehicle's {spec.capacity_weight_g} g")
    if load.volume_cm3 + parcel.volume_cm3 > spec.capacity_volume_cm3:
        out.append(f"capacity: over the vehicle's {spec.capacity_volume_cm3} cm3")
    if spec.max_parcel_weight_g is not None and parcel.weight_g > spec.max_parcel_weight_g:
        out.append(f"parcel: heavier than the {spec.max_parcel_weight_g} g this mode carries")
    if spec.radius_km is not None and hub_to_door_km > spec.radius_km:
        out.append(f"radius: {hub_to_door_km:.1f} km from the hub, over {spec.radius_km} km")
    return out


def _route(conn: Connection, route_id: str) -> dict[str, Any]:
    row = conn.execute(select(routes_table).where(routes_table.c.id == route_id)).first()
    if row is None:
        raise NotFound(f"route {route_id} not found", code="route_not_found")
    return dict(row._mapping)


def _take(conn: Connection, route: dict[str, Any], now: datetime) -> None:
    """Claim the route for this change: it must still be as read and not under way."""
    r = routes_table.c
    res = conn.execute(
        update(routes_table)
        .where(r.id == route["id"], r.version == route["version"], r.status.in_(MOVABLE))
        .values(version=r.version + 1, updated_at=now)
    )
    if res.rowcount != 1:
        raise Conflict("the route changed meanwhile; read it again", code="concurrent_update")
    route["version"] += 1


def _trip_load(conn: Connection, route_id: str, trip: int) -> Load:
    st, s = route_stops_table.c, shipments_table.c
    row = conn.execute(
        select(
            func.count(),
            func.coalesce(func.sum(s.weight_g), 0),
            func.coalesce(func.sum(s.volume_cm3), 0),
        )
        .select_from(route_stops_table.join(shipments_table, s.id == st.shipment_id))
        .where(st.route_id == route_id, st.trip == trip, st.status == StopStatus.PLANNED.value)
    ).one()
    return Load(int(row[0]), int(row[1]), int(row[2]))


class _Leg:
    """Going from ``a`` to ``b`` by way of the stop ``via``, by the travel model: the two
    legs' durations, and the extra metres and seconds (with the stop's service) that the
    stop costs over going from ``a`` to ``b`` straight."""

    def __init__(self, spec: VehicleTypeSpec, a: LatLng, via: LatLng, b: LatLng) -> None:
        profile = TravelProfile(spec.mode.value, spec.speed_kmh, spec.circuity, spec.straight_line)
        dist, dur = GreatCircleTravel().matrices([a, via, b], profile)
        self.to_stop_s, self.from_stop_s = int(dur[0, 1]), int(dur[1, 2])
        self.detour_m = max(0, int(dist[0, 1] + dist[1, 2] - dist[0, 2]))
        self.detour_s = max(0, int(dur[0, 1] + SERVICE_S + dur[1, 2] - dur[0, 2]))


def _shorten_source(
    conn: Connection, route: dict[str, Any], stop: dict[str, Any], home: LatLng
) -> None:
    """The route loses ``stop``: it drives the detour's metres less, the stops after it on
    its trip come that much sooner, and so does the route's end when that trip is its last.
    Later trips keep their times: they leave when the vehicle is reloaded, which may be
    waiting for parcels still being packed."""
    st, s = route_stops_table.c, shipments_table.c
    trip = (
        select(st.id, st.seq, st.lat, st.lng, st.shipment_id, st.eta, st.planned_arrival)
        .where(st.route_id == route["id"], st.trip == stop["trip"], st.id != stop["id"],
               st.status == StopStatus.PLANNED.value)
        .order_by(st.seq)
    )  # fmt: skip
    rows = conn.execute(trip).all()
    before = [x for x in rows if x.seq < stop["seq"]]
    after = [x for x in rows if x.seq > stop["seq"]]
    a = LatLng(before[-1].lat, before[-1].lng) if before else home
    b = LatLng(after[0].lat, after[0].lng) if after else home
    leg = _Leg(route_spec(conn, route), a, LatLng(stop["lat"], stop["lng"]), b)
    sooner = timedelta(seconds=leg.detour_s)
    for x in after:
        conn.execute(
            update(route_stops_table)
            .where(st.id == x.id)
            .values(eta=x.eta - sooner, planned_arrival=x.planned_arrival - sooner)
        )
        conn.execute(
            update(shipments_table).where(s.id == x.shipment_id).values(eta=x.eta - sooner)
        )
    last_trip = conn.execute(
        select(func.max(st.trip)).where(
            st.route_id == route["id"], st.id != stop["id"], st.status == StopStatus.PLANNED.value
        )
    ).scalar()
    # The route was taken by its version (``_take``): what was read is what is there.
    values: dict[str, Any] = {"distance_m": max(0, route["distance_m"] - leg.detour_m)}
    if last_trip is not None and last_trip <= stop["trip"]:
        values["planned_end"] = max(route["planned_start"], route["planned_end"] - sooner)
    conn.execute(update(routes_table).where(routes_table.c.id == route["id"]).values(**values))


def move_stop(
    uow: UnitOfWork, route_id: str, stop_id: str, to_route_id: str, now: datetime
) -> dict[str, Any]:
    """Move the stop to the end of the other route's last trip; a route left with no
    stops is cancelled. Answers the stop's new place and ETA."""
    conn = uow.conn
    if route_id == to_route_id:
        raise InvalidInput("the stop is already on that route", code="same_route")
    src, dst = _route(conn, route_id), _route(conn, to_route_id)
    for route in (src, dst):
        if route["status"] not in MOVABLE:
            raise Conflict(
                f"route {route['id']} is {route['status']}: only planned or accepted routes change",
                code="route_not_movable",
                details={"route_id": route["id"], "status": route["status"]},
            )
    if src["hub_id"] != dst["hub_id"]:
        raise Conflict("both routes must leave from the same hub", code="other_hub")
    st = route_stops_table.c
    stop = conn.execute(
        select(route_stops_table).where(st.id == stop_id, st.route_id == route_id)
    ).first()
    if stop is None:
        raise NotFound(f"stop {stop_id} not found on route {route_id}", code="stop_not_found")
    if stop.status != StopStatus.PLANNED.value:
        raise Conflict("only a planned stop can move", code="stop_out_of_order")
    ship = dict(
        conn.execute(select(shipments_table).where(shipments_table.c.id == stop.shipment_id))
        .one()
        ._mapping
    )
    if ship["status"] != ShipmentStatus.ASSIGNED.value:
        raise Conflict("the parcel is not waiting on this route", code="parcel_not_assigned")
    for route in sorted((src, dst), key=lambda r: r["id"]):  # a fixed order: no deadlock
        _take(conn, route, now)
    last = conn.execute(
        select(st.seq, st.trip, st.lat, st.lng, st.eta)
        .where(st.route_id == to_route_id)
        .order_by(st.seq.desc())
        .limit(1)
    ).first()
    trip = last.trip if last is not None else 1
    hub = conn.execute(
        select(hubs_table.c.lat, hubs_table.c.lng).where(hubs_table.c.id == dst["hub_id"])
    ).one()
    door = LatLng(stop.lat, stop.lng)
    spec = route_spec(conn, dst)
    parcel = Load(1, ship["weight_g"] or 0, ship["volume_cm3"] or 0)
    reach = haversine_km(LatLng(hub.lat, hub.lng), door)
    problems = move_violations(spec, _trip_load(conn, to_route_id, trip), parcel, reach)
    if problems:
        raise Conflict(
            "the other route cannot take this stop", code="move_infeasible", details=problems
        )
    # The new ETA: after the route's last stop (or its start), by the travel model.
    home = LatLng(hub.lat, hub.lng)
    frm = LatLng(last.lat, last.lng) if last is not None else home
    leg = _Leg(spec, frm, door, home)
    start = last.eta + timedelta(seconds=SERVICE_S) if last is not None else dst["planned_start"]
    eta = start + timedelta(seconds=leg.to_stop_s)
    _shorten_source(conn, src, dict(stop._mapping), home)
    conn.execute(
        update(route_stops_table)
        .where(st.id == stop_id, st.route_id == route_id, st.status == StopStatus.PLANNED.value)
        .values(route_id=to_route_id, seq=(last.seq + 1) if last else 1, trip=trip,
                planned_arrival=eta, eta=eta)
    )  # fmt: skip
    back = eta + timedelta(seconds=SERVICE_S + leg.from_stop_s)
    conn.execute(
        update(routes_table)
        .where(routes_table.c.id == to_route_id)
        .values(planned_end=max(back, dst["planned_end"]),  # the route now ends later
                distance_m=dst["distance_m"] + leg.detour_m)
    )  # fmt: skip
    s = shipments_table.c
    res = conn.execute(
        update(shipments_table)
        .where(s.id == ship["id"], s.version == ship["version"], s.status == ship["status"])
        .values(route_id=to_route_id, eta=eta, version=s.version + 1, updated_at=now)
    )
    if res.rowcount != 1:
        raise Conflict("the parcel changed meanwhile; read it again", code="concurrent_update")
    left = select(st.id).where(st.route_id == route_id, st.status == StopStatus.PLANNED.value)
    if conn.execute(left.limit(1)).first() is None:
        check_route(RouteStatus(src["status"]), RouteStatus.CANCELLED)
        conn.execute(
            update(routes_table)
            .where(routes_table.c.id == route_id)
            .values(status=RouteStatus.CANCELLED.value, version=routes_table.c.version + 1)
        )
    record(
        conn,
        [Event("shipment.rerouted", ship["id"], ship["merchant_id"],
               {"shipment": {"id": ship["id"], "order_id": ship["order_id"]},
                "from_route_id": route_id, "route_id": to_route_id, "eta": iso_z(eta)})],
        now,
    )  # fmt: skip
    return {"stop_id": stop_id, "route_id": to_route_id, "eta": iso_z(eta), "trip": trip}


def reassign_route(
    uow: UnitOfWork, route_id: str, courier_id: str, now: datetime
) -> dict[str, Any]:
    """Give an own-fleet route that has not left to another employee of its hub, who must
    have a shift covering it and no other route at the same time. The courier's row is
    taken by a conditional UPDATE (its version), so two desks cannot both give that
    courier overlapping routes."""
    conn = uow.conn
    route = _route(conn, route_id)
    if route["status"] not in MOVABLE:
        raise Conflict(
            f"the route is {route['status']}: only planned or accepted routes change hands",
            code="route_not_movable",
        )
    if route["vehicle_id"] is None:
        raise Conflict(
            "a gig courier's route goes back through an offer, not a reassignment",
            code="gig_route",
        )
    c = couriers_table.c
    courier = conn.execute(select(couriers_table).where(c.id == courier_id)).first()
    if courier is None:
        raise NotFound(f"courier {courier_id} not found", code="courier_not_found")
    if courier.id == route["courier_id"]:
        raise InvalidInput("the route is already this courier's", code="same_courier")
    if courier.kind != "employee" or courier.hub_id != route["hub_id"]:
        raise Conflict("only an employee of the route's hub can take it", code="not_eligible")
    start, end = route["planned_start"], route["planned_end"]
    sh = shifts_table.c
    shift = conn.execute(
        select(sh.id).where(
            sh.courier_id == courier_id, sh.starts_at <= start, sh.ends_at >= end,
            sh.ended_at.is_(None),
        )
    ).first()  # fmt: skip
    if shift is None:
        raise Conflict("the courier has no shift covering the route", code="no_shift")
    r = routes_table.c
    busy = conn.execute(
        select(r.id).where(
            r.courier_id == courier_id, r.status.in_([*MOVABLE, RouteStatus.STARTED.value]),
            r.planned_start < end, r.planned_end > start,
        )
    ).first()  # fmt: skip
    if busy is not None:
        raise Conflict(
            "the courier has another route at that time",
            code="courier_busy",
            details={"route_id": busy.id},
        )
    taken = conn.execute(
        update(couriers_table)
        .where(c.id == courier_id, c.version == courier.version)
        .values(version=c.version + 1)
    )
    if taken.rowcount != 1:
        raise Conflict("the courier changed meanwhile; try again", code="concurrent_update")
    _take(conn, route, now)
    conn.execute(update(routes_table).where(r.id == route_id).values(courier_id=courier_id))
    return {"route_id": route_id, "courier_id": courier_id, "previous": route["courier_id"]}
