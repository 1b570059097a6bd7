"""Return use cases: authorise a return of delivered lines within the window, take it in
at a store or locker by its QR token, refund by the merchant's policy (at drop-off for
low-value returns, else after inspection), and dispose of each line (restock puts it
back into available stock at the receiving hub)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from hubflow.catalog.service import products_by_id
from hubflow.core.clock import iso_z
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, InvalidInput, NotFound
from hubflow.core.events import Event, record
from hubflow.core.ids import new_id
from hubflow.core.upsert import insert_on_conflict
from hubflow.delivery.store import tracking_events_table
from hubflow.fulfillment.inbound import put_away
from hubflow.fulfillment.store import bins_table
from hubflow.inventory import service as inventory
from hubflow.membership.lookup import membership_of
from hubflow.network.store import get_hub
from hubflow.orders.store import order_lines_table, orders_table, shipments_table
from hubflow.points import service as points
from hubflow.returns.pickup import book_pickup
from hubflow.returns.store import (
    policies_table,
    refunds_table,
    return_lines_table,
    returns_table,
)

__all__ = [
    "Disposition",
    "ReturnPolicy",
    "Returnable",
    "create_return",
    "drop_off",
    "get_return",
    "inspect",
    "policy_for",
    "receive_collected",
    "returnable",
    "set_policy",
]


class Disposition(StrEnum):
    RESTOCK = "restock"
    REFURBISH = "refurbish"
    LIQUIDATE = "liquidate"
    DISPOSE = "dispose"
    RETURN_TO_MERCHANT = "return_to_merchant"


@dataclass(frozen=True)
class ReturnPolicy:
    """A merchant's rules: how long after delivery, below what value the refund goes
    out at drop-off (above it, after inspection), and the fee kept per return."""

    window_days: int = 30
    instant_refund_below: int = 5_000
    fee: int = 0


def policy_for(conn: Connection, merchant_id: str) -> ReturnPolicy:
    p = policies_table.c
    row = conn.execute(select(policies_table).where(p.merchant_id == merchant_id)).first()
    if row is None:
        return ReturnPolicy()
    return ReturnPolicy(row.window_days, row.instant_refund_below, row.fee)


def set_policy(conn: Connection, merchant_id: str, policy: ReturnPolicy, now: datetime) -> None:
    values = {
        "window_days": policy.window_days,
        "fee": policy.fee,
        "instant_refund_below": policy.instant_refund_below,
        "updated_at": now,
    }
    conn.execute(
        insert_on_conflict(conn, policies_table)
        .values(merchant_id=merchant_id, **values)
        .on_conflict_do_update(index_elements=["merchant_id"], set_=values)
    )


def _delivered_at(conn: Connection, order_id: str) -> datetime | None:
    s, t = shipments_table.c, tracking_events_table.c
    return conn.execute(
        select(func.max(t.at))
        .join(shipments_table, s.id == t.shipment_id)
        .where(s.order_id == order_id, t.kind == "delivered")
    ).scalar()


def _member_days(conn: Connection, merchant_id: str, customer: Any, now: datetime) -> int:
    """Members' extra return days (their plan's benefit), for orders with a customer id."""
    m = membership_of(conn, merchant_id, (customer or {}).get("id"), now)
    return 0 if m is None else m.benefits.extra_return_days


@dataclass(frozen=True)
class Returnable:
    """What of a delivered order can still come back, and until when."""

    window_days: int
    delivered_at: datetime
    closes_at: datetime
    units: dict[str, int]  # product id -> units bought and not yet returned


def returnable(
    conn: Connection, merchant_id: str, order_id: str, now: datetime, *, lock: bool = False
) -> Returnable:
    """The order's returnable units and its return window (the merchant's policy plus a
    member's extra days). Refused when the order is not delivered or the window has
    closed. ``lock`` takes the order's row first, so two returns of one order are decided
    one after the other (no check-then-act on what is left)."""
    o = orders_table.c
    q = select(o.status, o.customer).where(o.id == order_id, o.merchant_id == merchant_id)
    order = conn.execute(q.with_for_update() if lock else q).first()
    if order is None:
        raise NotFound(f"order {order_id} not found", code="order_not_found")
    delivered_at = _delivered_at(conn, order_id)
    if order.status != "delivered" or delivered_at is None:
        raise Conflict("only delivered orders can be returned", code="not_delivered")
    policy = policy_for(conn, merchant_id)
    window_days = policy.window_days + _member_days(conn, merchant_id, order.customer, now)
    closes_at = delivered_at + timedelta(days=window_days)
    if now > closes_at:
        raise Conflict(
            "the return window has closed",
            code="return_window_closed",
            details={"window_days": window_days, "delivered_at": iso_z(delivered_at)},
        )
    ol, rl, r = order_lines_table.c, return_lines_table.c, returns_table.c
    units: dict[str, int] = {}
    for x in conn.execute(
        select(ol.product_id, ol.quantity).where(ol.order_id == order_id).order_by(ol.line_no)
    ):
        units[x.product_id] = units.get(x.product_id, 0) + x.quantity
    for x in conn.execute(
        select(rl.product_id, rl.quantity)
        .join(returns_table, r.id == rl.return_id)
        .where(r.order_id == order_id)
    ):
        units[x.product_id] = units.get(x.product_id, 0) - x.quantity
    return Returnable(window_days, delivered_at, closes_at, units)


def create_return(
    uow: UnitOfWork,
    merchant_id: str,
    order_id: str,
    lines: list[tuple[str, int]],
    reason: str,
    method: str,
    now: datetime,
) -> dict[str, Any]:
    conn = uow.conn
    left = returnable(conn, merchant_id, order_id, now, lock=True).units
    wanted: dict[str, int] = {}
    for product_id, qty in lines:
        wanted[product_id] = wanted.get(product_id, 0) + qty
    for product_id, qty in wanted.items():
        if qty > left.get(product_id, 0):
            raise Conflict(
                "these lines were not delivered (or are already returned)",
                code="line_not_delivered",
                details={"product_id": product_id, "returnable": left.get(product_id, 0)},
            )
    products = products_by_id(conn, merchant_id, list(wanted))
    return_id, token = new_id("ret"), secrets.token_urlsafe(18)
    conn.execute(
        insert(returns_table).values(
            id=return_id,
            merchant_id=merchant_id,
            order_id=order_id,
            status="authorised",
            method=method,
            reason=reason,
            token=token,
            created_at=now,
        )
    )
    conn.execute(
        insert(return_lines_table),
        [
            {
                "return_id": return_id,
                "product_id": p,
                "quantity": q,
                "unit_value": products[p].value.amount,
                "currency": products[p].value.currency,
            }
            for p, q in sorted(wanted.items())
        ],
    )
    record(
        conn,
        [
            Event(
                "return.authorised",
                return_id,
                merchant_id,
                {"return_id": return_id, "order_id": order_id},
            )
        ],
        now,
    )
    if method == "courier":
        ret = {"id": return_id, "order_id": order_id, "merchant_id": merchant_id}
        book_pickup(conn, ret, products, wanted, now)
    out = get_return(conn, merchant_id, return_id)
    out["qr"] = f"hubflow-return:{token}"  # what the customer shows at the drop-off
    return out


def get_return(conn: Connection, merchant_id: str | None, return_id: str) -> dict[str, Any]:
    r, rl, rf = returns_table.c, return_lines_table.c, refunds_table.c
    q = select(returns_table).where(r.id == return_id)
    if merchant_id is not None:
        q = q.where(r.merchant_id == merchant_id)
    row = conn.execute(q).first()
    if row is None:
        raise NotFound(f"return {return_id} not found", code="return_not_found")
    lines = conn.execute(select(return_lines_table).where(rl.return_id == return_id)).all()
    refund = conn.execute(select(refunds_table).where(rf.return_id == return_id)).first()
    s = shipments_table.c
    pickup = conn.execute(
        select(s.id, s.status, s.tracking_token).where(s.return_id == return_id)
    ).first()
    return {
        "id": row.id,
        "order_id": row.order_id,
        "status": row.status,
        "method": row.method,
        "reason": row.reason,
        "hub_id": row.hub_id,
        "created_at": iso_z(row.created_at),
        "dropped_at": iso_z(row.dropped_at),
        "inspected_at": iso_z(row.inspected_at),
        "lines": [
            {
                "product_id": x.product_id,
                "quantity": x.quantity,
                "unit_value": x.unit_value,
                "disposition": x.disposition,
            }
            for x in lines
        ],
        "pickup": None
        if pickup is None
        else {"shipment_id": pickup.id, "status": pickup.status, "tracking": pickup.tracking_token},
        "refund": None
        if refund is None
        else {
            "amount": refund.amount,
            "fee": refund.fee,
            "currency": refund.currency,
            "trigger": refund.trigger,
            "at": iso_z(refund.created_at),
        },
    }


def _refund(uow: UnitOfWork, ret: Any, trigger: str, now: datetime, policy: ReturnPolicy) -> bool:
    """Write the refund once (the return is its key); the webhook goes with it."""
    conn = uow.conn
    rl = return_lines_table.c
    lines = conn.execute(select(return_lines_table).where(rl.return_id == ret.id)).all()
    # Loyalty points go first (once per return): they take back what the lines earned and
    # give back, as points, the part that points paid, which the money refund leaves out.
    returned = [(x.product_id, x.quantity) for x in lines]
    as_points = points.lines_returned(conn, ret.merchant_id, ret.order_id, ret.id, returned, now)
    value = sum(x.unit_value * x.quantity for x in lines) - as_points
    fee = min(policy.fee, value)
    inserted = conn.execute(
        insert_on_conflict(conn, refunds_table)
        .values(
            return_id=ret.id,
            merchant_id=ret.merchant_id,
            amount=value - fee,
            fee=fee,
            currency=lines[0].currency,
            trigger=trigger,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["return_id"])
        .returning(refunds_table.c.return_id)
    ).first()
    if inserted is None:
        return False
    record(
        conn,
        [
            Event(
                "refund.issued",
                ret.id,
                ret.merchant_id,
                {
                    "return_id": ret.id,
                    "order_id": ret.order_id,
                    "amount": value - fee,
                    "fee": fee,
                    "currency": lines[0].currency,
                    "trigger": trigger,
                    "paid_with_points": as_points,
                },
            )
        ],
        now,
    )
    return True


def _value(conn: Connection, return_id: str) -> int:
    rl = return_lines_table.c
    return int(
        conn.execute(
            select(func.sum(rl.unit_value * rl.quantity)).where(rl.return_id == return_id)
        ).scalar()
        or 0
    )


def drop_off(uow: UnitOfWork, token: str, hub_id: str, now: datetime) -> dict[str, Any]:
    """The store or locker scans the customer's QR code: the return is in our hands."""
    conn = uow.conn
    if get_hub(conn, hub_id) is None:
        raise InvalidInput(f"unknown hub {hub_id}", code="unknown_hub")
    r = returns_table.c
    ret = conn.execute(select(returns_table).where(r.token == token)).first()
    if ret is None:
        raise NotFound("no return has this code", code="return_not_found")
    _take_in(uow, ret, hub_id, "authorised", now)
    # Brought in by the customer after all: the courier need not come.
    s = shipments_table.c
    conn.execute(
        update(shipments_table)
        .where(s.return_id == ret.id, s.status == "ready")
        .values(status="cancelled", version=s.version + 1, updated_at=now)
    )
    return get_return(conn, None, ret.id)


