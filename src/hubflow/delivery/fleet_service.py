"""Fleet use cases: vehicle types, vehicles at hubs, couriers and their shifts, carriers."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from hubflow.catalog.model import Role
from hubflow.catalog.service import create_key
from hubflow.core.clock import iso_z
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, InvalidInput, NotFound
from hubflow.core.events import Event, record
from hubflow.core.ids import new_id
from hubflow.delivery.fleet import CarrierRateCard, CourierKind, Mode, VehicleTypeSpec, spec_for
from hubflow.delivery.store import (
    carriers_table,
    couriers_table,
    shifts_table,
    vehicle_types_table,
    vehicles_table,
)
from hubflow.network.store import get_hub

__all__ = [
    "create_carrier",
    "create_courier",
    "create_shift",
    "create_vehicle",
    "create_vehicle_type",
    "list_carriers",
    "list_couriers",
    "list_shifts",
    "list_vehicle_types",
    "list_vehicles",
    "spec_from_row",
]

MAX_SHIFT = timedelta(hours=16)


def _need_hub(conn: Connection, hub_id: str) -> None:
    if get_hub(conn, hub_id) is None:
        raise NotFound(f"hub {hub_id} not found", code="hub_not_found")


def spec_from_row(mode: str, spec: dict[str, Any]) -> VehicleTypeSpec:
    return spec_for(Mode(mode), {k: v for k, v in spec.items() if k != "mode"})


def create_vehicle_type(
    uow: UnitOfWork, name: str, mode: Mode, overrides: dict[str, Any], now: datetime
) -> dict[str, Any]:
    spec = spec_for(mode, overrides)
    row = {
        "id": new_id("vty"),
        "name": name,
        "mode": mode.value,
        "spec": spec.as_json(),
        "created_at": now,
    }
    try:
        with uow.conn.begin_nested():
            uow.conn.execute(insert(vehicle_types_table).values(**row))
    except IntegrityError as exc:
        raise Conflict(
            f"vehicle type {name!r} already exists", code="duplicate_vehicle_type"
        ) from exc
    return {**row, "created_at": iso_z(now)}


def list_vehicle_types(conn: Connection) -> list[dict[str, Any]]:
    t = vehicle_types_table.c
    return [
        {**dict(r._mapping), "created_at": iso_z(r.created_at)}
        for r in conn.execute(select(vehicle_types_table).order_by(t.id))
    ]


def create_vehicle(
    uow: UnitOfWork, name: str, type_id: str, hub_id: str, now: datetime
) -> dict[str, Any]:
    conn = uow.conn
    _need_hub(conn, hub_id)
    t = vehicle_types_table.c
    if conn.execute(select(t.id).where(t.id == type_id)).first() is None:
        raise NotFound(f"vehicle type {type_id} not found", code="vehicle_type_not_found")
    row = {
        "id": new_id("veh"),
        "name": name,
        "type_id": type_id,
        "hub_id": hub_id,
        "active": True,
        "created_at": now,
    }
    conn.execute(insert(vehicles_table).values(**row))
    return _vehicle_json(row)


def _vehicle_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "type_id": row["type_id"],
        "hub_id": row["hub_id"],
        "active": row["active"],
        "location": (
            {"lat": row["lat"], "lng": row["lng"], "at": iso_z(row.get("located_at"))}
            if row.get("lat") is not None
            else None
        ),
        "created_at": iso_z(row["created_at"]),
    }


def list_vehicles(conn: Connection, hub_id: str | None = None) -> list[dict[str, Any]]:
    v = vehicles_table.c
    q = select(vehicles_table).order_by(v.id)
    if hub_id is not None:
        q = q.where(v.hub_id == hub_id)
    return [_vehicle_json(dict(r._mapping)) for r in conn.execute(q)]


def create_courier(
    uow: UnitOfWork,
    name: str,
    kind: CourierKind,
    hub_id: str,
    mode: Mode,
    now: datetime,
    *,
    vehicle_id: str | None = None,
) -> tuple[dict[str, Any], str]:
    """A courier and their API key (shown once). Gig couriers bring their own vehicle of
    ``mode``; employees drive the hub's vehicles, ``vehicle_id`` by default."""
    conn = uow.conn
    _need_hub(conn, hub_id)
    if mode in (Mode.DRONE, Mode.ROBOT, Mode.AUTONOMOUS_VAN):
        raise InvalidInput(f"a courier does not drive a {mode.value}", code="invalid_mode")
    if vehicle_id is not None:
        v = vehicles_table.c
        if conn.execute(select(v.id).where(v.id == vehicle_id)).first() is None:
            raise NotFound(f"vehicle {vehicle_id} not found", code="vehicle_not_found")
    courier_id = new_id("cou")
    row = {
        "id": courier_id,
        "name": name,
        "kind": kind.value,
        "hub_id": hub_id,
        "mode": mode.value,
        "on_shift": False,
        "vehicle_id": vehicle_id,
        "version": 1,
        "created_at": now,
    }
    conn.execute(insert(couriers_table).values(**row))
    key, _ = create_key(uow, Role.COURIER, None, f"courier {name}", now, courier_id=courier_id)
    record(conn, [Event("courier.created", courier_id, None, {"courier_id": courier_id})], now)
    return courier_json(row), key.secret


