"""Read models for the operator's pages: the live network (hubs, vehicles, couriers,
routes, open orders) with KPIs, and a hub's waves. Read-only queries across contexts,
as a reporting view: nothing here changes state."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from hubflow.catalog.store import merchants_table
from hubflow.core.clock import iso_z
from hubflow.core.geo import LatLng
from hubflow.delivery.dispatch import DispatchConfig
from hubflow.delivery.fleet_service import courier_json
from hubflow.delivery.snapshot import delivery_window
from hubflow.delivery.store import (
    couriers_table,
    route_stops_table,
    routes_table,
    tracking_events_table,
    vehicle_types_table,
    vehicles_table,
)
from hubflow.fulfillment.store import pick_tasks_table, waves_table
from hubflow.network.store import hubs_table
from hubflow.orders.store import orders_table, shipments_table
from hubflow.web.ops_model import DONE, Visit, hourly, late_risk, on_time_rate, vehicle_track

__all__ = ["Replay", "hub_waves", "list_hubs", "live_network", "replay_events", "replay_routes"]

ACTIVE_ROUTES = ("planned", "offered", "accepted", "started")


def list_hubs(conn: Connection) -> list[dict[str, Any]]:
    h = hubs_table.c
    rows = conn.execute(
        select(h.id, h.name, h.kind, h.lat, h.lng, h.region, h.active).order_by(h.name)
    )
    return [dict(r._mapping) for r in rows]


def _vehicles(conn: Connection) -> list[dict[str, Any]]:
    v, t, h = vehicles_table.c, vehicle_types_table.c, hubs_table.c
    rows = conn.execute(
        select(v.id, v.name, v.hub_id, v.active, v.lat, v.lng, t.mode, h.lat.label("hub_lat"),
               h.lng.label("hub_lng"))
        .join(vehicle_types_table, t.id == v.type_id)
        .join(hubs_table, h.id == v.hub_id)
        .order_by(v.name)
    )  # fmt: skip
    return [
        {"id": r.id, "name": r.name, "hub_id": r.hub_id, "mode": r.mode, "active": r.active,
         "location": {"lat": r.lat if r.lat is not None else r.hub_lat,
                      "lng": r.lng if r.lng is not None else r.hub_lng}}
        for r in rows
    ]  # fmt: skip


def _routes(conn: Connection) -> list[dict[str, Any]]:
    r, st = routes_table.c, route_stops_table.c
    routes = conn.execute(
        select(routes_table).where(r.status.in_(ACTIVE_ROUTES)).order_by(r.planned_start, r.id)
    ).all()
    stops: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if routes:
        for s in conn.execute(
            select(route_stops_table)
            .where(st.route_id.in_([x.id for x in routes]), st.status != "skipped")
            .order_by(st.route_id, st.seq)
        ):
            stops[s.route_id].append(
                {"id": s.id, "seq": s.seq, "trip": s.trip, "shipment_id": s.shipment_id,
                 "status": s.status, "location": {"lat": s.lat, "lng": s.lng},
                 "eta": iso_z(s.eta)}
            )  # fmt: skip
    return [
        {"id": x.id, "hub_id": x.hub_id, "region": x.region, "mode": x.mode,
         "status": x.status, "vehicle_id": x.vehicle_id, "courier_id": x.courier_id,
         "planned_start": iso_z(x.planned_start), "planned_end": iso_z(x.planned_end),
         "distance_m": x.distance_m, "stops": stops[x.id]}
        for x in routes
    ]  # fmt: skip


def _open_orders(conn: Connection, now: datetime, cfg: DispatchConfig) -> list[dict[str, Any]]:
    s, o, m = shipments_table.c, orders_table.c, merchants_table.c
    rows = conn.execute(
        select(s.id, s.order_id, s.status, s.hub_id, s.eta, s.route_id, s.tracking_token,
               o.lat, o.lng, o.promise, o.created_at, m.name.label("merchant"))
        .join(orders_table, o.id == s.order_id)
        .join(merchants_table, m.id == s.merchant_id)
        .where(s.status.not_in(sorted(DONE)))
        .order_by(o.created_at)
        .limit(500)
    )  # fmt: skip
    out = []
    for x in rows:
        _, deadline = delivery_window(x.promise, x.created_at, cfg)
        out.append(
            {"shipment_id": x.id, "order_id": x.order_id, "status": x.status,
             "hub_id": x.hub_id, "route_id": x.route_id, "merchant": x.merchant,
             "location": {"lat": x.lat, "lng": x.lng}, "eta": iso_z(x.eta),
             "deadline": iso_z(deadline), "ordered_at": iso_z(x.created_at),
             "risk": late_risk(now, deadline, x.eta, x.status).value}
        )  # fmt: skip
    return out


def _deliveries(
    conn: Connection, now: datetime, cfg: DispatchConfig
) -> list[tuple[datetime, datetime]]:
    """(delivered at, deadline) of the parcels delivered in the last 24 hours."""
    t, s, o = tracking_events_table.c, shipments_table.c, orders_table.c
    rows = conn.execute(
        select(t.at, o.promise, o.created_at)
        .join(shipments_table, s.id == t.shipment_id)
        .join(orders_table, o.id == s.order_id)
        .where(and_(t.kind == "delivered", t.at > now - timedelta(hours=24)))
    )
    return [(r.at, delivery_window(r.promise, r.created_at, cfg)[1]) for r in rows]


def live_network(conn: Connection, now: datetime, cfg: DispatchConfig) -> dict[str, Any]:
    couriers = [courier_json(dict(r._mapping)) for r in conn.execute(select(couriers_table))]
    routes = _routes(conn)
    orders = _open_orders(conn, now, cfg)
    delivered = _deliveries(conn, now, cfg)
    o = orders_table.c
    ordered = conn.execute(
        select(o.created_at).where(o.created_at > now - timedelta(hours=12))
    ).scalars()
    rate = on_time_rate(delivered)
    by_state: dict[str, int] = defaultdict(int)
    for x in orders:
        by_state[x["status"]] += 1
    return {
        "hubs": list_hubs(conn),
        "vehicles": _vehicles(conn),
        "couriers": couriers,
        "routes": routes,
        "orders": orders,
        "kpis": {
            "open_orders": len(orders),
            "late": sum(1 for x in orders if x["risk"] == "late"),
            "at_risk": sum(1 for x in orders if x["risk"] == "at_risk"),
            "delivered_24h": len(delivered),
            "on_time_rate": None if rate is None else round(rate, 3),
            "routes_active": len(routes),
            "couriers_on_shift": sum(1 for x in couriers if x["on_shift"]),
            "by_state": dict(sorted(by_state.items())),
        },
        "series": {
            "orders_per_hour": hourly(ordered, now),
            "delivered_per_hour": hourly((at for at, _ in delivered), now),
        },
    }


def hub_waves(conn: Connection, hub_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """A hub's latest waves with how far their picking has got."""
    w, t = waves_table.c, pick_tasks_table.c
    waves = conn.execute(
        select(waves_table).where(w.hub_id == hub_id).order_by(w.created_at.desc()).limit(limit)
    ).all()
    out = []
    for wave in waves:
        tasks = conn.execute(
            select(t.quantity, t.picked, t.status).where(t.wave_id == wave.id)
        ).all()
        units = sum(x.quantity for x in tasks)
        picked = sum(x.picked for x in tasks)
        out.append(
            {"id": wave.id, "status": wave.status, "cutoff_at": iso_z(wave.cutoff_at),
             "created_at": iso_z(wave.created_at), "tasks": len(tasks),
             "tasks_done": sum(1 for x in tasks if x.status != "open"),
             "units": units, "picked": picked,
             "batches": len(wave.plan.get("batches", []))}
        )  # fmt: skip
    return out


