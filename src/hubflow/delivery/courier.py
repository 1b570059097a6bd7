"""What couriers (and self-driving vehicles, through the operator) do: shifts, locations,
offers, loading at the hub, arriving, delivering with proof, failing with a reason, and
coming back. Each call is one transaction whose updates are conditional on the state
read, so events out of order get 409 and two devices cannot both act on one stop."""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Update, bindparam, insert, select, update

from hubflow.catalog.model import Role
from hubflow.catalog.service import Principal
from hubflow.core.clock import iso_z
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, InvalidInput, NotFound
from hubflow.core.geo import LatLng, haversine_km
from hubflow.core.ids import new_id
from hubflow.delivery.eta import recompute_etas
from hubflow.delivery.fleet import CourierKind
from hubflow.delivery.model import (
    FailReason,
    ProofPolicy,
    RouteStatus,
    ShipmentStatus,
    StopStatus,
    check_route,
    check_stop,
)
from hubflow.delivery.orders_sync import sync_order
from hubflow.delivery.store import (
    couriers_table,
    offers_table,
    proofs_table,
    route_stops_table,
    routes_table,
    shifts_table,
    vehicles_table,
)
from hubflow.delivery.tracking import move, shipment_row, shipment_rows, track
from hubflow.inventory import service as inventory
from hubflow.network.store import hubs_table
from hubflow.returns.pickup import mark_collected, pickup_called_off, still_to_collect
from hubflow.returns.service import receive_collected

__all__ = [
    "MAX_PIN_TRIES",
    "accept_offer",
    "arrive",
    "complete_route",
    "decline_offer",
    "deliver",
    "end_shift",
    "fail",
    "get_route",
    "list_offers",
    "list_routes",
    "pickup",
    "report_location",
    "spend_pin_try",
    "start_shift",
]

MAX_PROOF_BYTES = 512 * 1024
ARRIVING_WITHIN = timedelta(minutes=10)
# A failure the customer may fix by being there next time is worth another attempt.
RETRIABLE = {
    FailReason.NOT_AT_HOME,
    FailReason.ACCESS_DENIED,
    FailReason.UNSAFE,
    FailReason.PIN_NOT_GIVEN,
}


# -- who may act ------------------------------------------------------------------------------


def _courier(conn: Connection, who: Principal, courier_id: str) -> dict[str, Any]:
    if who.role is Role.COURIER and who.courier_id != courier_id:
        raise NotFound(f"courier {courier_id} not found", code="courier_not_found")
    row = conn.execute(select(couriers_table).where(couriers_table.c.id == courier_id)).first()
    if row is None:
        raise NotFound(f"courier {courier_id} not found", code="courier_not_found")
    return dict(row._mapping)


# The courier flows' reads and the stop's move, built once: every load, arrival and
# delivery runs them (the twin's profile had building statements cost more than running).
_ROUTE = select(routes_table).where(routes_table.c.id == bindparam("b_id"))
_STOP = select(route_stops_table).where(
    route_stops_table.c.id == bindparam("b_id"),
    route_stops_table.c.route_id == bindparam("b_route"),
)
_STOPS = (
    select(route_stops_table)
    .where(route_stops_table.c.route_id == bindparam("b_route"))
    .order_by(route_stops_table.c.seq)
)
_HUB = select(hubs_table.c.name, hubs_table.c.lat, hubs_table.c.lng).where(
    hubs_table.c.id == bindparam("b_id")
)
_MOVE_STOP = (
    update(route_stops_table)
    .where(
        route_stops_table.c.id == bindparam("b_id"),
        route_stops_table.c.status == bindparam("b_from"),
    )
    .values(status=bindparam("b_to"))
)


def _route(conn: Connection, who: Principal, route_id: str) -> dict[str, Any]:
    row = conn.execute(_ROUTE, {"b_id": route_id}).first()
    if row is None or (who.role is Role.COURIER and row.courier_id != who.courier_id):
        raise NotFound(f"route {route_id} not found", code="route_not_found")
    return dict(row._mapping)


