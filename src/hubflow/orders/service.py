"""Order use cases: place (idempotently), hold, read, list and move through states."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from hubflow.catalog.model import line_quantities
from hubflow.catalog.service import products_by_id
from hubflow.core import idempotency
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, InsufficientStock, InvalidInput, NotFound
from hubflow.core.events import Event, record
from hubflow.core.geo import LatLng, haversine_km
from hubflow.core.ids import new_id
from hubflow.inventory import service as inventory
from hubflow.inventory.model import StockRequest
from hubflow.inventory.store import reservations_table
from hubflow.network.store import list_hubs
from hubflow.orders.model import OrderStatus, check_transition
from hubflow.orders.sourcing import Shortfall, candidates_for, plan_sourcing
from hubflow.orders.store import order_lines_table, orders_table, shipments_table
from hubflow.promise import service as promise
from hubflow.promise.model import OptionCode, PromiseConfig

__all__ = [
    "OrderRequest",
    "Placed",
    "create_hold",
    "get_hold",
    "get_order",
    "list_orders",
    "place_order",
    "release_hold",
    "transition",
]


@dataclass(frozen=True)
class OrderRequest:
    lines: list[tuple[str, int]]
    destination: LatLng
    address: dict[str, Any]
    customer: dict[str, Any] = field(default_factory=dict)
    external_ref: str | None = None
    hold_id: str | None = None
    quote_id: str | None = None  # keep this quote's promise for ``option``
    option: OptionCode | None = None
    pickup_hub_id: str | None = None

    def quantities(self) -> dict[str, int]:
        return line_quantities(self.lines)


@dataclass(frozen=True)
class Placed:
    status_code: int
    body: dict[str, Any]
    replayed: bool


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _check_products(conn: Connection, merchant_id: str, wanted: dict[str, int]) -> None:
    known = products_by_id(conn, merchant_id, list(wanted))
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise InvalidInput(
            "unknown product(s) for this merchant",
            code="unknown_product",
            details={"product_ids": unknown},
        )


def _source(
    conn: Connection,
    merchant_id: str,
    wanted: dict[str, int],
    dest: LatLng,
    now: datetime,
    floors: dict[str, int] | None = None,
) -> list[StockRequest]:
    """Orders without a quote: no promise to keep, so no time or slot constraints; stock
    is counted net of each hub's safety stock (``floors``)."""
    serving = [
        h
        for h in list_hubs(conn, active_only=True)
        if h.ships and haversine_km(h.location, dest) <= h.service_radius_km
    ]
    if not serving:
        raise InvalidInput("no hub serves this delivery address", code="outside_service_area")
    available = inventory.available_by_hub(conn, merchant_id, list(wanted), floors=floors)
    open_now = {h.id for h in serving if h.is_open(now)}
    plan = plan_sourcing(wanted, candidates_for(serving, available, dest, open_now))
    if isinstance(plan, Shortfall):
        raise InsufficientStock(
            "not enough stock for some lines",
            details={
                "short_lines": [
                    {"product_id": p, "requested": want, "available": have}
                    for p, (want, have) in sorted(plan.lines.items())
                ]
            },
        )
    return plan


def _with_retries(
    engine: Engine,
    retries: int,
    attempt: Callable[[UnitOfWork], Any],
    on_exhausted: Callable[[], Any],
) -> Any:
    """Run ``attempt`` in a fresh transaction, again when it lost a stock race."""
    for _ in range(retries):
        try:
            with UnitOfWork(engine) as uow:
                return attempt(uow)
        except inventory.ReservationRace:
            continue
    return on_exhausted()


