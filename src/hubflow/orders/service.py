"""Order use cases: place (idempotently), hold, read, list and move through states."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, insert, select, update

from hubflow.catalog.model import Product, bundle_dims, line_quantities
from hubflow.catalog.service import products_by_id
from hubflow.catalog.store import products_table
from hubflow.core import idempotency
from hubflow.core.db import UnitOfWork, pipelined
from hubflow.core.errors import Conflict, InsufficientStock, InvalidInput, NotFound
from hubflow.core.events import Event, record
from hubflow.core.geo import LatLng
from hubflow.core.ids import new_id
from hubflow.core.prepared import Prepared
from hubflow.inventory import service as inventory
from hubflow.inventory.model import StockRequest
from hubflow.inventory.store import reservations_table, stock_table
from hubflow.lockers.holds import hold_for_order, release_holds
from hubflow.network.store import network_revision_table
from hubflow.orders.model import OrderStatus, check_transition
from hubflow.orders.sourcing import Candidate, Shortfall, plan_sourcing
from hubflow.orders.store import order_lines_table, orders_table, shipments_table
from hubflow.points import service as points
from hubflow.promise import service as promise
from hubflow.promise.index import hub_index
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
    proof: dict[str, Any] | None = None  # proof-of-delivery policy, validated by delivery
    points_to_burn: int = 0  # loyalty points taken as a discount (needs customer["id"])

    def quantities(self) -> dict[str, int]:
        return line_quantities(self.lines)


@dataclass(frozen=True)
class Placed:
    status_code: int
    body: dict[str, Any]
    replayed: bool


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _check_products(
    conn: Connection, merchant_id: str, wanted: dict[str, int]
) -> dict[str, Product]:
    """The cart's products, once checked they are all the merchant's."""
    products = products_by_id(conn, merchant_id, list(wanted))
    _refuse_unknown(wanted, products.keys())
    return products


def _refuse_unknown(wanted: dict[str, int], known: Iterable[str]) -> None:
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise InvalidInput(
            "unknown product(s) for this merchant",
            code="unknown_product",
            details={"product_ids": unknown},
        )


# Order intake's one read: which products are the merchant's (by primary key, the tenant
# checked on the rows, as in catalog.products_by_id), what every hub has of them, and the
# network's revision token, so that the hub index needs no round trip of its own.
_INTAKE = Prepared(
    select(
        products_table.c.id,
        products_table.c.merchant_id,
        stock_table.c.hub_id,
        (stock_table.c.on_hand - stock_table.c.reserved).label("available"),
        select(network_revision_table.c.token)
        .where(network_revision_table.c.id == 1)
        .scalar_subquery()
        .label("network"),
    )
    .select_from(products_table)
    .outerjoin(
        stock_table,
        and_(
            stock_table.c.product_id == products_table.c.id,
            stock_table.c.merchant_id == products_table.c.merchant_id,
        ),
    )
    .where(products_table.c.id.in_(bindparam("b_ids", expanding=True)))
)


def _source(
    conn: Connection,
    merchant_id: str,
    wanted: dict[str, int],
    dest: LatLng,
    now: datetime,
    rows: Iterable[Sequence[Any]] | None = None,
) -> tuple[list[StockRequest], dict[str, int]]:
    """Orders without a quote: no promise to keep, so no time or slot constraints; stock
    is counted net of each hub's safety stock. Checks the products are the merchant's.
    Returns the plan and the safety stock per hub (``floors``) to reserve with.
    ``rows``: the answer of ``_send_intake_read``, if the caller sent it already."""
    if rows is None:
        rows = _send_intake_read(conn, wanted).fetchall()
    # (product, merchant, hub, available, network revision), the merchant's products only
    mine = [r for r in rows if r[1] == merchant_id]
    _refuse_unknown(wanted, {r[0] for r in mine})
    # The hubs, parsed once per process rather than read on every order.
    index = hub_index(conn, (mine[0][4] or "") if mine else None)
    floors = {h: n for h, n in index.floors.items() if n > 0}
    available: dict[str, dict[str, int]] = {}
    for product_id, _, hub_id, units, _ in mine:
        if hub_id is not None and (units := units - floors.get(hub_id, 0)) > 0:
            available.setdefault(hub_id, {})[product_id] = units
    serving = [(e, km) for e, km in index.serving(dest) if e.ships]
    if not serving:
        raise InvalidInput("no hub serves this delivery address", code="outside_service_area")
    candidates = [
        Candidate(e.id, km, e.hub.is_open(now), available[e.id])
        for e, km in serving
        if e.id in available
    ]
    plan = plan_sourcing(wanted, candidates)
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
    return plan, floors


def _send_intake_read(conn: Connection, wanted: dict[str, int]) -> Any:
    """Send order intake's one read; returns the DBAPI cursor to fetch it from."""
    return _INTAKE.execute(conn, {"b_ids": sorted(wanted)})