def _stop(conn: Connection, route_id: str, stop_id: str) -> dict[str, Any]:
    row = conn.execute(_STOP, {"b_id": stop_id, "b_route": route_id}).first()
    if row is None:
        raise NotFound(f"stop {stop_id} not found on route {route_id}", code="stop_not_found")
    return dict(row._mapping)


def _move_route(
    conn: Connection, route: dict[str, Any], target: RouteStatus, now: datetime, **values: Any
) -> dict[str, Any]:
    check_route(RouteStatus(route["status"]), target)
    r = routes_table.c
    res = conn.execute(
        update(routes_table)
        .where(r.id == route["id"], r.version == route["version"])
        .values(status=target.value, version=r.version + 1, updated_at=now, **values)
    )
    if res.rowcount != 1:
        raise Conflict("the route changed meanwhile; read it again", code="concurrent_update")
    return {**route, **values, "status": target.value, "version": route["version"] + 1}


_STOP_MOVES: dict[tuple[str, ...], Update] = {(): _MOVE_STOP}


def _stop_move_setting(columns: tuple[str, ...]) -> Update:
    """The stop's move that also sets ``columns`` (``v_<column>`` parameters), built once."""
    stmt = _STOP_MOVES.get(columns)
    if stmt is None:
        st = route_stops_table.c
        stmt = _MOVE_STOP.values(**{k: bindparam(f"v_{k}", type_=st[k].type) for k in columns})
        _STOP_MOVES[columns] = stmt
    return stmt


def _move_stop(conn: Connection, stop: dict[str, Any], target: StopStatus, **values: Any) -> None:
    check_stop(StopStatus(stop["status"]), target)
    params = {"b_id": stop["id"], "b_from": stop["status"], "b_to": target.value}
    params.update({f"v_{k}": v for k, v in values.items()})
    res = conn.execute(_stop_move_setting(tuple(sorted(values))), params)
    if res.rowcount != 1:
        raise Conflict("the stop changed meanwhile; read it again", code="concurrent_update")


# -- shifts and locations ------------------------------------------------------------------------


def start_shift(uow: UnitOfWork, who: Principal, courier_id: str, now: datetime) -> dict[str, Any]:
    conn = uow.conn
    courier = _courier(conn, who, courier_id)
    if courier["on_shift"]:
        raise Conflict("the shift has already started", code="shift_already_started")
    sh = shifts_table.c
    # A shift may be started up to 30 minutes early.
    shift = conn.execute(
        select(shifts_table)
        .where(
            sh.courier_id == courier_id,
            sh.starts_at <= now + timedelta(minutes=30),
            sh.ends_at > now,
            sh.ended_at.is_(None),
        )
        .order_by(sh.starts_at)
    ).first()
    if shift is None:
        if courier["kind"] != CourierKind.GIG.value:
            raise Conflict("no shift is planned for now", code="no_shift_now")
        # Gig couriers come online when they like: four hours of availability.
        shift_id = new_id("sft")
        conn.execute(
            insert(shifts_table).values(
                id=shift_id,
                courier_id=courier_id,
                vehicle_id=None,
                starts_at=now,
                ends_at=now + timedelta(hours=4),
                started_at=now,
            )
        )
    else:
        shift_id = shift.id
        conn.execute(update(shifts_table).where(sh.id == shift.id).values(started_at=now))
    _set_courier(conn, courier, on_shift=True)
    return {"courier_id": courier_id, "shift_id": shift_id, "on_shift": True}


def _set_courier(conn: Connection, courier: dict[str, Any], **values: Any) -> None:
    c = couriers_table.c
    res = conn.execute(
        update(couriers_table)
        .where(c.id == courier["id"], c.version == courier["version"])
        .values(version=c.version + 1, **values)
    )
    if res.rowcount != 1:
        raise Conflict("the courier changed meanwhile; try again", code="concurrent_update")


