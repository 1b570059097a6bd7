"""Tracking: one line on a parcel's timeline, its webhook, and the public view of it.

Every delivery state change goes through :func:`move`: a conditional UPDATE on the status
read (so two couriers or two planners cannot both move a parcel), a tracking event, and
the ``shipment.*`` webhook in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ClauseElement, Connection, Update, bindparam, insert, select, update

from hubflow.catalog.store import merchants_table
from hubflow.core.clock import iso_z
from hubflow.core.errors import Conflict, NotFound
from hubflow.core.events import Event, record
from hubflow.core.ids import new_id
from hubflow.delivery.model import ShipmentStatus, check_shipment
from hubflow.delivery.store import (
    carrier_handoffs_table,
    couriers_table,
    route_stops_table,
    routes_table,
    tracking_events_table,
)
from hubflow.network.store import hubs_table
from hubflow.orders.store import shipments_table

__all__ = [
    "move",
    "move_setting",
    "shipment_row",
    "shipment_rows",
    "timeline",
    "track",
    "tracking_view",
]

# Tracking event kinds a customer sees, in words a tracking page can show.
LABELS = {
    "created": "Order received",
    "ready": "Packed at the hub",
    "assigned": "Courier assigned",
    "offered": "Looking for a courier",
    "carrier_assigned": "Handed to a carrier soon",
    "handed_to_carrier": "With the carrier",
    "picked_up": "Out for delivery",
    "arriving": "Arriving soon",
    "delivered": "Delivered",
    "failed": "Delivery attempt failed",
    "retry": "We will try again",
    "redirected": "Waiting for you at a store",
    "returned_to_hub": "Returned to the hub",
    "in_locker": "In a locker, ready to collect",
    "locker_locked": "Locker compartment locked after wrong codes",
    "ready_for_pickup": "Ready to collect in store",
    "not_collected": "Not collected in time",
    "cancelled": "Cancelled",
    "out_for_collection": "Courier on the way to collect the return",
    "collected": "Return collected",
    "received_at_hub": "Return arrived at the hub",
    "pickup_cancelled": "Return pickup called off",
}


# Built once: every courier step, every pack and every plan reads and moves parcels, and
# building these statements each time cost more than running them (the twin's profile).
_SHIPMENT = select(shipments_table).where(shipments_table.c.id == bindparam("b_id"))
_TRACK = insert(tracking_events_table)
_MOVE = (
    update(shipments_table)
    .where(
        shipments_table.c.id == bindparam("b_id"),
        shipments_table.c.status == bindparam("b_from"),
        shipments_table.c.version == bindparam("b_version"),
    )
    .values(
        status=bindparam("b_to"),
        version=shipments_table.c.version + 1,
        updated_at=bindparam("b_now"),
    )
)


def shipment_row(conn: Connection, shipment_id: str) -> dict[str, Any]:
    row = conn.execute(_SHIPMENT, {"b_id": shipment_id}).first()
    if row is None:
        raise NotFound(f"shipment {shipment_id} not found", code="shipment_not_found")
    return dict(row._mapping)


_SHIPMENTS = select(shipments_table).where(
    shipments_table.c.id.in_(bindparam("b_ids", expanding=True))
)


def shipment_rows(conn: Connection, ids: list[str]) -> dict[str, dict[str, Any]]:
    """``shipment_row`` of each of ``ids`` (by id), in one query."""
    rows = {r.id: dict(r._mapping) for r in conn.execute(_SHIPMENTS, {"b_ids": ids})} if ids else {}
    for i in ids:
        if i not in rows:
            raise NotFound(f"shipment {i} not found", code="shipment_not_found")
    return rows


def track(
    conn: Connection,
    ship: dict[str, Any],
    kind: str,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """A line on the timeline and its webhook, ``shipment.<kind>``."""
    details = details or {}
    conn.execute(
        _TRACK,
        {
            "id": new_id("trk"),
            "shipment_id": ship["id"],
            "kind": kind,
            "at": now,
            "details": details,
        },
    )
    payload = {
        "shipment": {
            "id": ship["id"],
            "order_id": ship["order_id"],
            "hub_id": ship["hub_id"],
            "tracking_token": ship.get("tracking_token"),
        },
        "kind": kind,
        **details,
    }
    record(conn, [Event(f"shipment.{kind}", ship["id"], ship["merchant_id"], payload)], now)


def move(
    conn: Connection,
    ship: dict[str, Any],
    target: ShipmentStatus,
    now: datetime,
    *,
    kind: str | None = None,
    details: dict[str, Any] | None = None,
    **values: Any,
) -> dict[str, Any]:
    """Move ``ship`` (as read) to ``target``; raise if it changed meanwhile."""
    source = ShipmentStatus(ship["status"])
    check_shipment(source, target)
    params = {
        "b_id": ship["id"],
        "b_from": source.value,
        "b_version": ship["version"],
        "b_to": target.value,
        "b_now": now,
    }
    plain = {k: v for k, v in values.items() if not isinstance(v, ClauseElement)}
    params.update({f"v_{k}": v for k, v in plain.items()})
    stmt = move_setting(tuple(sorted(plain)))
    if len(plain) < len(values):  # an expression (attempts + 1): this one is built here
        stmt = stmt.values(**{k: v for k, v in values.items() if k not in plain})
    res = conn.execute(stmt, params)
    if res.rowcount != 1:
        raise Conflict("the shipment changed meanwhile; read it again", code="concurrent_update")
    moved = {**ship, **values, "status": target.value, "version": ship["version"] + 1}
    if kind is not None:
        track(conn, moved, kind, now, details)
    return moved


_MOVES: dict[tuple[str, ...], Update] = {(): _MOVE}


def move_setting(columns: tuple[str, ...]) -> Update:
    """The parcel's conditional move (``b_id``, ``b_from``, ``b_version``, ``b_to``,
    ``b_now``) that also sets ``columns`` (from ``v_<column>`` parameters), built once."""
    stmt = _MOVES.get(columns)
    if stmt is None:
        c = shipments_table.c
        stmt = _MOVE.values(**{k: bindparam(f"v_{k}", type_=c[k].type) for k in columns})
        _MOVES[columns] = stmt
    return stmt


def timeline(conn: Connection, shipment_id: str) -> list[dict[str, Any]]:
    t = tracking_events_table.c
    rows = conn.execute(
        select(t.kind, t.at, t.details).where(t.shipment_id == shipment_id).order_by(t.at, t.id)
    )
    return [
        {"kind": r.kind, "label": LABELS.get(r.kind, r.kind), "at": iso_z(r.at), **r.details}
        for r in rows
    ]


def tracking_view(conn: Connection, token: str) -> dict[str, Any]:
    """What the customer holding the tracking link may see: the merchant's name (the
    page is white-label), the status and timeline, the ETA, where the courier is while
    the parcel is on board, and the PIN to give at the door."""
    s = shipments_table.c
    row = conn.execute(
        select(shipments_table, merchants_table.c.name.label("merchant_name"))
        .join(merchants_table, merchants_table.c.id == s.merchant_id)
        .where(s.tracking_token == token)
    ).first()
    if row is None:
        raise NotFound("no parcel has this tracking link", code="tracking_not_found")
    ship = dict(row._mapping)
    status = ShipmentStatus(ship["status"])
    out: dict[str, Any] = {
        "merchant": {"name": ship["merchant_name"]},
        "status": status.value,
        "eta": iso_z(ship["eta"]) if status is not ShipmentStatus.DELIVERED else None,
        "events": timeline(conn, ship["id"]),
        "courier": None,
        "stops_before": None,
        "pin": None,
        "carrier": None,
        "pickup_at": None,
    }
    proof = ship["proof"] or {}
    on_its_way = (ShipmentStatus.ASSIGNED, ShipmentStatus.OUT_FOR_DELIVERY)
    if proof.get("pin") and status in on_its_way:
        out["pin"] = ship["pin"]
    if status is ShipmentStatus.OUT_FOR_DELIVERY and ship["route_id"]:
        out.update(_courier_view(conn, ship))
    if status in (ShipmentStatus.CARRIER_PENDING, ShipmentStatus.HANDED_TO_CARRIER):
        h = carrier_handoffs_table.c
        hand = conn.execute(
            select(h.tracking_number, h.cutoff_at).where(h.shipment_id == ship["id"])
        ).first()
        if hand is not None:
            out["carrier"] = {"tracking_number": hand.tracking_number}
    if status is ShipmentStatus.REDIRECTED and ship["redirect_hub_id"]:
        hub = conn.execute(
            select(hubs_table.c.name, hubs_table.c.lat, hubs_table.c.lng).where(
                hubs_table.c.id == ship["redirect_hub_id"]
            )
        ).one()
        out["pickup_at"] = {"name": hub.name, "location": {"lat": hub.lat, "lng": hub.lng}}
    return out


def _courier_view(conn: Connection, ship: dict[str, Any]) -> dict[str, Any]:
    r, st, c = routes_table.c, route_stops_table.c, couriers_table.c
    route = conn.execute(select(r.mode, r.courier_id).where(r.id == ship["route_id"])).first()
    if route is None:
        return {}
    mine = conn.execute(
        select(st.seq).where(st.route_id == ship["route_id"], st.shipment_id == ship["id"])
    ).scalar()
    before = conn.execute(
        select(st.id).where(
            st.route_id == ship["route_id"], st.seq < (mine or 0), st.status == "planned"
        )
    ).all()
    courier = None
    if route.courier_id is not None:
        pos = conn.execute(
            select(c.name, c.lat, c.lng, c.located_at).where(c.id == route.courier_id)
        ).first()
        if pos is not None and pos.lat is not None:
            # The first name only, and the position rounded to about 100 m.
            courier = {
                "name": pos.name.split()[0],
                "mode": route.mode,
                "location": {"lat": round(pos.lat, 3), "lng": round(pos.lng, 3)},
                "at": iso_z(pos.located_at),
            }
    return {"courier": courier, "stops_before": len(before)}
