"""An order's timeline: every step of the order, its parcels, lockers, pick-ups, returns
and refunds, one line each, read from the outbox (the same events the webhooks carry)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from hubflow.core.clock import iso_z
from hubflow.core.errors import NotFound
from hubflow.core.events import events_table
from hubflow.delivery.tracking import LABELS as TRACKING_LABELS
from hubflow.orders.store import orders_table, shipments_table
from hubflow.returns.store import returns_table

__all__ = ["LABELS", "order_timeline"]

# Words for a timeline line (a parcel's steps use the tracking page's words); an event
# without one shows its type.
LABELS = {
    "order.accepted": "Order placed",
    "order.allocated": "Stock reserved",
    "order.picking": "Being picked",
    "order.packed": "Packed",
    "order.out_for_delivery": "Out for delivery",
    "order.delivered": "Delivered",
    "order.failed": "Delivery failed",
    "order.cancelled": "Cancelled",
    "order.returned": "Returned",
    "locker.held": "Locker compartment reserved",
    "locker.released": "Locker compartment released",
    "return.authorised": "Return authorised",
    "return.pickup_requested": "Courier pickup of the return booked",
    "return.collected": "Return collected by the courier",
    "return.pickup_cancelled": "Courier pickup called off; drop it off instead",
    "return.dropped_off": "Return dropped off",
    "return.inspected": "Return inspected",
    "return.sent_to_merchant": "Returned item sent back to the merchant (no shelf for it here)",
    "refund.issued": "Refund issued",
}

# Secrets travel to the merchant by webhook once; a timeline is read again and again.
_HIDDEN = frozenset({"code", "pin", "signature", "photo"})


def _label(event: str) -> str:
    kind = event.removeprefix("shipment.")
    if kind != event:
        return TRACKING_LABELS.get(kind, event)
    return LABELS.get(event, event)


def _subjects(conn: Connection, order_id: str) -> list[str]:
    s, r = shipments_table.c, returns_table.c
    ships = conn.execute(select(s.id).where(s.order_id == order_id)).scalars().all()
    rets = conn.execute(select(r.id).where(r.order_id == order_id)).scalars().all()
    return [order_id, *ships, *rets]


def _details(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in payload.items()
        if k not in _HIDDEN and not isinstance(v, dict | list) and k != "kind"
    }


def order_timeline(conn: Connection, merchant_id: str | None, order_id: str) -> dict[str, Any]:
    """The order's steps in the order they happened. ``merchant_id`` None is the operator."""
    o = orders_table.c
    q = select(o.id, o.status).where(o.id == order_id)
    if merchant_id is not None:
        q = q.where(o.merchant_id == merchant_id)
    order = conn.execute(q).first()
    if order is None:
        raise NotFound(f"order {order_id} not found", code="order_not_found")
    e = events_table.c
    rows = conn.execute(
        select(e.type, e.subject_id, e.payload, e.created_at)
        .where(e.subject_id.in_(_subjects(conn, order_id)))
        .order_by(e.created_at, e.id)
    )
    return {
        "order_id": order.id,
        "status": order.status,
        "lines": [
            {
                "at": iso_z(r.created_at),
                "event": r.type,
                "label": _label(r.type),
                "subject_id": r.subject_id,
                "details": _details(r.payload),
            }
            for r in rows
        ],
    }