def end_shift(uow: UnitOfWork, who: Principal, courier_id: str, now: datetime) -> dict[str, Any]:
    conn = uow.conn
    courier = _courier(conn, who, courier_id)
    if not courier["on_shift"]:
        raise Conflict("the shift has not started", code="shift_not_started")
    r = routes_table.c
    busy = conn.execute(
        select(r.id).where(r.courier_id == courier_id, r.status == RouteStatus.STARTED.value)
    ).first()
    if busy is not None:
        raise Conflict(
            "finish the route under way first",
            code="route_in_progress",
            details={"route_id": busy.id},
        )
    sh = shifts_table.c
    conn.execute(
        update(shifts_table)
        .where(sh.courier_id == courier_id, sh.started_at.is_not(None), sh.ended_at.is_(None))
        .values(ended_at=now)
    )
    # Routes planned for this courier go back to the planner.
    for route in conn.execute(
        select(routes_table).where(
            r.courier_id == courier_id,
            r.status.in_([RouteStatus.PLANNED.value, RouteStatus.ACCEPTED.value]),
        )
    ).all():
        _unplan(conn, dict(route._mapping), now)
    _set_courier(conn, courier, on_shift=False)
    return {"courier_id": courier_id, "on_shift": False}


def _unplan(conn: Connection, route: dict[str, Any], now: datetime) -> None:
    _move_route(conn, route, RouteStatus.CANCELLED, now)
    st = route_stops_table.c
    for stop in conn.execute(
        select(route_stops_table).where(st.route_id == route["id"], st.status == "planned")
    ).all():
        _move_stop(conn, dict(stop._mapping), StopStatus.SKIPPED)
        unplan_shipment(conn, shipment_row(conn, stop.shipment_id), now)


def unplan_shipment(conn: Connection, ship: dict[str, Any], now: datetime) -> None:
    """A planned parcel back to waiting for the planner: ready if packed, else pending."""
    if ship["status"] in (ShipmentStatus.ASSIGNED.value, ShipmentStatus.OFFERED.value):
        back = ShipmentStatus.READY if ship["packed_at"] else ShipmentStatus.PENDING
        move(conn, ship, back, now, route_id=None, eta=None)


def report_location(
    uow: UnitOfWork, who: Principal, courier_id: str, point: LatLng, now: datetime
) -> dict[str, Any]:
    conn = uow.conn
    courier = _courier(conn, who, courier_id)
    if not courier["on_shift"]:
        raise Conflict("start the shift before sending locations", code="shift_not_started")
    c = couriers_table.c
    conn.execute(
        update(couriers_table)
        .where(c.id == courier_id)
        .values(lat=point.lat, lng=point.lng, located_at=now)
    )
    r = routes_table.c
    route = conn.execute(
        select(routes_table).where(r.courier_id == courier_id, r.status == "started")
    ).first()
    etas: list[dict[str, Any]] = []
    if route is not None:
        if route.vehicle_id:
            v = vehicles_table.c
            conn.execute(
                update(vehicles_table)
                .where(v.id == route.vehicle_id)
                .values(lat=point.lat, lng=point.lng, located_at=now)
            )
        etas = recompute_etas(conn, dict(route._mapping), point, now, ARRIVING_WITHIN)
    return {"courier_id": courier_id, "route_id": route.id if route else None, "etas": etas}


def report_vehicle_location(
    uow: UnitOfWork, vehicle_id: str, point: LatLng, now: datetime
) -> dict[str, Any]:
    """Self-driving vehicles report through the operator's integration."""
    conn = uow.conn
    v = vehicles_table.c
    if conn.execute(select(v.id).where(v.id == vehicle_id)).first() is None:
        raise NotFound(f"vehicle {vehicle_id} not found", code="vehicle_not_found")
    conn.execute(
        update(vehicles_table)
        .where(v.id == vehicle_id)
        .values(lat=point.lat, lng=point.lng, located_at=now)
    )
    r = routes_table.c
    route = conn.execute(
        select(routes_table).where(
            r.vehicle_id == vehicle_id, r.status == "started", r.courier_id.is_(None)
        )
    ).first()
    etas = recompute_etas(conn, dict(route._mapping), point, now, ARRIVING_WITHIN) if route else []
    return {"vehicle_id": vehicle_id, "route_id": route.id if route else None, "etas": etas}


# -- offers -------------------------------------------------------------------------------------