@dataclass(frozen=True)
class Replay:
    """A span's parcel events; ``stride`` k > 1 when only every k-th parcel (by id, so
    spread over the whole span) is kept to stay within the replay's limit."""

    events: list[dict[str, Any]]
    stride: int
    truncated: bool


def replay_events(conn: Connection, start: datetime, end: datetime, limit: int = 20_000) -> Replay:
    """Every parcel's life between ``start`` and ``end`` (its creation, then its tracking
    events), with where its customer is: enough to replay a simulated or real day.

    A span with more than ``limit`` events keeps every k-th parcel, whole: the day plays
    to its end with a sample, rather than its first hours with every parcel."""
    t, s = tracking_events_table.c, shipments_table.c
    in_span_created = and_(s.created_at >= start, s.created_at <= end)
    in_span_tracked = and_(t.at >= start, t.at <= end)
    total = (
        conn.execute(select(func.count()).where(in_span_created)).scalar_one()
        + conn.execute(select(func.count()).where(in_span_tracked)).scalar_one()
    )
    stride = max(1, math.ceil(total / limit))
    if stride == 1:
        events = _span_events(conn, in_span_created, in_span_tracked)
    else:
        ids = sorted(
            set(conn.execute(select(s.id).where(in_span_created)).scalars())
            | set(conn.execute(select(t.shipment_id).where(in_span_tracked)).scalars())
        )[::stride]
        events = []
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            events += _span_events(
                conn,
                and_(in_span_created, s.id.in_(chunk)),
                and_(in_span_tracked, t.shipment_id.in_(chunk)),
            )
    events.sort(key=lambda e: e[0])  # stable: a parcel's creation stays before its events
    shown = [
        {"shipment_id": sid, "kind": kind, "at": iso_z(at),
         "location": {"lat": lat, "lng": lng}, "hub_id": hub}
        for at, sid, kind, lat, lng, hub in events[:limit]
    ]  # fmt: skip
    return Replay(shown, stride, len(events) > limit)