def place_order(
    engine: Engine,
    merchant_id: str,
    idem_scope: str,
    idem_key: str,
    fingerprint: str,
    req: OrderRequest,
    now: datetime,
    *,
    retries: int = 3,
    after_commit: Callable[[], None] | None = None,
    promise_config: PromiseConfig | None = None,
) -> Placed:
    wanted = req.quantities()
    config = promise_config or PromiseConfig()

    def quoted_plan(conn: Connection) -> promise.QuotedPlan:
        assert req.quote_id is not None and req.option is not None
        return promise.plan_quoted_order(
            conn,
            merchant_id,
            req.quote_id,
            req.option,
            req.pickup_hub_id,
            wanted,
            req.destination,
            now,
            config,
        )

    def attempt(uow: UnitOfWork) -> Placed:
        conn = uow.conn
        stored = idempotency.claim(conn, idem_scope, idem_key, fingerprint, now)
        if stored is not None:
            return Placed(stored.status_code, stored.response, replayed=True)
        _check_products(conn, merchant_id, wanted)
        order_id = new_id("ord")
        quoted: promise.QuotedPlan | None = None
        floors: dict[str, int] = {}
        if req.quote_id is not None:
            quoted = quoted_plan(conn)
            plan, floors = quoted.requests, quoted.floors
        elif req.hold_id is not None:
            plan = _take_hold(uow, merchant_id, req.hold_id, order_id, wanted, now)
        else:
            floors = promise.safety_floors(conn)
            plan = _source(conn, merchant_id, wanted, req.destination, now, floors)
        body = _insert_order(
            conn, merchant_id, order_id, req, plan, now, quoted.promise if quoted else None
        )
        record(
            conn,
            [
                Event("order.accepted", order_id, merchant_id, _event_payload(body, "accepted")),
                Event("order.allocated", order_id, merchant_id, _event_payload(body, "allocated")),
            ],
            now,
        )
        idempotency.complete(conn, idem_scope, idem_key, 201, body)
        if req.hold_id is None:
            # Last, so the stock rows stay locked only until the commit right after;
            # a lost race raises and rolls the whole transaction back.
            inventory.reserve(uow, merchant_id, order_id, plan, now, floors=floors)
        if quoted is not None:
            # Slots after stock, both in sorted order: all or nothing, never a deadlock.
            promise.book_slots(conn, merchant_id, order_id, quoted.slots, now)
        if after_commit:
            uow.after_commit(after_commit)
        return Placed(201, body, replayed=False)

    def exhausted() -> Placed:
        with UnitOfWork(engine, readonly=True) as uow:
            if req.quote_id is not None:
                quoted_plan(uow.conn)  # raises option_unavailable if it is gone
            else:
                floors = promise.safety_floors(uow.conn)
                _source(uow.conn, merchant_id, wanted, req.destination, now, floors)
        raise Conflict("stock is changing too fast; try again", code="stock_contention")

    try:
        result: Placed = _with_retries(engine, retries, attempt, exhausted)
    except promise.PromiseConflict as exc:
        # Say what is available now, with a fresh quote to order on.
        fresh = promise.requote_details(engine, merchant_id, exc.request, now, config)
        exc.details = {**(exc.details or {}), **fresh}
        raise
    return result


def _take_hold(
    uow: UnitOfWork,
    merchant_id: str,
    hold_id: str,
    order_id: str,
    wanted: dict[str, int],
    now: datetime,
) -> list[StockRequest]:
    taken = inventory.transfer_owner(uow, merchant_id, hold_id, order_id, now)
    if not taken:
        raise Conflict("the hold has expired, was released or was used", code="hold_unavailable")
    held: dict[str, int] = defaultdict(int)
    for r in taken:
        held[r.product_id] += r.quantity
    if dict(held) != wanted:
        raise Conflict(
            "the order lines differ from the hold's lines",
            code="hold_mismatch",
            details={"held": dict(held), "ordered": wanted},
        )
    return taken


def _event_payload(body: dict[str, Any], status: str) -> dict[str, Any]:
    return {
        "order": {
            "id": body["id"],
            "status": status,
            "external_ref": body["external_ref"],
        }
    }


_INSERT_ORDER = insert(orders_table)