def list_offers(
    conn: Connection, who: Principal, courier_id: str, now: datetime
) -> list[dict[str, Any]]:
    _courier(conn, who, courier_id)
    o, r = offers_table.c, routes_table.c
    rows = conn.execute(
        select(offers_table, r.planned_start, r.distance_m, r.hub_id)
        .join(routes_table, r.id == o.route_id)
        .where(o.courier_id == courier_id, o.status == "open", o.expires_at > now)
        .order_by(o.created_at)
    ).all()
    return [
        {
            "id": x.id,
            "route_id": x.route_id,
            "pay": x.pay,
            "hub_id": x.hub_id,
            "distance_m": x.distance_m,
            "starts_at": iso_z(x.planned_start),
            "expires_at": iso_z(x.expires_at),
            "route": get_route(conn, who, x.route_id, force=True),
        }
        for x in rows
    ]


def _offer(conn: Connection, who: Principal, offer_id: str) -> dict[str, Any]:
    row = conn.execute(select(offers_table).where(offers_table.c.id == offer_id)).first()
    if row is None or (who.role is Role.COURIER and row.courier_id != who.courier_id):
        raise NotFound(f"offer {offer_id} not found", code="offer_not_found")
    return dict(row._mapping)


def _answer(conn: Connection, offer: dict[str, Any], status: str, now: datetime) -> None:
    o = offers_table.c
    res = conn.execute(
        update(offers_table)
        .where(o.id == offer["id"], o.status == "open", o.expires_at > now)
        .values(status=status, answered_at=now)
    )
    if res.rowcount != 1:
        fresh = conn.execute(select(o.status, o.expires_at).where(o.id == offer["id"])).one()
        code = "offer_expired" if fresh.status in ("open", "expired") else "offer_answered"
        raise Conflict(f"the offer is no longer open ({fresh.status})", code=code)


def accept_offer(uow: UnitOfWork, who: Principal, offer_id: str, now: datetime) -> dict[str, Any]:
    conn = uow.conn
    offer = _offer(conn, who, offer_id)
    _answer(conn, offer, "accepted", now)
    route = _route(conn, Principal(Role.OPERATOR, "", None), offer["route_id"])
    _move_route(conn, route, RouteStatus.ACCEPTED, now, courier_id=offer["courier_id"])
    st = route_stops_table.c
    for stop in conn.execute(select(route_stops_table).where(st.route_id == route["id"])).all():
        ship = shipment_row(conn, stop.shipment_id)
        move(
            conn,
            ship,
            ShipmentStatus.ASSIGNED,
            now,
            kind="assigned",
            details={"eta": iso_z(stop.eta), "mode": route["mode"]},
        )
    return get_route(conn, who, route["id"], force=True)


def decline_offer(uow: UnitOfWork, who: Principal, offer_id: str, now: datetime) -> dict[str, Any]:
    from hubflow.delivery.offers import reoffer

    conn = uow.conn
    offer = _offer(conn, who, offer_id)
    _answer(conn, offer, "declined", now)
    next_offer = reoffer(conn, offer["route_id"], now)
    return {"offer_id": offer_id, "status": "declined", "next": next_offer}


# -- the route ---------------------------------------------------------------------------------


def get_route(
    conn: Connection, who: Principal, route_id: str, *, force: bool = False
) -> dict[str, Any]:
    route = _route(conn, Principal(Role.OPERATOR, "", None) if force else who, route_id)
    stops = conn.execute(_STOPS, {"b_route": route_id}).all()
    hub = conn.execute(_HUB, {"b_id": route["hub_id"]}).one()
    return {
        "id": route["id"],
        "status": route["status"],
        "mode": route["mode"],
        "hub": {
            "id": route["hub_id"],
            "name": hub.name,
            "location": {"lat": hub.lat, "lng": hub.lng},
        },
        "vehicle_id": route["vehicle_id"],
        "courier_id": route["courier_id"],
        "planned_start": iso_z(route["planned_start"]),
        "planned_end": iso_z(route["planned_end"]),
        "distance_m": route["distance_m"],
        "cost": route["cost"],
        "stops": [
            {
                "id": s.id,
                "seq": s.seq,
                "trip": s.trip,
                "shipment_id": s.shipment_id,
                "status": s.status,
                "location": {"lat": s.lat, "lng": s.lng},
                "planned_arrival": iso_z(s.planned_arrival),
                "eta": iso_z(s.eta),
                "fail_reason": s.fail_reason,
                "navigate": f"https://www.openstreetmap.org/directions?to={s.lat}%2C{s.lng}",
            }
            for s in stops
            if s.status != StopStatus.SKIPPED.value
        ],
    }