def _with_retries(
    engine: Engine,
    retries: int,
    attempt: Callable[[UnitOfWork], Any],
    on_exhausted: Callable[[], Any],
    *,
    begin_in_pipeline: bool = False,
) -> Any:
    """Run ``attempt`` in a fresh transaction, again when it lost a stock race."""
    for _ in range(retries):
        try:
            with UnitOfWork(engine, begin_in_pipeline=begin_in_pipeline) as uow:
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
    guard: idempotency.BoundGuard | None = None,
) -> Placed:
    """``guard`` goes into the idempotency key's claim, the transaction's first
    statement: the API checks there that the caller's key is still valid, without a
    statement or a transaction of its own."""
    wanted = req.quantities()
    config = promise_config or PromiseConfig()

    def quoted_plan(
        conn: Connection, products: dict[str, Product] | None = None
    ) -> promise.QuotedPlan:
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
            products,
        )

    def attempt(uow: UnitOfWork) -> Placed:
        conn = uow.conn
        plain = req.quote_id is None and req.hold_id is None
        # One round trip on PostgreSQL: BEGIN, the key's claim (which also checks the
        # caller's API key, through ``guard``) and, for a plain order, the intake read.
        with pipelined(conn):
            claim = idempotency.Claim(conn, idem_scope, idem_key, fingerprint, now, guard)
            intake = _send_intake_read(conn, wanted) if plain else None
        stored = claim.result()
        if stored is not None:
            return Placed(stored.status_code, stored.response, replayed=True)
        order_id = new_id("ord")
        quoted: promise.QuotedPlan | None = None
        floors: dict[str, int] = {}
        if req.quote_id is not None:
            # The promise engine reuses the products read here (same transaction).
            quoted = quoted_plan(conn, _check_products(conn, merchant_id, wanted))
            plan, floors = quoted.requests, quoted.floors
        elif req.hold_id is not None:
            _check_products(conn, merchant_id, wanted)
            plan = _take_hold(uow, merchant_id, req.hold_id, order_id, wanted, now)
        else:
            assert intake is not None
            rows = intake.fetchall()
            plan, floors = _source(conn, merchant_id, wanted, req.destination, now, rows)
        stock: inventory.PendingStock | None = None
        # The writes in one round trip on PostgreSQL: plain inserts, then (last, so the
        # stock rows stay locked only until the commit right after) the conditional
        # stock UPDATEs, whose answers are read once the pipeline has synced.
        with pipelined(conn):
            body = _insert_order(
                conn, merchant_id, order_id, req, plan, now, quoted.promise if quoted else None
            )
            accepted, allocated = (_event_payload(body, s) for s in ("accepted", "allocated"))
            record(
                conn,
                [
                    Event("order.accepted", order_id, merchant_id, accepted),
                    Event("order.allocated", order_id, merchant_id, allocated),
                ],
                now,
            )
            if not req.customer.get("id"):
                idempotency.complete(conn, idem_scope, idem_key, 201, body)
            if req.hold_id is None:
                inventory.record_reservations(conn, merchant_id, order_id, plan, now)
                stock = inventory.send_stock_updates(conn, merchant_id, plan, now, floors)
        if stock is not None:
            stock.confirm()  # a lost race raises and rolls the whole transaction back
        if quoted is not None:
            # Slots after stock, both in sorted order: all or nothing, never a deadlock.
            promise.book_slots(conn, merchant_id, order_id, quoted.slots, now)
            if quoted.promise.get("locker"):
                _hold_locker(conn, merchant_id, order_id, quoted.promise, plan, now)
        if req.customer.get("id"):
            # Points last: the account row is locked after stock and slots, as on cancel.
            body["loyalty"] = points.checkout(
                conn, merchant_id, order_id, req.customer["id"], req.lines, req.points_to_burn, now
            )
            with pipelined(conn):
                conn.execute(_SET_LOYALTY, {"b_id": order_id, "b_loyalty": body["loyalty"]})
                idempotency.complete(conn, idem_scope, idem_key, 201, body)
        if after_commit:
            uow.after_commit(after_commit)
        return Placed(201, body, replayed=False)

    def exhausted() -> Placed:
        with UnitOfWork(engine, readonly=True) as uow:
            if req.quote_id is not None:
                quoted_plan(uow.conn)  # raises option_unavailable if it is gone
            else:
                _source(uow.conn, merchant_id, wanted, req.destination, now)
        raise Conflict("stock is changing too fast; try again", code="stock_contention")

    try:
        result: Placed = _with_retries(engine, retries, attempt, exhausted, begin_in_pipeline=True)
    except promise.PromiseConflict as exc:
        # Say what is available now, with a fresh quote to order on.
        fresh = promise.requote_details(engine, merchant_id, exc.request, now, config)
        exc.details = {**(exc.details or {}), **fresh}
        raise
    return result


