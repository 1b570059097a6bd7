"""Inventory use cases: receipts, adjustments, reservations and their release.

Every stock change is one conditional UPDATE whose WHERE clause carries the
invariant (``on_hand - reserved >= quantity`` and so on), so concurrent requests
cannot oversell whatever the isolation level. Rows are always touched in
(hub_id, product_id) order so two transactions never wait on each other in a
cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, and_, bindparam, insert, select, update

from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, InvalidInput, NotFound
from hubflow.core.events import Event, record
from hubflow.core.ids import new_id
from hubflow.core.prepared import Prepared
from hubflow.core.upsert import insert_on_conflict
from hubflow.inventory.model import (
    AdjustmentReason,
    Movement,
    MovementKind,
    Position,
    ReservationStatus,
    StockRequest,
)
from hubflow.inventory.store import movements_table, reservations_table, stock_table

__all__ = [
    "PendingStock",
    "Released",
    "ReservationRace",
    "adjust",
    "available_by_hub",
    "expire_due",
    "list_movements",
    "list_positions",
    "move_reservation",
    "position",
    "receive",
    "record_reservations",
    "release_owner",
    "reserve",
    "send_stock_updates",
    "ship_owner",
    "take_stock",
    "transfer_owner",
]

MAX_UNITS = 1_000_000_000


class ReservationRace(Exception):
    """A conditional update found less stock than the plan assumed: re-plan."""

    def __init__(self, failed: list[StockRequest]) -> None:
        super().__init__(f"{len(failed)} reservation(s) lost a race")
        self.failed = failed


@dataclass(frozen=True)
class Released:
    hub_id: str
    product_id: str
    quantity: int
    owner_id: str
    merchant_id: str


_INSERT_MOVEMENTS = Prepared(insert(movements_table))
_INSERT_RESERVATIONS = Prepared(insert(reservations_table))


def _movements(
    conn: Connection,
    merchant_id: str,
    kind: MovementKind,
    items: Iterable[tuple[str, str, int]],
    now: datetime,
    *,
    ref: str | None = None,
    reason: str | None = None,
    note: str | None = None,
) -> None:
    rows = []
    for hub_id, product_id, quantity in items:
        m = Movement.of(kind, quantity)
        rows.append(
            {
                "id": new_id("mov"),
                "hub_id": hub_id,
                "product_id": product_id,
                "merchant_id": merchant_id,
                "kind": kind.value,
                "on_hand_delta": m.on_hand_delta,
                "reserved_delta": m.reserved_delta,
                "reason": reason,
                "note": note,
                "ref": ref,
                "created_at": now,
            }
        )
    _INSERT_MOVEMENTS.executemany(conn, rows)


def position(conn: Connection, hub_id: str, product_id: str) -> Position:
    row = conn.execute(
        select(stock_table.c.on_hand, stock_table.c.reserved).where(
            stock_table.c.hub_id == hub_id, stock_table.c.product_id == product_id
        )
    ).first()
    return Position(row.on_hand, row.reserved) if row else Position()


def receive(
    uow: UnitOfWork,
    merchant_id: str,
    hub_id: str,
    product_id: str,
    quantity: int,
    now: datetime,
    *,
    ref: str | None = None,
    note: str | None = None,
) -> Position:
    if quantity <= 0:
        raise InvalidInput("quantity must be positive", code="invalid_quantity")
    conn = uow.conn
    stmt = insert_on_conflict(conn, stock_table).values(
        hub_id=hub_id,
        product_id=product_id,
        merchant_id=merchant_id,
        on_hand=quantity,
        reserved=0,
        updated_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["hub_id", "product_id"],
        set_={"on_hand": stock_table.c.on_hand + quantity, "updated_at": now},
        where=stock_table.c.on_hand + quantity <= MAX_UNITS,
    )
    if conn.execute(stmt.returning(stock_table.c.on_hand)).first() is None:
        raise Conflict("stock would exceed the maximum units per position", code="stock_overflow")
    _movements(
        conn,
        merchant_id,
        MovementKind.RECEIPT,
        [(hub_id, product_id, quantity)],
        now,
        ref=ref,
        note=note,
    )
    after = position(conn, hub_id, product_id)
    _stock_event(conn, "stock.received", merchant_id, hub_id, product_id, quantity, after, now)
    return after


def adjust(
    uow: UnitOfWork,
    merchant_id: str,
    hub_id: str,
    product_id: str,
    delta: int,
    reason: AdjustmentReason,
    now: datetime,
    *,
    note: str | None = None,
) -> Position:
    """Correct on-hand stock; never below what is reserved."""
    if delta == 0:
        raise InvalidInput("delta must not be zero", code="invalid_quantity")
    conn = uow.conn
    s = stock_table.c
    res = conn.execute(
        update(stock_table)
        .where(
            s.hub_id == hub_id,
            s.product_id == product_id,
            s.merchant_id == merchant_id,
            s.on_hand + delta >= s.reserved,
            s.on_hand + delta <= MAX_UNITS,
        )
        .values(on_hand=s.on_hand + delta, updated_at=now)
    )
    if res.rowcount == 0:
        # Say why, from this merchant's own row only (never another tenant's figures).
        row = conn.execute(
            select(s.on_hand, s.reserved).where(
                s.hub_id == hub_id, s.product_id == product_id, s.merchant_id == merchant_id
            )
        ).first()
        if row is None:
            raise NotFound("no stock of this product at this hub", code="stock_not_found")
        if row.on_hand + delta > MAX_UNITS:
            raise Conflict(
                "stock would exceed the maximum units per position", code="stock_overflow"
            )
        raise Conflict(
            "adjustment would leave less on hand than is reserved",
            code="adjustment_below_reserved",
            details={"on_hand": row.on_hand, "reserved": row.reserved, "delta": delta},
        )
    _movements(
        conn,
        merchant_id,
        MovementKind.ADJUSTMENT,
        [(hub_id, product_id, delta)],
        now,
        reason=reason.value,
        note=note,
    )
    after = position(conn, hub_id, product_id)
    _stock_event(
        conn,
        "stock.adjusted",
        merchant_id,
        hub_id,
        product_id,
        delta,
        after,
        now,
        reason=reason.value,
    )
    return after


def _stock_event(
    conn: Connection,
    kind: str,
    merchant_id: str,
    hub_id: str,
    product_id: str,
    delta: int,
    after: Position,
    now: datetime,
    **extra: str,
) -> None:
    payload: dict[str, Any] = {
        "hub_id": hub_id,
        "product_id": product_id,
        "delta": delta,
        "on_hand": after.on_hand,
        "reserved": after.reserved,
        **extra,
    }
    record(conn, [Event(kind, product_id, merchant_id, payload)], now)


# Hot-path statements are built once: building a statement costs more CPU than running it.
_AVAILABLE = select(
    stock_table.c.hub_id,
    stock_table.c.product_id,
    (stock_table.c.on_hand - stock_table.c.reserved).label("available"),
).where(
    stock_table.c.merchant_id == bindparam("b_merchant"),
    stock_table.c.product_id.in_(bindparam("b_ids", expanding=True)),
)

# The invariant lives in the WHERE clause: the row changes only if enough is free.
# RETURNING, not rowcount, says whether it did: in a psycopg pipeline the row comes
# back with the sync, and drivers agree on it.
_RESERVE = Prepared(
    update(stock_table)
    .where(
        stock_table.c.hub_id == bindparam("b_hub"),
        stock_table.c.product_id == bindparam("b_product"),
        stock_table.c.merchant_id == bindparam("b_merchant"),
        # b_floor: units the hub keeps back from online orders (safety stock for walk-ins).
        stock_table.c.on_hand - stock_table.c.reserved - bindparam("b_floor") >= bindparam("b_qty"),
    )
    .values(
        reserved=stock_table.c.reserved + bindparam("b_qty"),
        updated_at=bindparam("b_now", type_=stock_table.c.updated_at.type),
    )
    .returning(stock_table.c.reserved)
)


def available_by_hub(
    conn: Connection,
    merchant_id: str,
    product_ids: list[str],
    *,
    floors: Mapping[str, int] | None = None,
) -> dict[str, dict[str, int]]:
    """hub_id -> product_id -> units available to promise (on hand less reserved, less the
    hub's ``floors`` units of safety stock)."""
    rows = conn.execute(_AVAILABLE, {"b_merchant": merchant_id, "b_ids": sorted(set(product_ids))})
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        available = r.available - (floors.get(r.hub_id, 0) if floors else 0)
        if available > 0:
            out.setdefault(r.hub_id, {})[r.product_id] = available
    return out


def reserve(
    uow: UnitOfWork,
    merchant_id: str,
    owner_id: str,
    requests: list[StockRequest],
    now: datetime,
    *,
    expires_at: datetime | None = None,
    floors: Mapping[str, int] | None = None,
) -> list[str]:
    """Reserve every request or raise ReservationRace (the caller rolls back).

    ``floors`` (hub -> units) is safety stock each position keeps back: a request
    succeeds only if on hand less reserved less the floor still covers it.

    The ledger rows go in first (``record_reservations``) and the conditional stock
    UPDATEs last (``take_stock``), so the row locks on the (hot) stock positions are
    held only until the caller commits, not across the inserts; callers should
    reserve as the last write of their transaction for the same reason.
    """
    ids = record_reservations(uow.conn, merchant_id, owner_id, requests, now, expires_at)
    take_stock(uow.conn, merchant_id, requests, now, floors)
    return ids


def record_reservations(
    conn: Connection,
    merchant_id: str,
    owner_id: str,
    requests: list[StockRequest],
    now: datetime,
    expires_at: datetime | None = None,
) -> list[str]:
    """The first half of ``reserve``: the reservation and movement rows (no reads)."""
    if any(r.quantity <= 0 for r in requests):
        raise InvalidInput("quantities must be positive", code="invalid_quantity")
    ordered = sorted(requests, key=lambda r: (r.hub_id, r.product_id))
    ids = [new_id("res") for _ in ordered]
    _INSERT_RESERVATIONS.executemany(
        conn,
        [
            {
                "id": rid,
                "merchant_id": merchant_id,
                "owner_id": owner_id,
                "hub_id": r.hub_id,
                "product_id": r.product_id,
                "quantity": r.quantity,
                "status": ReservationStatus.ACTIVE.value,
                "expires_at": expires_at,
                "created_at": now,
                "updated_at": now,
            }
            for rid, r in zip(ids, ordered, strict=True)
        ],
    )
    _movements(
        conn,
        merchant_id,
        MovementKind.RESERVE,
        [(r.hub_id, r.product_id, r.quantity) for r in ordered],
        now,
        ref=owner_id,
    )
    return ids


def take_stock(
    conn: Connection,
    merchant_id: str,
    requests: list[StockRequest],
    now: datetime,
    floors: Mapping[str, int] | None = None,
) -> None:
    """The second half of ``reserve``: the conditional UPDATEs, in (hub, product) order;
    raises ReservationRace if any found too little free stock."""
    send_stock_updates(conn, merchant_id, requests, now, floors).confirm()


@dataclass(frozen=True)
class PendingStock:
    """Stock UPDATEs sent, their answers not read yet (``send_stock_updates``)."""

    sent: list[tuple[StockRequest, Any]]

    def confirm(self) -> None:
        """Raise ReservationRace (the caller rolls back) unless every UPDATE took."""
        failed = [r for r, cursor in self.sent if not cursor.fetchall()]
        if failed:
            raise ReservationRace(failed)


def send_stock_updates(
    conn: Connection,
    merchant_id: str,
    requests: list[StockRequest],
    now: datetime,
    floors: Mapping[str, int] | None = None,
) -> PendingStock:
    """``take_stock`` in two steps, so that inside a psycopg pipeline the UPDATEs go in
    the same round trip as the writes before them: the caller must ``confirm()`` the
    result (after the pipeline) before it commits."""
    sent = []
    for r in sorted(requests, key=lambda r: (r.hub_id, r.product_id)):
        params = {
            "b_hub": r.hub_id,
            "b_product": r.product_id,
            "b_merchant": merchant_id,
            "b_qty": r.quantity,
            "b_floor": floors.get(r.hub_id, 0) if floors else 0,
            "b_now": now,
        }
        sent.append((r, _RESERVE.execute(conn, params)))
    return PendingStock(sent)


# A closed reservation's stock movement, built once (every parcel that leaves runs it).
_SETTLE = (
    update(stock_table)
    .where(
        stock_table.c.hub_id == bindparam("b_hub"),
        stock_table.c.product_id == bindparam("b_product"),
        stock_table.c.reserved >= bindparam("b_reserved"),
        stock_table.c.on_hand >= bindparam("b_on_hand"),
    )
    .values(
        reserved=stock_table.c.reserved + bindparam("b_reserved_delta", type_=Integer()),
        on_hand=stock_table.c.on_hand + bindparam("b_on_hand_delta", type_=Integer()),
        updated_at=bindparam("b_now"),
    )
)


def _close_reservations(
    uow: UnitOfWork,
    condition: Any,
    new_status: ReservationStatus,
    kind: MovementKind,
    now: datetime,
) -> list[Released]:
    """Flip active reservations matching ``condition`` and apply their stock movement.

    The status flip is itself conditional (``status = 'active'``), so a
    reservation is released, shipped or expired exactly once.
    """
    conn = uow.conn
    r = reservations_table.c
    rows = conn.execute(
        update(reservations_table)
        .where(condition, r.status == ReservationStatus.ACTIVE.value)
        .values(status=new_status.value, updated_at=now)
        .returning(r.merchant_id, r.owner_id, r.hub_id, r.product_id, r.quantity)
    ).all()
    rows = sorted(rows, key=lambda x: (x.hub_id, x.product_id))
    movement = Movement.of(kind, 1)
    for row in rows:
        q = row.quantity
        res = conn.execute(
            _SETTLE,
            {
                "b_hub": row.hub_id,
                "b_product": row.product_id,
                "b_reserved": q,
                "b_on_hand": q * -movement.on_hand_delta,
                "b_reserved_delta": movement.reserved_delta * q,
                "b_on_hand_delta": movement.on_hand_delta * q,
                "b_now": now,
            },
        )
        if res.rowcount != 1:  # would mean the ledger and the position disagree
            raise RuntimeError(f"stock position lost track of reservation for {row.product_id}")
        _movements(
            conn, row.merchant_id, kind, [(row.hub_id, row.product_id, q)], now, ref=row.owner_id
        )
    return [Released(x.hub_id, x.product_id, x.quantity, x.owner_id, x.merchant_id) for x in rows]


def move_reservation(
    uow: UnitOfWork,
    owner_id: str,
    product_id: str,
    from_hub: str,
    to_hub: str,
    quantity: int,
    now: datetime,
) -> None:
    """Move ``quantity`` reserved units of a product from one hub to another, all or
    nothing: the reservation at ``from_hub`` is released and re-taken smaller, then
    the units are reserved at ``to_hub`` (ReservationRace if they are gone there)."""
    r = reservations_table.c
    cond = and_(r.owner_id == owner_id, r.hub_id == from_hub, r.product_id == product_id)
    released = _close_reservations(uow, cond, ReservationStatus.RELEASED, MovementKind.RELEASE, now)
    held = sum(x.quantity for x in released)
    if held < quantity:
        raise Conflict("fewer units are reserved here than would move", code="reservation_short")
    merchant_id = released[0].merchant_id
    requests = [StockRequest(to_hub, product_id, quantity)]
    if held > quantity:
        requests.append(StockRequest(from_hub, product_id, held - quantity))
    reserve(uow, merchant_id, owner_id, requests, now)


def release_owner(uow: UnitOfWork, owner_id: str, now: datetime) -> list[Released]:
    c = reservations_table.c.owner_id == owner_id
    return _close_reservations(uow, c, ReservationStatus.RELEASED, MovementKind.RELEASE, now)


def ship_owner(
    uow: UnitOfWork, owner_id: str, now: datetime, hub_id: str | None = None
) -> list[Released]:
    """Consume reservations as the goods leave the hub (on-hand and reserved both drop)."""
    c = reservations_table.c.owner_id == owner_id
    if hub_id is not None:
        c = and_(c, reservations_table.c.hub_id == hub_id)
    return _close_reservations(uow, c, ReservationStatus.SHIPPED, MovementKind.SHIP, now)


def expire_due(uow: UnitOfWork, now: datetime) -> list[Released]:
    r = reservations_table.c
    c = and_(r.expires_at.is_not(None), r.expires_at <= now)
    return _close_reservations(uow, c, ReservationStatus.EXPIRED, MovementKind.RELEASE, now)


def transfer_owner(
    uow: UnitOfWork, merchant_id: str, from_owner: str, to_owner: str, now: datetime
) -> list[StockRequest]:
    """Hand a hold's live reservations to an order, clearing their expiry."""
    r = reservations_table.c
    rows = uow.conn.execute(
        update(reservations_table)
        .where(
            r.owner_id == from_owner,
            r.merchant_id == merchant_id,
            r.status == ReservationStatus.ACTIVE.value,
            r.expires_at > now,
        )
        .values(owner_id=to_owner, expires_at=None, updated_at=now)
        .returning(r.hub_id, r.product_id, r.quantity)
    ).all()
    return [StockRequest(x.hub_id, x.product_id, x.quantity) for x in rows]


def list_positions(
    conn: Connection,
    merchant_id: str | None,
    *,
    product_id: str | None = None,
    hub_id: str | None = None,
    after: tuple[str, str] | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    s = stock_table.c
    q = select(stock_table).order_by(s.hub_id, s.product_id).limit(limit)
    if merchant_id is not None:
        q = q.where(s.merchant_id == merchant_id)
    if product_id is not None:
        q = q.where(s.product_id == product_id)
    if hub_id is not None:
        q = q.where(s.hub_id == hub_id)
    if after is not None:
        q = q.where((s.hub_id > after[0]) | ((s.hub_id == after[0]) & (s.product_id > after[1])))
    return [
        {**dict(row._mapping), "available": row.on_hand - row.reserved} for row in conn.execute(q)
    ]


def list_movements(
    conn: Connection,
    merchant_id: str | None,
    *,
    product_id: str | None = None,
    hub_id: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    m = movements_table.c
    q = select(movements_table).order_by(m.id).limit(limit)
    if merchant_id is not None:
        q = q.where(m.merchant_id == merchant_id)
    if product_id is not None:
        q = q.where(m.product_id == product_id)
    if hub_id is not None:
        q = q.where(m.hub_id == hub_id)
    if after is not None:
        q = q.where(m.id > after)
    return [dict(row._mapping) for row in conn.execute(q)]