def list_routes(conn: Connection, who: Principal, courier_id: str) -> list[dict[str, Any]]:
    _courier(conn, who, courier_id)
    r = routes_table.c
    ids = conn.execute(
        select(r.id)
        .where(r.courier_id == courier_id, r.status.in_(["planned", "accepted", "started"]))
        .order_by(r.planned_start)
    ).scalars()
    return [get_route(conn, who, i, force=True) for i in ids]


_st = route_stops_table.c
_ON_SHIFT = select(couriers_table.c.on_shift).where(couriers_table.c.id == bindparam("b_id"))
_PLANNED_STOPS = (
    select(route_stops_table)
    .where(_st.route_id == bindparam("b_route"), _st.status == "planned")
    .order_by(_st.seq)
)
_ARRIVED_STOP = select(_st.id).where(_st.route_id == bindparam("b_route"), _st.status == "arrived")


def pickup(uow: UnitOfWork, who: Principal, route_id: str, now: datetime) -> dict[str, Any]:
    """Load the next trip's parcels at the hub and leave. All must be packed."""
    conn = uow.conn
    route = _route(conn, who, route_id)
    if route["courier_id"] is not None:
        on = conn.execute(_ON_SHIFT, {"b_id": route["courier_id"]}).scalar()
        if not on:
            raise Conflict("start the shift before loading", code="shift_not_started")
    stops = conn.execute(_PLANNED_STOPS, {"b_route": route_id}).all()
    ships = shipment_rows(conn, [s.shipment_id for s in stops])
    for s in stops:  # orders cancelled since planning: nothing to load
        if ships[s.shipment_id]["status"] == ShipmentStatus.CANCELLED.value:
            _move_stop(conn, dict(s._mapping), StopStatus.SKIPPED)
    stops = [s for s in stops if ships[s.shipment_id]["status"] != ShipmentStatus.CANCELLED.value]
    if RouteStatus(route["status"]) is RouteStatus.STARTED:
        # A later trip: only when the last one is done and the vehicle is back.
        arrived = conn.execute(_ARRIVED_STOP, {"b_route": route_id}).first()
        if arrived is not None:
            raise Conflict("finish the stop you are at first", code="stop_in_progress")
        load = [s for s in stops if ships[s.shipment_id]["status"] == ShipmentStatus.ASSIGNED.value]
        if not load:
            raise Conflict("nothing left to load for this route", code="nothing_to_load")
        trip = min(s.trip for s in load)
        load = [s for s in load if s.trip == trip]
    else:
        if not stops:
            raise Conflict("nothing left to load for this route", code="nothing_to_load")
        route = _move_route(conn, route, RouteStatus.STARTED, now, started_at=now)
        trip = min((s.trip for s in stops), default=1)
        load = [s for s in stops if s.trip == trip]
    unpacked = [s.shipment_id for s in load if ships[s.shipment_id]["packed_at"] is None]
    if unpacked:
        raise Conflict(
            "some parcels are not packed yet", code="not_packed", details={"shipment_ids": unpacked}
        )
    for s in load:
        ship = ships[s.shipment_id]
        collecting = ship["direction"] == "return"
        ship = move(
            conn,
            ship,
            ShipmentStatus.OUT_FOR_DELIVERY,
            now,
            kind="out_for_collection" if collecting else "picked_up",
            details={"eta": iso_z(s.eta), "mode": route["mode"]},
        )
        if not collecting:  # a return's goods are at the customer's, not on our shelves
            inventory.ship_owner(uow, ship["order_id"], now, hub_id=ship["hub_id"])
            sync_order(uow, ship["order_id"], now)
    return get_route(conn, who, route_id, force=True)


