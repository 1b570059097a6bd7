"""Shipment use cases outside a route: packed at the hub, read by its merchant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from hubflow.core.clock import iso_z
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, NotFound
from hubflow.delivery.model import ShipmentStatus
from hubflow.delivery.orders_sync import sync_order
from hubflow.delivery.snapshot import physicals
from hubflow.delivery.store import carrier_handoffs_table, proofs_table
from hubflow.delivery.tracking import move, shipment_row, timeline
from hubflow.orders.store import shipments_table

__all__ = ["get_proof", "get_shipment", "mark_packed", "set_packed"]

_PLANNED = {ShipmentStatus.ASSIGNED, ShipmentStatus.OFFERED, ShipmentStatus.CARRIER_PENDING}


def mark_packed(
    uow: UnitOfWork,
    shipment_id: str,
    now: datetime,
    *,
    weight_g: int | None = None,
    dims_mm: tuple[int, int, int] | None = None,
    volume_cm3: int | None = None,
) -> dict[str, Any]:
    """:func:`set_packed`, answering the shipment as it is now."""
    set_packed(uow, shipment_id, now, weight_g=weight_g, dims_mm=dims_mm, volume_cm3=volume_cm3)
    return get_shipment(uow.conn, None, shipment_id)


def set_packed(
    uow: UnitOfWork,
    shipment_id: str,
    now: datetime,
    *,
    weight_g: int | None = None,
    dims_mm: tuple[int, int, int] | None = None,
    volume_cm3: int | None = None,
    ship: dict[str, Any] | None = None,
) -> None:
    """The hub packed the parcel: it may leave. Weight and size are the carton's when
    given (``volume_cm3`` for several cartons: their sum), else estimated from the
    products. ``ship``: the shipment's row, if the caller read it in this transaction."""
    conn = uow.conn
    if ship is None:
        ship = shipment_row(conn, shipment_id)
    status = ShipmentStatus(ship["status"])
    if ship["packed_at"] is not None:
        raise Conflict("the parcel is already packed", code="already_packed")
    if status is not ShipmentStatus.PENDING and status not in _PLANNED:
        raise Conflict(f"a {status.value} parcel cannot be packed", code="shipment_out_of_order")
    values: dict[str, Any] = {"packed_at": now}
    if weight_g is None:
        est = physicals(conn, [_Row(ship)]).get(ship["id"])
        if est is not None:
            values.update(weight_g=est[0], volume_cm3=est[1], dims_mm=list(est[2]))
    else:
        values["weight_g"] = weight_g
        if dims_mm is not None:
            values.update(
                dims_mm=list(dims_mm),
                volume_cm3=volume_cm3 or max(1, (dims_mm[0] * dims_mm[1] * dims_mm[2]) // 1000),
            )
    if status is ShipmentStatus.PENDING:
        move(conn, ship, ShipmentStatus.READY, now, kind="ready", **values)
    else:
        _set(conn, ship, now, values)  # planned already: the status stays
    sync_order(uow, ship["order_id"], now)


class _Row:
    def __init__(self, ship: dict[str, Any]) -> None:
        self.id, self.order_id, self.hub_id = ship["id"], ship["order_id"], ship["hub_id"]
        self.weight_g = None


def _set(conn: Connection, ship: dict[str, Any], now: datetime, values: dict[str, Any]) -> None:
    s = shipments_table.c
    res = conn.execute(
        update(shipments_table)
        .where(s.id == ship["id"], s.version == ship["version"])
        .values(version=s.version + 1, updated_at=now, **values)
    )
    if res.rowcount != 1:
        raise Conflict("the shipment changed meanwhile; read it again", code="concurrent_update")


def get_shipment(conn: Connection, merchant_id: str | None, shipment_id: str) -> dict[str, Any]:
    ship = shipment_row(conn, shipment_id)
    if merchant_id is not None and ship["merchant_id"] != merchant_id:
        raise NotFound(f"shipment {shipment_id} not found", code="shipment_not_found")
    h = carrier_handoffs_table.c
    hand = conn.execute(select(carrier_handoffs_table).where(h.shipment_id == shipment_id)).first()
    p = proofs_table.c
    proofs = conn.execute(
        select(p.id, p.kind, p.sha256, p.created_at).where(p.shipment_id == shipment_id)
    ).all()
    return {
        "id": ship["id"],
        "order_id": ship["order_id"],
        "hub_id": ship["hub_id"],
        "status": ship["status"],
        "tracking_token": ship["tracking_token"],
        "packed_at": iso_z(ship["packed_at"]),
        "weight_g": ship["weight_g"],
        "dims_mm": ship["dims_mm"],
        "route_id": ship["route_id"],
        "eta": iso_z(ship["eta"]),
        "attempts": ship["attempts"],
        "note": ship["note"],
        "proof_policy": ship["proof"],
        "carrier": None
        if hand is None
        else {
            "carrier_id": hand.carrier_id,
            "status": hand.status,
            "price": hand.price,
            "currency": hand.currency,
            "handoff_by": iso_z(hand.cutoff_at),
            "tracking_number": hand.tracking_number,
        },
        "proofs": [
            {"id": x.id, "kind": x.kind, "sha256": x.sha256, "at": iso_z(x.created_at)}
            for x in proofs
        ],
        "events": timeline(conn, shipment_id),
    }


def get_proof(
    conn: Connection, merchant_id: str | None, shipment_id: str, proof_id: str
) -> tuple[bytes, str]:
    get_shipment(conn, merchant_id, shipment_id)  # the tenant check
    p = proofs_table.c
    row = conn.execute(
        select(p.content, p.content_type).where(p.id == proof_id, p.shipment_id == shipment_id)
    ).first()
    if row is None:
        raise NotFound(f"proof {proof_id} not found", code="proof_not_found")
    return bytes(row.content), row.content_type