def _hold_locker(
    conn: Connection,
    merchant_id: str,
    order_id: str,
    promised: dict[str, Any],
    plan: list[StockRequest],
    now: datetime,
) -> None:
    per_hub: dict[str, dict[str, int]] = defaultdict(dict)
    for r in plan:
        per_hub[r.hub_id][r.product_id] = per_hub[r.hub_id].get(r.product_id, 0) + r.quantity
    products = products_by_id(conn, merchant_id, sorted({r.product_id for r in plan}))
    parcels = {
        hub: (
            bundle_dims(products, lines),
            sum(products[p].weight_g * q for p, q in lines.items()),
        )
        for hub, lines in per_hub.items()
    }
    window_to = datetime.fromisoformat(promised["window"]["to"])
    hold_for_order(conn, merchant_id, order_id, promised["locker"], parcels, window_to, now)


_SET_LOYALTY = (
    update(orders_table)
    .where(orders_table.c.id == bindparam("b_id"))
    .values(loyalty=bindparam("b_loyalty", type_=orders_table.c.loyalty.type))
)


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


_INSERT_ORDER = Prepared(insert(orders_table))
_INSERT_LINES = Prepared(insert(order_lines_table))
_INSERT_SHIPMENTS = Prepared(insert(shipments_table))


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
    _INSERT_ORDER.write(conn, {**order, "version": 2})
    _INSERT_LINES.executemany(
        conn,
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
    # When each hub expects the parcel packed: the promise says, for quoted orders.
    ready_at = {
        s["hub_id"]: datetime.fromisoformat(s["ready_at"])
        for s in (promise_json or {}).get("shipments", [])
    }
    shipments = [
        {
            "id": new_id("shp"),
            "order_id": order_id,
            "merchant_id": merchant_id,
            "hub_id": h,
            "status": "pending",
            "created_at": now,
            "updated_at": now,
            "tracking_token": secrets.token_urlsafe(18),
            "proof": req.proof,
            "pin": f"{secrets.randbelow(10_000):04d}" if req.proof and req.proof["pin"] else None,
            "ready_at": ready_at.get(h),
        }
        for h in hubs
    ]
    _INSERT_SHIPMENTS.executemany(conn, shipments)
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
        [
            {
                "id": s["id"],
                "hub_id": s["hub_id"],
                "status": s["status"],
                "tracking_token": s["tracking_token"],
            }
            for s in shipments
        ],
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
        "loyalty": order.get("loyalty"),
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
        select(sc.order_id, sc.id, sc.hub_id, sc.status, sc.tracking_token)
        # A return's pickup is shown with the return, not among the order's deliveries.
        .where(sc.order_id.in_(ids), sc.direction == "out")
        .order_by(sc.hub_id)
    ):
        ships[sh.order_id].append(
            {
                "id": sh.id,
                "hub_id": sh.hub_id,
                "status": sh.status,
                "tracking_token": sh.tracking_token,
            }
        )
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