def receive_collected(uow: UnitOfWork, return_id: str, hub_id: str, now: datetime) -> None:
    """A courier brought a collected return to the hub: taken in as at a drop-off."""
    r = returns_table.c
    ret = uow.conn.execute(select(returns_table).where(r.id == return_id)).one()
    _take_in(uow, ret, hub_id, "collected", now)


def _take_in(uow: UnitOfWork, ret: Any, hub_id: str, expected: str, now: datetime) -> None:
    """The return is in our hands at ``hub_id``; the refund goes out now if the merchant's
    policy refunds at drop-off."""
    conn = uow.conn
    r = returns_table.c
    res = conn.execute(
        update(returns_table)
        .where(r.id == ret.id, r.status == expected)
        .values(status="dropped_off", hub_id=hub_id, dropped_at=now)
    )
    if res.rowcount != 1:
        raise Conflict("this return was already dropped off", code="return_already_dropped")
    record(
        conn,
        [
            Event(
                "return.dropped_off",
                ret.id,
                ret.merchant_id,
                {"return_id": ret.id, "hub_id": hub_id},
            )
        ],
        now,
    )
    policy = policy_for(conn, ret.merchant_id)
    if _value(conn, ret.id) < policy.instant_refund_below:
        _refund(uow, ret, "drop_off", now, policy)