def _span_events(conn: Connection, created: Any, tracked: Any) -> list[tuple[Any, ...]]:
    t, s, o = tracking_events_table.c, shipments_table.c, orders_table.c
    made = conn.execute(
        select(s.id, s.created_at, s.hub_id, o.lat, o.lng)
        .join(orders_table, o.id == s.order_id)
        .where(created)
        .order_by(s.created_at, s.id)
    )
    moved = conn.execute(
        select(t.shipment_id, t.kind, t.at, o.lat, o.lng, s.hub_id)
        .join(shipments_table, s.id == t.shipment_id)
        .join(orders_table, o.id == s.order_id)
        .where(tracked)
        .order_by(t.at, t.id)
    )
    return [(r.created_at, r.id, "created", r.lat, r.lng, r.hub_id) for r in made] + [
        (r.at, r.shipment_id, r.kind, r.lat, r.lng, r.hub_id) for r in moved
    ]


def replay_routes(
    conn: Connection, start: datetime, end: datetime, limit: int = 2_000
) -> list[dict[str, Any]]:
    """The routes driven between ``start`` and ``end``: each with its stops (where and
    when they were reached) and its vehicle's track (see ``vehicle_track``)."""
    r, st, v, c, h = (
        routes_table.c, route_stops_table.c, vehicles_table.c, couriers_table.c, hubs_table.c
    )  # fmt: skip
    routes = conn.execute(
        select(r.id, r.mode, r.hub_id, r.started_at, r.completed_at, r.distance_m,
               v.name.label("vehicle"), c.name.label("courier"), h.lat, h.lng)
        .join(hubs_table, h.id == r.hub_id)
        .outerjoin(vehicles_table, v.id == r.vehicle_id)
        .outerjoin(couriers_table, c.id == r.courier_id)
        .where(r.started_at.is_not(None), r.started_at <= end,
               or_(r.completed_at.is_(None), r.completed_at >= start))
        .order_by(r.started_at, r.id)
        .limit(limit)
    ).all()  # fmt: skip
    visits: dict[str, list[Visit]] = defaultdict(list)
    status: dict[str, list[str]] = defaultdict(list)
    for chunk in (routes[i : i + 500] for i in range(0, len(routes), 500)):
        for s in conn.execute(
            select(st.route_id, st.trip, st.lat, st.lng, st.arrived_at, st.done_at, st.status)
            .where(st.route_id.in_([x.id for x in chunk]), st.arrived_at.is_not(None))
            .order_by(st.route_id, st.arrived_at)
        ):
            visits[s.route_id].append(Visit(s.trip, LatLng(s.lat, s.lng), s.arrived_at, s.done_at))
            status[s.route_id].append(s.status)
    out = []
    for x in routes:
        track = vehicle_track(LatLng(x.lat, x.lng), x.started_at, x.completed_at, visits[x.id])
        out.append(
            {"id": x.id, "mode": x.mode, "hub_id": x.hub_id,
             "label": x.vehicle or x.courier or x.mode, "distance_m": x.distance_m,
             "started_at": iso_z(x.started_at), "completed_at": iso_z(x.completed_at),
             "stops": [{"location": {"lat": vi.at.lat, "lng": vi.at.lng},
                        "at": iso_z(vi.arrived_at), "status": stt}
                       for vi, stt in zip(visits[x.id], status[x.id], strict=True)],
             "track": [[iso_z(t), p.lat, p.lng] for t, p in track]}
        )  # fmt: skip
    return out
