"""When no bin at the hub has what an order needs, the order's units move to the nearest
other hub that has them: its reservation moves, and the order gets a shipment there."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from hubflow.core.db import UnitOfWork
from hubflow.core.events import Event, record
from hubflow.core.geo import LatLng, haversine_km
from hubflow.core.ids import new_id
from hubflow.delivery.tracking import shipment_row
from hubflow.inventory import service as inventory
from hubflow.inventory.store import reservations_table, stock_table
from hubflow.network.store import hub_from_row, hubs_table
from hubflow.orders.store import orders_table, shipments_table

__all__ = ["reallocate"]


def reallocate(
    uow: UnitOfWork, shipment_id: str, product_id: str, missing: int, now: datetime
) -> dict[str, Any] | None:
    """Move ``missing`` units to another hub; ``None`` when no hub has them."""
    conn = uow.conn
    ship = shipment_row(conn, shipment_id)
    o = conn.execute(
        select(orders_table.c.lat, orders_table.c.lng).where(orders_table.c.id == ship["order_id"])
    ).one()
    home = LatLng(o.lat, o.lng)
    s, h = stock_table.c, hubs_table.c
    rows = conn.execute(
        select(hubs_table)
        .join(stock_table, s.hub_id == h.id)
        .where(
            s.product_id == product_id,
            s.merchant_id == ship["merchant_id"],
            s.on_hand - s.reserved >= missing,
            h.id != ship["hub_id"],
            h.active,
        )
    ).all()
    hubs = [hub_from_row(r) for r in rows]
    candidates = sorted((haversine_km(home, x.location), x.id) for x in hubs if x.ships)
    for _, hub_id in candidates:
        try:
            with conn.begin_nested():
                inventory.move_reservation(
                    uow, ship["order_id"], product_id, ship["hub_id"], hub_id, missing, now
                )
        except inventory.ReservationRace:
            continue  # taken meanwhile: the next hub
        target = _shipment_at(uow, ship, hub_id, now)
        _cancel_if_empty(uow, ship, now)
        payload = {
            "order_id": ship["order_id"],
            "product_id": product_id,
            "quantity": missing,
            "from_hub": ship["hub_id"],
            "to_hub": hub_id,
            "shipment_id": target,
        }
        record(
            conn, [Event("order.reallocated", ship["order_id"], ship["merchant_id"], payload)], now
        )
        return payload
    return None


def _cancel_if_empty(uow: UnitOfWork, ship: dict[str, Any], now: datetime) -> None:
    """A shipment whose every unit moved away has nothing left to send."""
    r = reservations_table.c
    left = uow.conn.execute(
        select(r.id).where(
            r.owner_id == ship["order_id"], r.hub_id == ship["hub_id"], r.status == "active"
        )
    ).first()
    if left is None:
        sc = shipments_table.c
        uow.conn.execute(
            update(shipments_table)
            .where(sc.id == ship["id"], sc.status.in_(["pending", "ready", "assigned", "offered"]))
            .values(status="cancelled", version=sc.version + 1, updated_at=now)
        )


def _shipment_at(uow: UnitOfWork, ship: dict[str, Any], hub_id: str, now: datetime) -> str:
    conn = uow.conn
    sc = shipments_table.c
    existing = conn.execute(
        select(sc.id).where(
            sc.order_id == ship["order_id"],
            sc.hub_id == hub_id,
            sc.status.not_in(["cancelled", "delivered"]),
        )
    ).scalar()
    if existing is not None:
        return str(existing)
    shipment_id = new_id("shp")
    conn.execute(
        insert(shipments_table).values(
            id=shipment_id,
            order_id=ship["order_id"],
            merchant_id=ship["merchant_id"],
            hub_id=hub_id,
            status="pending",
            created_at=now,
            updated_at=now,
            tracking_token=secrets.token_urlsafe(18),
            proof=ship["proof"],
            pin=ship["pin"],
        )
    )
    return shipment_id
