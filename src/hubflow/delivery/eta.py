"""Estimated arrival times, recomputed as a vehicle reports where it is."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from hubflow.core.geo import LatLng
from hubflow.delivery.fleet import DEFAULTS, Mode, VehicleTypeSpec
from hubflow.delivery.fleet_service import spec_from_row
from hubflow.delivery.store import route_stops_table, vehicle_types_table, vehicles_table
from hubflow.delivery.tracking import shipment_row, track
from hubflow.delivery.travel import GreatCircleTravel, TravelProfile, TravelProvider
from hubflow.orders.store import shipments_table

__all__ = ["recompute_etas", "route_spec"]

SERVICE_S = 120


def route_spec(conn: Connection, route: dict[str, Any]) -> VehicleTypeSpec:
    if route["vehicle_id"] is None:  # a gig courier's own vehicle
        return DEFAULTS[Mode(route["mode"])]
    v, t = vehicles_table.c, vehicle_types_table.c
    row = conn.execute(
        select(t.mode, t.spec)
        .join(vehicles_table, v.type_id == t.id)
        .where(v.id == route["vehicle_id"])
    ).one()
    return spec_from_row(row.mode, row.spec)


def recompute_etas(
    conn: Connection,
    route: dict[str, Any],
    here: LatLng,
    now: datetime,
    arriving_within: timedelta,
    travel: TravelProvider | None = None,
) -> list[dict[str, Any]]:
    """New ETAs for the route's remaining stops from ``here``, in order; the next parcel
    gets an ``arriving`` tracking event (once) when it is close."""
    st = route_stops_table.c
    stops = conn.execute(
        select(st.id, st.shipment_id, st.lat, st.lng)
        .where(st.route_id == route["id"], st.status == "planned")
        .order_by(st.seq)
    ).all()
    if not stops:
        return []
    spec = route_spec(conn, route)
    profile = TravelProfile(spec.mode.value, spec.speed_kmh, spec.circuity, spec.straight_line)
    points = [here] + [LatLng(s.lat, s.lng) for s in stops]
    _, duration = (travel or GreatCircleTravel()).matrices(points, profile)
    out, clock = [], now
    for i, s in enumerate(stops):
        clock += timedelta(seconds=int(duration[i, i + 1]))
        conn.execute(update(route_stops_table).where(st.id == s.id).values(eta=clock))
        conn.execute(
            update(shipments_table).where(shipments_table.c.id == s.shipment_id).values(eta=clock)
        )
        out.append({"stop_id": s.id, "shipment_id": s.shipment_id, "eta": clock})
        clock += timedelta(seconds=SERVICE_S)
    first = stops[0]
    if out[0]["eta"] - now <= arriving_within:
        from hubflow.delivery.courier import _arriving_sent

        ship = shipment_row(conn, first.shipment_id)
        if ship["status"] == "out_for_delivery" and not _arriving_sent(conn, ship["id"]):
            track(conn, ship, "arriving", now, {"eta": out[0]["eta"].isoformat()})
    return [{**e, "eta": e["eta"].isoformat().replace("+00:00", "Z")} for e in out]