def inspect(
    uow: UnitOfWork,
    return_id: str,
    dispositions: dict[str, Disposition],
    now: datetime,
) -> dict[str, Any]:
    """The hub inspects what came back: each line gets a disposition (restock makes it
    available again at the receiving hub), and the refund goes out if it has not yet."""
    conn = uow.conn
    r, rl = returns_table.c, return_lines_table.c
    ret = conn.execute(select(returns_table).where(r.id == return_id)).first()
    if ret is None:
        raise NotFound(f"return {return_id} not found", code="return_not_found")
    lines = {
        x.product_id: x
        for x in conn.execute(select(return_lines_table).where(rl.return_id == return_id))
    }
    if set(dispositions) != set(lines):
        raise InvalidInput(
            "give a disposition for every line",
            code="dispositions_incomplete",
            details={"lines": sorted(lines)},
        )
    res = conn.execute(
        update(returns_table)
        .where(r.id == return_id, r.status == "dropped_off")
        .values(status="inspected", inspected_at=now)
    )
    if res.rowcount != 1:
        raise Conflict("only a dropped-off return can be inspected", code="return_out_of_order")
    binned = conn.execute(select(bins_table.c.id).where(bins_table.c.hub_id == ret.hub_id).limit(1))
    has_bins = binned.first() is not None
    for product_id, disposition in sorted(dispositions.items()):
        quantity = lines[product_id].quantity
        shelved = quantity
        if disposition is Disposition.RESTOCK and has_bins:
            # Back on a shelf too: a unit available to promise that is in no bin is one a
            # wave cannot allocate (found by the twin).
            _, left = put_away(uow, ret.hub_id, ret.merchant_id, [(product_id, quantity)], now)
            shelved = quantity - left.get(product_id, 0)
        if disposition is Disposition.RESTOCK and shelved < quantity:
            # No bin here holds it (a 65-inch TV returned to a store that never sold one):
            # it goes back to the merchant rather than count as stock no one can pick.
            record(conn, [Event("return.sent_to_merchant", return_id, ret.merchant_id,
                                {"return_id": return_id, "product_id": product_id,
                                 "quantity": quantity - shelved, "reason": "no_bin_fits"})],
                   now)  # fmt: skip
            if shelved == 0:
                disposition = Disposition.RETURN_TO_MERCHANT
        conn.execute(
            update(return_lines_table)
            .where(rl.return_id == return_id, rl.product_id == product_id)
            .values(disposition=disposition.value)
        )
        if disposition is Disposition.RESTOCK:
            inventory.receive(
                uow,
                ret.merchant_id,
                ret.hub_id,
                product_id,
                shelved,
                now,
                ref=return_id,
                note="restocked from a return",
            )
    _refund(uow, ret, "inspection", now, policy_for(conn, ret.merchant_id))
    return get_return(conn, None, return_id)
