"""Courier pickup of a return: a reverse shipment the dispatcher plans like any parcel,
except that the vehicle collects it at the customer's door and brings it to the hub,
where it is taken in as if dropped off there."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hubflow.catalog.model import Product, bundle_dims
from hubflow.core.errors import Conflict
from hubflow.core.events import Event, record
from hubflow.core.ids import new_id
from hubflow.orders.store import shipments_table
from hubflow.returns.store import returns_table

__all__ = ["book_pickup", "mark_collected", "pickup_called_off", "still_to_collect"]


def _hub_it_came_from(conn: Connection, order_id: str) -> str:
    s = shipments_table.c
    hub = conn.execute(
        select(s.hub_id)
        .where(s.order_id == order_id, s.direction == "out", s.status == "delivered")
        .order_by(s.id)
    ).scalar()
    if hub is None:
        raise Conflict("no delivered parcel of this order to collect", code="not_delivered")
    return str(hub)


def book_pickup(
    conn: Connection,
    ret: dict[str, Any],
    products: dict[str, Product],
    lines: dict[str, int],
    now: datetime,
) -> str:
    """The reverse shipment for ``ret``, ready for the next dispatch epoch (nothing to
    pack: the customer hands the goods over at the door). Returns its id."""
    weight = sum(products[p].weight_g * q for p, q in lines.items())
    volume = sum(round(products[p].volume_cm3) * q for p, q in lines.items())
    ship_id = new_id("shp")
    conn.execute(
        insert(shipments_table).values(
            id=ship_id,
            order_id=ret["order_id"],
            merchant_id=ret["merchant_id"],
            hub_id=_hub_it_came_from(conn, ret["order_id"]),
            status="ready",
            created_at=now,
            updated_at=now,
            tracking_token=secrets.token_urlsafe(18),
            ready_at=now,
            packed_at=now,
            weight_g=max(weight, 1),
            volume_cm3=max(volume, 1),
            dims_mm=list(bundle_dims(products, lines)),
            version=1,
            direction="return",
            return_id=ret["id"],
        )
    )
    record(
        conn,
        [
            Event(
                "return.pickup_requested",
                ret["id"],
                ret["merchant_id"],
                {"return_id": ret["id"], "order_id": ret["order_id"], "shipment_id": ship_id},
            )
        ],
        now,
    )
    return ship_id


def mark_collected(conn: Connection, return_id: str, now: datetime) -> None:
    """The courier has the goods: the return is on its way to the hub."""
    r = returns_table.c
    ret = conn.execute(select(returns_table).where(r.id == return_id)).one()
    res = conn.execute(
        update(returns_table)
        .where(r.id == return_id, r.status == "authorised")
        .values(status="collected")
    )
    if res.rowcount != 1:
        raise Conflict("this return was already handed over", code="return_already_dropped")
    record(
        conn,
        [Event("return.collected", return_id, ret.merchant_id, {"return_id": return_id})],
        now,
    )


def still_to_collect(conn: Connection, return_id: str) -> bool:
    """Whether the customer still holds the return (not dropped off meanwhile)."""
    r = returns_table.c
    return conn.execute(select(r.status).where(r.id == return_id)).scalar() == "authorised"


def pickup_called_off(conn: Connection, return_id: str, reason: str, now: datetime) -> None:
    """Nobody handed the goods over: the customer may still drop them off with the QR code."""
    r = returns_table.c
    ret = conn.execute(select(returns_table).where(r.id == return_id)).one()
    conn.execute(
        update(returns_table)
        .where(r.id == return_id, r.status == "authorised")
        .values(method="store")
    )
    record(
        conn,
        [
            Event(
                "return.pickup_cancelled",
                return_id,
                ret.merchant_id,
                {"return_id": return_id, "reason": reason},
            )
        ],
        now,
    )