def _insert_order(
    conn: Connection,
    merchant_id: str,
    order_id: str,
    req: OrderRequest,
    plan: list[StockRequest],
    now: datetime,
    promise_json: dict[str, Any] | None = None,
) -> dict[str, Any]:
    order = {
        "id": order_id,
        "merchant_id": merchant_id,
        "status": OrderStatus.ALLOCATED.value,
        "external_ref": req.external_ref,
        "customer": req.customer,
        "address": req.address,
        "lat": req.destination.lat,
        "lng": req.destination.lng,
        "promise": promise_json,
        "created_at": now,
        "updated_at": now,
    }
    conn.execute(_INSERT_ORDER, {**order, "version": 2})
    conn.execute(
        insert(order_lines_table),
        [
            {
                "id": new_id("oln"),
                "order_id": order_id,
                "line_no": i + 1,
                "product_id": p,
                "quantity": q,
            }
            for i, (p, q) in enumerate(req.lines)
        ],
    )
    hubs = sorted({r.hub_id for r in plan})
    shipments = [
        {
            "id": new_id("shp"),
            "order_id": order_id,
            "merchant_id": merchant_id,
            "hub_id": h,
            "status": "pending",
            "created_at": now,
            "updated_at": now,
        }
        for h in hubs
    ]
    conn.execute(insert(shipments_table), shipments)
    return _order_json(
        order,
        [{"product_id": p, "quantity": q} for p, q in req.lines],
        [
            {
                "hub_id": r.hub_id,
                "product_id": r.product_id,
                "quantity": r.quantity,
                "status": "active",
            }
            for r in plan
        ],
        [{"id": s["id"], "hub_id": s["hub_id"], "status": s["status"]} for s in shipments],
    )


def _order_json(
    order: dict[str, Any],
    lines: list[dict[str, Any]],
    allocations: list[dict[str, Any]],
    shipments: list[dict[str, Any]],
) -> dict[str, Any]:
    address = dict(order["address"])
    address["lat"], address["lng"] = order["lat"], order["lng"]
    return {
        "id": order["id"],
        "merchant_id": order["merchant_id"],
        "status": order["status"],
        "external_ref": order["external_ref"],
        "customer": order["customer"],
        "address": address,
        "lines": lines,
        "allocations": sorted(allocations, key=lambda a: (a["hub_id"], a["product_id"])),
        "shipments": shipments,
        "split": len(shipments) > 1,
        "promise": order.get("promise"),
        "created_at": _iso(order["created_at"]),
        "updated_at": _iso(order["updated_at"]),
    }


def get_order(conn: Connection, merchant_id: str | None, order_id: str) -> dict[str, Any]:
    o = orders_table.c
    q = select(orders_table).where(o.id == order_id)
    if merchant_id is not None:
        q = q.where(o.merchant_id == merchant_id)
    row = conn.execute(q).first()
    if row is None:
        raise NotFound(f"order {order_id} not found", code="order_not_found")
    return _hydrate(conn, [dict(row._mapping)])[0]