def courier_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "kind": row["kind"],
        "hub_id": row["hub_id"],
        "mode": row["mode"],
        "on_shift": row["on_shift"],
        "vehicle_id": row["vehicle_id"],
        "location": (
            {"lat": row["lat"], "lng": row["lng"], "at": iso_z(row.get("located_at"))}
            if row.get("lat") is not None
            else None
        ),
        "created_at": iso_z(row["created_at"]),
    }


def list_couriers(conn: Connection, hub_id: str | None = None) -> list[dict[str, Any]]:
    c = couriers_table.c
    q = select(couriers_table).order_by(c.id)
    if hub_id is not None:
        q = q.where(c.hub_id == hub_id)
    return [courier_json(dict(r._mapping)) for r in conn.execute(q)]


def create_shift(
    uow: UnitOfWork,
    courier_id: str,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
    *,
    vehicle_id: str | None = None,
) -> dict[str, Any]:
    """An employee's shift or a gig courier's availability window."""
    conn = uow.conn
    if not starts_at < ends_at <= starts_at + MAX_SHIFT:
        raise InvalidInput("a shift ends after it starts, within 16 hours", code="invalid_shift")
    c = couriers_table.c
    courier = conn.execute(select(couriers_table).where(c.id == courier_id)).first()
    if courier is None:
        raise NotFound(f"courier {courier_id} not found", code="courier_not_found")
    vehicle_id = vehicle_id or courier.vehicle_id
    if courier.kind == CourierKind.EMPLOYEE.value and vehicle_id is None:
        raise InvalidInput("an employee's shift needs a vehicle", code="vehicle_required")
    s = shifts_table.c
    overlapping = conn.execute(
        select(s.id).where(s.courier_id == courier_id, s.starts_at < ends_at, s.ends_at > starts_at)
    ).first()
    if overlapping is not None:
        raise Conflict("the courier already has a shift then", code="shift_overlaps")
    row = {
        "id": new_id("sft"),
        "courier_id": courier_id,
        "vehicle_id": vehicle_id,
        "starts_at": starts_at,
        "ends_at": ends_at,
    }
    conn.execute(insert(shifts_table).values(**row))
    return _shift_json(row)


def _shift_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "courier_id": row["courier_id"],
        "vehicle_id": row["vehicle_id"],
        "starts_at": iso_z(row["starts_at"]),
        "ends_at": iso_z(row["ends_at"]),
        "started_at": iso_z(row.get("started_at")),
        "ended_at": iso_z(row.get("ended_at")),
    }


def list_shifts(conn: Connection, courier_id: str) -> list[dict[str, Any]]:
    s = shifts_table.c
    q = select(shifts_table).where(s.courier_id == courier_id).order_by(s.starts_at)
    return [_shift_json(dict(r._mapping)) for r in conn.execute(q)]


_CUTOFF = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def create_carrier(
    uow: UnitOfWork, name: str, rate_card: dict[str, Any], handoff_cutoff: str, now: datetime
) -> dict[str, Any]:
    if not _CUTOFF.match(handoff_cutoff):
        raise InvalidInput("handoff_cutoff is a local time HH:MM", code="invalid_cutoff")
    try:
        card = CarrierRateCard(**rate_card)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(str(exc), code="invalid_rate_card") from exc
    row = {
        "id": new_id("car"),
        "name": name,
        "rate_card": {
            "base": card.base,
            "per_kg": card.per_kg,
            "per_km": card.per_km,
            "max_weight_g": card.max_weight_g,
            "currency": card.currency,
        },
        "handoff_cutoff": handoff_cutoff,
        "active": True,
        "created_at": now,
    }
    try:
        with uow.conn.begin_nested():
            uow.conn.execute(insert(carriers_table).values(**row))
    except IntegrityError as exc:
        raise Conflict(f"carrier {name!r} already exists", code="duplicate_carrier") from exc
    return {**row, "created_at": iso_z(now)}


def list_carriers(conn: Connection) -> list[dict[str, Any]]:
    c = carriers_table.c
    return [
        {**dict(r._mapping), "created_at": iso_z(r.created_at)}
        for r in conn.execute(select(carriers_table).where(c.active).order_by(c.id))
    ]