def arrive(
    uow: UnitOfWork, who: Principal, route_id: str, stop_id: str, now: datetime
) -> dict[str, Any]:
    conn = uow.conn
    route = _route(conn, who, route_id)
    if route["status"] != RouteStatus.STARTED.value:
        raise Conflict("load the parcels at the hub first", code="route_not_started")
    stop = _stop(conn, route_id, stop_id)
    ship = shipment_row(conn, stop["shipment_id"])
    if ship["status"] != ShipmentStatus.OUT_FOR_DELIVERY.value:
        raise Conflict("this stop's parcel is not on board", code="parcel_not_on_board")
    st = route_stops_table.c
    other = conn.execute(
        select(st.id).where(st.route_id == route_id, st.status == "arrived", st.id != stop_id)
    ).first()
    if other is not None:
        raise Conflict(
            "finish the stop you are at first",
            code="stop_in_progress",
            details={"stop_id": other.id},
        )
    _move_stop(conn, stop, StopStatus.ARRIVED, arrived_at=now)
    if not _arriving_sent(conn, ship["id"]):
        track(conn, ship, "arriving", now, {"eta": iso_z(now)})
    return {
        "stop_id": stop_id,
        "status": StopStatus.ARRIVED.value,
        "proof": _policy(ship).as_json(),
    }


def _arriving_sent(conn: Connection, shipment_id: str) -> bool:
    from hubflow.delivery.store import tracking_events_table as t

    attempts_start = conn.execute(
        select(t.c.at)
        .where(t.c.shipment_id == shipment_id, t.c.kind == "picked_up")
        .order_by(t.c.at.desc())
        .limit(1)
    ).scalar()
    q = select(t.c.id).where(t.c.shipment_id == shipment_id, t.c.kind == "arriving")
    if attempts_start is not None:
        q = q.where(t.c.at >= attempts_start)
    return conn.execute(q.limit(1)).first() is not None


def _policy(ship: dict[str, Any]) -> ProofPolicy:
    return ProofPolicy.from_json(ship["proof"])


def _blob(value: str, what: str) -> bytes:
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"{what} is not valid base64", code="invalid_proof") from exc
    if not data or len(data) > MAX_PROOF_BYTES:
        raise InvalidInput(f"{what} must be 1 byte to 512 KiB", code="invalid_proof")
    return data


MAX_PIN_TRIES = 5