def _hydrate(conn: Connection, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [o["id"] for o in orders]
    if not ids:
        return []
    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    ol = order_lines_table.c
    for r in conn.execute(
        select(ol.order_id, ol.product_id, ol.quantity)
        .where(ol.order_id.in_(ids))
        .order_by(ol.order_id, ol.line_no)
    ):
        lines[r.order_id].append({"product_id": r.product_id, "quantity": r.quantity})
    allocs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    rc = reservations_table.c
    for a in conn.execute(
        select(rc.owner_id, rc.hub_id, rc.product_id, rc.quantity, rc.status).where(
            rc.owner_id.in_(ids)
        )
    ):
        allocs[a.owner_id].append(
            {
                "hub_id": a.hub_id,
                "product_id": a.product_id,
                "quantity": a.quantity,
                "status": a.status,
            }
        )
    ships: dict[str, list[dict[str, Any]]] = defaultdict(list)
    sc = shipments_table.c
    for sh in conn.execute(
        select(sc.order_id, sc.id, sc.hub_id, sc.status)
        .where(sc.order_id.in_(ids))
        .order_by(sc.hub_id)
    ):
        ships[sh.order_id].append({"id": sh.id, "hub_id": sh.hub_id, "status": sh.status})
    return [_order_json(o, lines[o["id"]], allocs[o["id"]], ships[o["id"]]) for o in orders]


def list_orders(
    conn: Connection,
    merchant_id: str | None,
    *,
    status: OrderStatus | None = None,
    after: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    o = orders_table.c
    q = select(orders_table).order_by(o.id).limit(limit)
    if merchant_id is not None:
        q = q.where(o.merchant_id == merchant_id)
    if status is not None:
        q = q.where(o.status == status.value)
    if after is not None:
        q = q.where(o.id > after)
    return _hydrate(conn, [dict(r._mapping) for r in conn.execute(q)])


def transition(
    uow: UnitOfWork,
    merchant_id: str | None,
    order_id: str,
    target: OrderStatus,
    now: datetime,
    *,
    reason: str | None = None,
) -> dict[str, Any]:
    """Move an order to ``target``; the UPDATE is conditional on the state we checked."""
    conn = uow.conn
    current = get_order(conn, merchant_id, order_id)
    source = OrderStatus(current["status"])
    check_transition(source, target)
    o = orders_table.c
    res = conn.execute(
        update(orders_table)
        .where(o.id == order_id, o.status == source.value)
        .values(status=target.value, version=o.version + 1, updated_at=now)
    )
    if res.rowcount != 1:
        raise Conflict("the order changed meanwhile; read it again", code="concurrent_update")
    if target is OrderStatus.CANCELLED:
        inventory.release_owner(uow, order_id, now)
        promise.release_slots(conn, order_id, now)
    elif target is OrderStatus.OUT_FOR_DELIVERY and source is not OrderStatus.FAILED:
        inventory.ship_owner(uow, order_id, now)
    payload = _event_payload(current, target.value)
    payload["order"]["previous_status"] = source.value
    if reason:
        payload["reason"] = reason
    record(conn, [Event(f"order.{target.value}", order_id, current["merchant_id"], payload)], now)
    return get_order(conn, merchant_id, order_id)


def create_hold(
    engine: Engine,
    merchant_id: str,
    req: OrderRequest,
    ttl: timedelta,
    now: datetime,
    *,
    retries: int = 3,
) -> dict[str, Any]:
    """Reserve stock for a checkout for ``ttl``; an order may then consume the hold."""
    wanted = req.quantities()
    hold_id = new_id("hold")
    expires = now + ttl

    def attempt(uow: UnitOfWork) -> dict[str, Any]:
        _check_products(uow.conn, merchant_id, wanted)
        floors = promise.safety_floors(uow.conn)
        plan = _source(uow.conn, merchant_id, wanted, req.destination, now, floors)
        inventory.reserve(uow, merchant_id, hold_id, plan, now, expires_at=expires, floors=floors)
        record(uow.conn, [Event("hold.created", hold_id, merchant_id, {"hold_id": hold_id})], now)
        return get_hold(uow.conn, merchant_id, hold_id)

    def exhausted() -> dict[str, Any]:
        raise Conflict("stock is changing too fast; try again", code="stock_contention")

    result: dict[str, Any] = _with_retries(engine, retries, attempt, exhausted)
    return result


def get_hold(conn: Connection, merchant_id: str, hold_id: str) -> dict[str, Any]:
    rc = reservations_table.c
    rows = conn.execute(
        select(rc.hub_id, rc.product_id, rc.quantity, rc.status, rc.expires_at, rc.owner_id)
        .where(rc.merchant_id == merchant_id, rc.owner_id == hold_id)
        .order_by(rc.hub_id, rc.product_id)
    ).all()
    if not rows:
        raise NotFound(f"hold {hold_id} not found", code="hold_not_found")
    statuses = {r.status for r in rows}
    return {
        "id": hold_id,
        "status": statuses.pop() if len(statuses) == 1 else "mixed",
        "expires_at": _iso(rows[0].expires_at) if rows[0].expires_at else None,
        "allocations": [
            {"hub_id": r.hub_id, "product_id": r.product_id, "quantity": r.quantity} for r in rows
        ],
    }


def release_hold(uow: UnitOfWork, merchant_id: str, hold_id: str, now: datetime) -> None:
    get_hold(uow.conn, merchant_id, hold_id)
    released = inventory.release_owner(uow, hold_id, now)
    if not released:
        raise Conflict("the hold is no longer active", code="hold_unavailable")
    record(uow.conn, [Event("hold.released", hold_id, merchant_id, {"hold_id": hold_id})], now)
