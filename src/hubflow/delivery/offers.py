"""Gig offers: one courier at a time, each offer with an expiry; declined or expired, the
route goes to the next free courier nearest the hub, and when none is left its parcels go
to a carrier (or back to the planner when no carrier takes them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from hubflow.core.db import UnitOfWork
from hubflow.core.geo import LatLng, haversine_km
from hubflow.core.ids import new_id
from hubflow.delivery.carriers import cheapest, cutoff_for, record_handoff
from hubflow.delivery.fleet import CourierKind
from hubflow.delivery.model import RouteStatus, ShipmentStatus, StopStatus
from hubflow.delivery.store import (
    carriers_table,
    couriers_table,
    offers_table,
    route_stops_table,
    routes_table,
    shifts_table,
)
from hubflow.delivery.tracking import move, shipment_row
from hubflow.network.store import hubs_table

__all__ = ["expire_offers", "reoffer"]

OFFER_TTL = timedelta(seconds=120)


def _free_gig_couriers(
    conn: Connection, hub_id: str, route_id: str, now: datetime
) -> Sequence[Any]:
    c, sh, r, o = couriers_table.c, shifts_table.c, routes_table.c, offers_table.c
    hub = conn.execute(select(hubs_table.c.region).where(hubs_table.c.id == hub_id)).scalar_one()
    region_hubs = select(hubs_table.c.id).where(hubs_table.c.region == hub)
    busy = select(r.courier_id).where(
        r.courier_id.is_not(None),
        r.status.in_([RouteStatus.ACCEPTED.value, RouteStatus.STARTED.value]),
    )
    asked = select(o.courier_id).where(o.route_id == route_id)
    open_offers = select(o.courier_id).where(o.status == "open")
    return conn.execute(
        select(c.id, c.lat, c.lng, c.hub_id)
        .join(shifts_table, sh.courier_id == c.id)
        .where(
            c.kind == CourierKind.GIG.value,
            c.on_shift,
            c.hub_id.in_(region_hubs),
            sh.starts_at <= now,
            sh.ends_at > now,
            sh.ended_at.is_(None),
            c.id.not_in(busy),
            c.id.not_in(asked),
            c.id.not_in(open_offers),
        )
    ).all()


def reoffer(
    conn: Connection, route_id: str, now: datetime, ttl: timedelta = OFFER_TTL
) -> dict[str, Any] | None:
    """Offer the route to the next courier, or give its parcels to a carrier."""
    r = routes_table.c
    route = conn.execute(select(routes_table).where(r.id == route_id)).one()
    if route.status != RouteStatus.OFFERED.value:
        return None
    hub = conn.execute(
        select(hubs_table.c.lat, hubs_table.c.lng).where(hubs_table.c.id == route.hub_id)
    ).one()
    here = LatLng(hub.lat, hub.lng)
    free = _free_gig_couriers(conn, route.hub_id, route_id, now)
    if free:

        def distance(x: Any) -> float:
            return haversine_km(here, LatLng(x.lat, x.lng)) if x.lat is not None else 1e6

        nxt = min(free, key=distance)
        offer_id = new_id("ofr")
        conn.execute(
            insert(offers_table).values(
                id=offer_id,
                route_id=route_id,
                courier_id=nxt.id,
                status="open",
                pay=route.cost,
                created_at=now,
                expires_at=now + ttl,
            )
        )
        conn.execute(update(routes_table).where(r.id == route_id).values(courier_id=nxt.id))
        return {"offer_id": offer_id, "courier_id": nxt.id}
    _to_carrier(conn, dict(route._mapping), now)
    return None


def _to_carrier(conn: Connection, route: dict[str, Any], now: datetime) -> None:
    """Nobody took the route: cancel it; each parcel to the cheapest carrier, if any."""
    r, st = routes_table.c, route_stops_table.c
    conn.execute(
        update(routes_table)
        .where(r.id == route["id"])
        .values(status=RouteStatus.CANCELLED.value, version=r.version + 1, updated_at=now)
    )
    conn.execute(
        update(route_stops_table)
        .where(st.route_id == route["id"], st.status == "planned")
        .values(status=StopStatus.SKIPPED.value)
    )
    carriers = conn.execute(select(carriers_table).where(carriers_table.c.active)).all()
    hub = conn.execute(select(hubs_table).where(hubs_table.c.id == route["hub_id"])).one()
    for stop in conn.execute(
        select(st.shipment_id, st.lat, st.lng).where(st.route_id == route["id"])
    ).all():
        ship = shipment_row(conn, stop.shipment_id)
        if ship["status"] != ShipmentStatus.OFFERED.value:
            continue
        km = haversine_km(LatLng(hub.lat, hub.lng), LatLng(stop.lat, stop.lng))
        quote = cheapest(carriers, ship["weight_g"] or 1000, km)
        if quote is None:
            back = ShipmentStatus.READY if ship["packed_at"] else ShipmentStatus.PENDING
            move(conn, ship, back, now, route_id=None, eta=None, note="no_courier")
            continue
        cutoff = cutoff_for(quote[0].handoff_cutoff, hub.timezone, now)
        move(
            conn,
            ship,
            ShipmentStatus.CARRIER_PENDING,
            now,
            kind="carrier_assigned",
            details={"carrier": quote[0].name, "handoff_by": cutoff.isoformat()},
            route_id=None,
            eta=None,
        )
        record_handoff(conn, ship["id"], quote, cutoff, now)


def expire_offers(engine: Engine, now: datetime, ttl: timedelta = OFFER_TTL) -> int:
    """Expire the offers due and pass their routes on; returns how many expired."""
    o = offers_table.c
    with UnitOfWork(engine) as uow:
        due = (
            uow.conn.execute(
                update(offers_table)
                .where(o.status == "open", o.expires_at <= now)
                .values(status="expired", answered_at=now)
                .returning(o.route_id)
            )
            .scalars()
            .all()
        )
        for route_id in sorted(set(due)):
            reoffer(uow.conn, route_id, now, ttl)
    return len(due)