def deliver(
    uow: UnitOfWork,
    who: Principal,
    route_id: str,
    stop_id: str,
    proof: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    conn = uow.conn
    route = _route(conn, who, route_id)
    stop = _stop(conn, route_id, stop_id)
    if stop["status"] != StopStatus.ARRIVED.value:
        raise Conflict(
            "mark the stop arrived before delivering",
            code="stop_out_of_order",
            details={"status": stop["status"]},
        )
    ship = shipment_row(conn, stop["shipment_id"])
    if ship["direction"] == "return":
        return _collect(conn, route, stop, ship, now)
    policy = _policy(ship)
    missing = policy.missing(proof)
    if missing:
        raise InvalidInput(
            "proof of delivery is missing", code="proof_missing", details={"missing": missing}
        )
    if policy.pin and proof.get("pin") != ship["pin"]:
        # Parallel tries may have been counted since; the lock itself is spend_pin_try's.
        left = max(0, MAX_PIN_TRIES - stop["pin_tries"])
        raise InvalidInput(
            f"the PIN does not match; ask the customer again ({left} tries left)",
            code="wrong_pin",
            details={"tries_left": left},
        )
    kept = []
    for kind in ("photo", "signature"):
        raw = proof.get(f"{kind}_base64")
        if raw:
            data = _blob(raw, kind)
            digest = hashlib.sha256(data).hexdigest()
            conn.execute(
                insert(proofs_table).values(
                    id=new_id("pod"),
                    shipment_id=ship["id"],
                    kind=kind,
                    content_type=proof.get(f"{kind}_content_type") or "image/png",
                    sha256=digest,
                    content=data,
                    created_at=now,
                )
            )
            kept.append({"kind": kind, "sha256": digest})
    _move_stop(conn, stop, StopStatus.DELIVERED, done_at=now)
    details = {
        "proof": kept,
        "pin_checked": policy.pin,
        "age_checked": policy.min_age is not None,
        "left_at_door": policy.leave_at_door,
        "received_by": proof.get("received_by"),
    }
    move(conn, ship, ShipmentStatus.DELIVERED, now, kind="delivered", details=details, eta=None)
    sync_order(uow, ship["order_id"], now)
    return {"stop_id": stop_id, "status": StopStatus.DELIVERED.value, "route_id": route["id"]}


def spend_pin_try(uow: UnitOfWork, who: Principal, route_id: str, stop_id: str) -> None:
    """Count a PIN try at an arrived stop before the PIN is compared (in its own
    transaction, committed whatever the delivery does), so a courier, or a burst of
    requests, gets at most ``MAX_PIN_TRIES`` comparisons; then 409 ``pin_locked`` and
    the stop can only be failed. A stop no longer arrived is left to ``deliver`` (an
    idempotent replay, or the error it gives)."""
    conn = uow.conn
    _route(conn, who, route_id)
    st = route_stops_table.c
    tries = conn.execute(
        update(route_stops_table)
        .where(
            st.id == stop_id,
            st.route_id == route_id,
            st.status == StopStatus.ARRIVED.value,
            st.pin_tries < MAX_PIN_TRIES,
        )
        .values(pin_tries=st.pin_tries + 1)
        .returning(st.pin_tries)
    ).scalar()
    if tries is None and _stop(conn, route_id, stop_id)["status"] == StopStatus.ARRIVED.value:
        raise _pin_locked()


def _pin_locked() -> Conflict:
    return Conflict(
        f"{MAX_PIN_TRIES} wrong PINs at this stop; fail it (the customer can rebook)",
        code="pin_locked",
    )


def _collect(
    conn: Connection,
    route: dict[str, Any],
    stop: dict[str, Any],
    ship: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """At a return's stop "deliver" means the customer handed the goods over."""
    _move_stop(conn, stop, StopStatus.DELIVERED, done_at=now)
    move(conn, ship, ShipmentStatus.COLLECTED, now, kind="collected", eta=None)
    mark_collected(conn, ship["return_id"], now)
    return {"stop_id": stop["id"], "status": "collected", "route_id": route["id"]}


def fail(
    uow: UnitOfWork,
    who: Principal,
    route_id: str,
    stop_id: str,
    reason: FailReason,
    note: str | None,
    now: datetime,
) -> dict[str, Any]:
    conn = uow.conn
    _route(conn, who, route_id)
    stop = _stop(conn, route_id, stop_id)
    if stop["status"] != StopStatus.ARRIVED.value:
        raise Conflict(
            "mark the stop arrived before failing it",
            code="stop_out_of_order",
            details={"status": stop["status"]},
        )
    ship = shipment_row(conn, stop["shipment_id"])
    _move_stop(conn, stop, StopStatus.FAILED, done_at=now, fail_reason=reason.value)
    from hubflow.orders.store import shipments_table

    move(
        conn,
        ship,
        ShipmentStatus.FAILED,
        now,
        kind="failed",
        details={"reason": reason.value, "note": note},
        eta=None,
        attempts=shipments_table.c.attempts + 1,
        note=reason.value,
    )
    sync_order(uow, ship["order_id"], now)
    return {"stop_id": stop_id, "status": StopStatus.FAILED.value, "reason": reason.value}


def complete_route(
    uow: UnitOfWork, who: Principal, route_id: str, now: datetime, max_attempts: int = 2
) -> dict[str, Any]:
    """Back at the hub: the failed parcels are checked in and each one is tried again,
    sent to a store near the customer for collection, or kept for the return flow."""
    conn = uow.conn
    route = _route(conn, who, route_id)
    st = route_stops_table.c
    open_stops = conn.execute(
        select(st.id, st.shipment_id).where(
            st.route_id == route_id, st.status.in_(["planned", "arrived"])
        )
    ).all()
    on_board = [
        s
        for s in open_stops
        if shipment_row(conn, s.shipment_id)["status"] == ShipmentStatus.OUT_FOR_DELIVERY.value
    ]
    if on_board:
        raise Conflict(
            "some parcels on board have not been delivered or failed",
            code="stops_remaining",
            details={"stop_ids": [s.id for s in on_board]},
        )
    # Stops of a later trip not loaded yet go back to the planner.
    for s in open_stops:
        stop = _stop(conn, route_id, s.id)
        _move_stop(conn, stop, StopStatus.SKIPPED)
        unplan_shipment(conn, shipment_row(conn, s.shipment_id), now)
    route = _move_route(conn, route, RouteStatus.COMPLETED, now, completed_at=now)
    _returns_in(uow, route, now)
    outcomes = []
    for s in conn.execute(
        select(st.shipment_id, st.fail_reason).where(st.route_id == route_id, st.status == "failed")
    ).all():
        ship = shipment_row(conn, s.shipment_id)
        if ship["status"] != ShipmentStatus.FAILED.value:
            continue
        outcomes.append(_after_failure(uow, ship, FailReason(s.fail_reason), now, max_attempts))
    return {"route_id": route_id, "status": route["status"], "failed_parcels": outcomes}


def _returns_in(uow: UnitOfWork, route: dict[str, Any], now: datetime) -> None:
    """The returns collected on this route are taken in at the hub the vehicle came to."""
    conn = uow.conn
    st = route_stops_table.c
    for s in conn.execute(
        select(st.shipment_id).where(st.route_id == route["id"], st.status == "delivered")
    ).all():
        ship = shipment_row(conn, s.shipment_id)
        if ship["status"] != ShipmentStatus.COLLECTED.value:
            continue
        move(conn, ship, ShipmentStatus.DELIVERED, now, kind="received_at_hub")
        receive_collected(uow, ship["return_id"], route["hub_id"], now)


def _after_failure(
    uow: UnitOfWork, ship: dict[str, Any], reason: FailReason, now: datetime, max_attempts: int
) -> dict[str, Any]:
    conn = uow.conn
    retry = reason in RETRIABLE and ship["attempts"] < max_attempts
    if ship["direction"] == "return" and not (retry and still_to_collect(conn, ship["return_id"])):
        move(conn, ship, ShipmentStatus.CANCELLED, now, kind="pickup_cancelled", route_id=None)
        pickup_called_off(conn, ship["return_id"], reason.value, now)
        return {"shipment_id": ship["id"], "next": "pickup_cancelled"}
    if retry:
        move(
            conn,
            ship,
            ShipmentStatus.READY,
            now,
            kind="retry",
            details={"attempt": ship["attempts"] + 1},
            route_id=None,
        )
        sync_order(uow, ship["order_id"], now)
        return {"shipment_id": ship["id"], "next": "retry"}
    store = (
        None
        if reason in (FailReason.REFUSED, FailReason.DAMAGED, FailReason.AGE_CHECK_FAILED)
        else _store_near(conn, ship)
    )
    if store is not None:
        move(
            conn,
            ship,
            ShipmentStatus.REDIRECTED,
            now,
            kind="redirected",
            details={"store": store["name"], "hub_id": store["id"]},
            redirect_hub_id=store["id"],
            route_id=None,
        )
        return {"shipment_id": ship["id"], "next": "redirected", "hub_id": store["id"]}
    move(
        conn,
        ship,
        ShipmentStatus.RETURNED_TO_HUB,
        now,
        kind="returned_to_hub",
        details={"reason": reason.value},
        route_id=None,
    )
    sync_order(uow, ship["order_id"], now)
    return {"shipment_id": ship["id"], "next": "returned_to_hub"}


def _store_near(conn: Connection, ship: dict[str, Any]) -> dict[str, Any] | None:
    """The nearest open pick-up-in-store hub within 5 km of the customer."""
    from hubflow.orders.store import orders_table

    o = conn.execute(
        select(orders_table.c.lat, orders_table.c.lng).where(orders_table.c.id == ship["order_id"])
    ).one()
    home = LatLng(o.lat, o.lng)
    h = hubs_table.c
    best = None
    for hub in conn.execute(select(h.id, h.name, h.lat, h.lng, h.capabilities).where(h.active)):
        if "pick_up_in_store" not in hub.capabilities:
            continue
        km = haversine_km(home, LatLng(hub.lat, hub.lng))
        if km <= 5.0 and (best is None or km < best[0]):
            best = (km, {"id": hub.id, "name": hub.name})
    return None if best is None else best[1]