_SHIPMENT_GONE = ("out_for_delivery", "handed_to_carrier", "delivered", "cancelled")

# A transition's read and write, built once: the move needs the order's status and the
# names its event carries, not the whole order (delivery's order sync moves every order
# through several states, and this pair ran for each step of each).
_HEAD = select(
    orders_table.c.id, orders_table.c.merchant_id, orders_table.c.status,
    orders_table.c.external_ref,
).where(orders_table.c.id == bindparam("b_id"))  # fmt: skip
_HEAD_KEYS = ("id", "merchant_id", "status", "external_ref")
_MOVE = (
    update(orders_table)
    .where(orders_table.c.id == bindparam("b_id"), orders_table.c.status == bindparam("b_from"))
    .values(
        status=bindparam("b_to"), version=orders_table.c.version + 1, updated_at=bindparam("b_now")
    )
)


def transition(
    uow: UnitOfWork,
    merchant_id: str | None,
    order_id: str,
    target: OrderStatus,
    now: datetime,
    *,
    reason: str | None = None,
    ship: bool = True,
    fetch: bool = True,
    head: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Move an order to ``target``; the UPDATE is conditional on the state we checked.
    ``ship=False``: delivery consumes the stock itself, shipment by shipment.
    ``fetch=False``: answer only the order's id, merchant, reference and new status, not
    the whole order (for callers that ignore the answer). ``head``: that answer (or
    those four columns) as this transaction last read or moved them, instead of a read:
    a stale one only makes the conditional UPDATE fail."""
    conn = uow.conn
    if head is None:
        row = conn.execute(_HEAD, {"b_id": order_id}).first()
        head = None if row is None else dict(row._mapping)
    if head is None or (merchant_id is not None and head["merchant_id"] != merchant_id):
        raise NotFound(f"order {order_id} not found", code="order_not_found")
    current = {k: head[k] for k in _HEAD_KEYS}
    source = OrderStatus(current["status"])
    check_transition(source, target)
    res = conn.execute(
        _MOVE, {"b_id": order_id, "b_from": source.value, "b_to": target.value, "b_now": now}
    )
    if res.rowcount != 1:
        raise Conflict("the order changed meanwhile; read it again", code="concurrent_update")
    if target is OrderStatus.CANCELLED:
        inventory.release_owner(uow, order_id, now)
        promise.release_slots(conn, order_id, now)
        release_holds(conn, order_id, current["merchant_id"], now)
        sc = shipments_table.c
        # The parcels never leave: the planner drops them, a courier skips their stops.
        conn.execute(
            update(shipments_table)
            .where(sc.order_id == order_id, sc.status.not_in(_SHIPMENT_GONE))
            .values(status="cancelled", version=sc.version + 1, updated_at=now)
        )
    elif ship and target is OrderStatus.OUT_FOR_DELIVERY and source is not OrderStatus.FAILED:
        inventory.ship_owner(uow, order_id, now)
    if target is OrderStatus.CANCELLED or (
        source is OrderStatus.FAILED and target is OrderStatus.RETURNED
    ):
        # Nothing was kept: the order's points go back (after stock and slots: lock order).
        points.order_cancelled(conn, current["merchant_id"], order_id, now)
    payload = _event_payload(current, target.value)
    payload["order"]["previous_status"] = source.value
    if reason:
        payload["reason"] = reason
    record(conn, [Event(f"order.{target.value}", order_id, current["merchant_id"], payload)], now)
    if not fetch:
        return {**current, "status": target.value}
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
        plan, floors = _source(uow.conn, merchant_id, wanted, req.destination, now)
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
