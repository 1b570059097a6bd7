"""An order's status follows its shipments: packed when all are packed, out for delivery
when one has left, delivered when all are delivered, failed or returned when the last
one on the road fails or comes back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select

from hubflow.core.db import UnitOfWork
from hubflow.delivery.model import ShipmentStatus as S
from hubflow.orders import service as orders
from hubflow.orders.model import OrderStatus as O
from hubflow.orders.store import orders_table, shipments_table

__all__ = ["sync_order", "target_status"]

_ON_ROAD = {S.OUT_FOR_DELIVERY, S.HANDED_TO_CARRIER, S.IN_LOCKER}
_PACKED_OR_LATER = set(S) - {S.PENDING, S.CANCELLED}


def target_status(current: O, shipments: list[S], packed: list[bool]) -> O | None:
    """Where the order should be given its shipments, or ``None`` to stay."""
    live = [s for s in shipments if s is not S.CANCELLED]
    if not live:
        return None
    if all(s is S.DELIVERED for s in live):
        return O.DELIVERED
    if any(s in _ON_ROAD for s in live):
        return O.OUT_FOR_DELIVERY
    if any(s is S.FAILED for s in live) and current is O.OUT_FOR_DELIVERY:
        return O.FAILED
    back = all(s in (S.DELIVERED, S.RETURNED_TO_HUB) for s in live)
    if (
        back
        and any(s is S.RETURNED_TO_HUB for s in live)
        and current in (O.FAILED, O.OUT_FOR_DELIVERY)
    ):
        return O.RETURNED
    if current in (O.ALLOCATED, O.PICKING) and all(packed):
        return O.PACKED
    return None


# The order machine's paths between the states delivery moves it to.
_PATH = {
    (O.ALLOCATED, O.PACKED): [O.PICKING, O.PACKED],
    # A split order's first parcel may leave while another hub still packs its part (the
    # twin found pickups refused for this): the order passes through packed on its way.
    (O.ALLOCATED, O.OUT_FOR_DELIVERY): [O.PICKING, O.PACKED, O.OUT_FOR_DELIVERY],
    (O.PICKING, O.OUT_FOR_DELIVERY): [O.PACKED, O.OUT_FOR_DELIVERY],
    (O.FAILED, O.OUT_FOR_DELIVERY): [O.OUT_FOR_DELIVERY],
    (O.OUT_FOR_DELIVERY, O.RETURNED): [O.FAILED, O.RETURNED],
    (O.PACKED, O.DELIVERED): [O.OUT_FOR_DELIVERY, O.DELIVERED],  # collected in store
}


_o = orders_table.c
# What orders.transition reads first: it is handed over, not read again per step.
_HEAD = select(_o.id, _o.merchant_id, _o.status, _o.external_ref).where(_o.id == bindparam("b_id"))
# Returns travel as shipments too, but the order's own delivery is done by then.
_PARCELS = select(shipments_table.c.status, shipments_table.c.packed_at).where(
    shipments_table.c.order_id == bindparam("b_id"), shipments_table.c.direction == "out"
)


def sync_order(uow: UnitOfWork, order_id: str, now: datetime) -> None:
    conn = uow.conn
    head: dict[str, Any] = dict(conn.execute(_HEAD, {"b_id": order_id}).one()._mapping)
    current = O(head["status"])
    rows = conn.execute(_PARCELS, {"b_id": order_id}).all()
    target = target_status(
        current, [S(r.status) for r in rows], [r.packed_at is not None for r in rows]
    )
    if target is None or target is current:
        return
    for step in _PATH.get((current, target), [target]):
        # Stock leaves per shipment as each is picked up, so the order machine must not
        # ship the whole order at once here.
        head = orders.transition(uow, None, order_id, step, now, ship=False, fetch=False, head=head)
