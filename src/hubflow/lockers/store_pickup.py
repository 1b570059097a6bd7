"""Pick-up in store: the packed order waits at the store's counter with a single-use
code (sent by webhook for the merchant to pass on); staff hand it over against the code;
an order not collected within the hold goes back on the shelf (the order is cancelled,
its stock released)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hubflow.core.clock import iso_z
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, NotFound
from hubflow.delivery.model import ShipmentStatus
from hubflow.delivery.orders_sync import sync_order
from hubflow.delivery.tracking import move, shipment_row
from hubflow.inventory import service as inventory
from hubflow.lockers.model import MAX_FAILURES, code_hash, codes_match, new_code
from hubflow.lockers.store import store_pickups_table
from hubflow.orders import service as orders
from hubflow.orders.model import OrderStatus
from hubflow.orders.store import orders_table

__all__ = ["HOLD", "expire_no_shows", "hand_over", "ready_for_pickup"]

# A wrong code comes back as {"handed_over": False, ...} rather than raised, so that the
# caller commits the count before answering with the error.

HOLD = timedelta(days=5)


def ready_for_pickup(
    uow: UnitOfWork, shipment_id: str, now: datetime, hold: timedelta = HOLD
) -> dict[str, Any]:
    """The packed order is at the counter: a code is issued (shown once, and sent in the
    ``shipment.ready_for_pickup`` webhook) and the hold starts."""
    conn = uow.conn
    ship = shipment_row(conn, shipment_id)
    promise = conn.execute(
        select(orders_table.c.promise).where(orders_table.c.id == ship["order_id"])
    ).scalar()
    if (promise or {}).get("option") != "pickup_in_store":
        raise Conflict("this order is delivered, not picked up", code="not_a_pickup_order")
    if ship["packed_at"] is None:
        raise Conflict("pack the order before calling the customer", code="not_packed")
    code, until = new_code(), now + hold
    move(
        conn,
        ship,
        ShipmentStatus.AWAITING_PICKUP,
        now,
        kind="ready_for_pickup",
        details={"code": code, "collect_by": iso_z(until)},
    )
    conn.execute(
        insert(store_pickups_table).values(
            shipment_id=shipment_id,
            hub_id=ship["hub_id"],
            status="waiting",
            code_hash=code_hash(shipment_id, code),
            hold_until=until,
            failures=0,
            created_at=now,
        )
    )
    return {"shipment_id": shipment_id, "code": code, "collect_by": iso_z(until)}


def hand_over(
    uow: UnitOfWork, hub_id: str, shipment_id: str, code: str, now: datetime
) -> dict[str, Any]:
    """Staff scan the order and key in the customer's code. Wrong codes count; after
    five the order needs a manager (409 ``pickup_locked``)."""
    conn = uow.conn
    p = store_pickups_table.c
    row = _refuse_unless_open(conn, shipment_id, now, hub_id=hub_id)
    if not codes_match(shipment_id, code, row.code_hash):
        return {"handed_over": False, "tries_left": _wrong_code(conn, shipment_id, now)}
    # The right code still loses to a lock, a hand-over or an end of hold that came
    # meanwhile: the UPDATE checks them itself, and a refusal says which it was.
    res = conn.execute(
        update(store_pickups_table)
        .where(
            p.shipment_id == shipment_id,
            p.status == "waiting",
            p.failures < MAX_FAILURES,
            p.hold_until > now,
        )
        .values(status="collected", code_hash=None, done_at=now)
    )
    if res.rowcount != 1:
        _refuse_unless_open(conn, shipment_id, now)
        raise Conflict("the order changed meanwhile", code="concurrent_update")
    ship = shipment_row(conn, shipment_id)
    move(
        conn,
        ship,
        ShipmentStatus.DELIVERED,
        now,
        kind="delivered",
        details={"collected_at_store": hub_id},
    )
    inventory.ship_owner(uow, ship["order_id"], now, hub_id=hub_id)
    sync_order(uow, ship["order_id"], now)
    return {"handed_over": True, "shipment_id": shipment_id}


def _refuse_unless_open(
    conn: Connection, shipment_id: str, now: datetime, *, hub_id: str | None = None
) -> Any:
    """The waiting pick-up as it is now, or the 4xx that says why it cannot be handed
    over (not here, collected or gone back, locked by wrong codes, hold ended)."""
    p = store_pickups_table.c
    q = select(store_pickups_table).where(p.shipment_id == shipment_id)
    row = conn.execute(q if hub_id is None else q.where(p.hub_id == hub_id)).first()
    if row is None:
        raise NotFound("no order waits here under that id", code="pickup_not_found")
    if row.status != "waiting":
        raise Conflict(f"the order is {row.status}", code="pickup_closed")
    if row.failures >= MAX_FAILURES:
        raise Conflict(
            "too many wrong codes for this order; a manager must check ID", code="pickup_locked"
        )
    if row.hold_until <= now:
        raise Conflict("the hold has ended", code="expired_code")
    return row


def _wrong_code(conn: Connection, shipment_id: str, now: datetime) -> int:
    """Count a wrong code in the database itself, so parallel guesses are all counted
    and none slips past the limit; returns the tries left (0 once locked)."""
    p = store_pickups_table.c
    failures = conn.execute(
        update(store_pickups_table)
        .where(p.shipment_id == shipment_id, p.status == "waiting", p.failures < MAX_FAILURES)
        .values(failures=p.failures + 1)
        .returning(p.failures)
    ).scalar()
    if failures is None:  # locked or closed meanwhile: say which
        _refuse_unless_open(conn, shipment_id, now)
        raise Conflict("the order changed meanwhile", code="concurrent_update")
    return int(MAX_FAILURES - failures)


def expire_no_shows(uow: UnitOfWork, now: datetime) -> int:
    """Orders not collected in time: the goods go back on the shelf (the order is
    cancelled, which releases its stock) and the merchant hears of it."""
    conn = uow.conn
    p = store_pickups_table.c
    due = (
        conn.execute(select(p.shipment_id).where(p.status == "waiting", p.hold_until <= now))
        .scalars()
        .all()
    )
    for shipment_id in due:
        res = conn.execute(
            update(store_pickups_table)
            .where(p.shipment_id == shipment_id, p.status == "waiting")
            .values(status="no_show", code_hash=None, done_at=now)
        )
        if res.rowcount != 1:
            continue
        ship = shipment_row(conn, shipment_id)
        move(conn, ship, ShipmentStatus.CANCELLED, now, kind="not_collected")
        order = conn.execute(
            select(orders_table.c.status).where(orders_table.c.id == ship["order_id"])
        ).scalar_one()
        if OrderStatus(order) is not OrderStatus.CANCELLED:
            orders.transition(
                uow,
                None,
                ship["order_id"],
                OrderStatus.CANCELLED,
                now,
                reason="not collected in store",
            )
    return len(due)
