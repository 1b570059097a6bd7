"""Inbound: advance shipping notices, receiving by scan against the notice (over, short
and damaged recorded), and random stow. Stock becomes available to promise only when it
is stowed: the dock is not a place an order can be picked from."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hubflow.catalog.service import products_by_id
from hubflow.core.clock import iso_z
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, InvalidInput, NotFound
from hubflow.core.events import Event, record
from hubflow.core.ids import new_id
from hubflow.core.upsert import insert_on_conflict
from hubflow.fulfillment.store import asn_lines_table, asns_table, bin_stock_table, bins_table
from hubflow.fulfillment.stow import (
    BinRoom,
    Goods,
    choose_bin,
    choose_in_walk_order,
    units_that_fit,
    walk_order,
)
from hubflow.inventory import service as inventory
from hubflow.network.store import get_hub

__all__ = [
    "close_asn",
    "create_asn",
    "get_asn",
    "put_away",
    "receive_scan",
    "receive_scans",
    "stow",
    "stow_all",
    "suggest_bin",
]


def create_asn(
    uow: UnitOfWork,
    merchant_id: str,
    hub_id: str,
    lines: list[tuple[str, int]],
    now: datetime,
    *,
    reference: str | None = None,
    expected_at: datetime | None = None,
) -> dict[str, Any]:
    """A merchant announces what it is sending to a hub."""
    conn = uow.conn
    if get_hub(conn, hub_id) is None:
        raise InvalidInput(f"unknown hub {hub_id}", code="unknown_hub")
    wanted: dict[str, int] = {}
    for product_id, qty in lines:
        wanted[product_id] = wanted.get(product_id, 0) + qty
    unknown = sorted(set(wanted) - set(products_by_id(conn, merchant_id, list(wanted))))
    if unknown:
        raise InvalidInput(
            "unknown product(s) for this merchant",
            code="unknown_product",
            details={"product_ids": unknown},
        )
    asn_id = new_id("asn")
    conn.execute(
        insert(asns_table).values(
            id=asn_id,
            merchant_id=merchant_id,
            hub_id=hub_id,
            reference=reference,
            status="expected",
            expected_at=expected_at,
            created_at=now,
        )
    )
    conn.execute(
        insert(asn_lines_table),
        [
            {
                "asn_id": asn_id,
                "product_id": p,
                "expected": q,
                "received": 0,
                "damaged": 0,
                "stowed": 0,
            }
            for p, q in sorted(wanted.items())
        ],
    )
    record(conn, [Event("asn.created", asn_id, merchant_id, {"asn_id": asn_id})], now)
    return get_asn(conn, merchant_id, asn_id)


def get_asn(conn: Connection, merchant_id: str | None, asn_id: str) -> dict[str, Any]:
    a, l_ = asns_table.c, asn_lines_table.c
    q = select(asns_table).where(a.id == asn_id)
    if merchant_id is not None:
        q = q.where(a.merchant_id == merchant_id)
    row = conn.execute(q).first()
    if row is None:
        raise NotFound(f"notice {asn_id} not found", code="asn_not_found")
    lines = conn.execute(
        select(asn_lines_table).where(l_.asn_id == asn_id).order_by(l_.product_id)
    ).all()
    return {
        "id": row.id,
        "merchant_id": row.merchant_id,
        "hub_id": row.hub_id,
        "reference": row.reference,
        "status": row.status,
        "expected_at": iso_z(row.expected_at),
        "created_at": iso_z(row.created_at),
        "closed_at": iso_z(row.closed_at),
        "lines": [
            {
                "product_id": x.product_id,
                "expected": x.expected,
                "received": x.received,
                "damaged": x.damaged,
                "stowed": x.stowed,
                "at_dock": x.received - x.stowed,
                "over": max(0, x.received + x.damaged - x.expected),
                "short": max(0, x.expected - x.received - x.damaged),
            }
            for x in lines
        ],
    }


def _open_asn(conn: Connection, asn_id: str) -> Any:
    a = asns_table.c
    row = conn.execute(select(asns_table).where(a.id == asn_id)).first()
    if row is None:
        raise NotFound(f"notice {asn_id} not found", code="asn_not_found")
    if row.status == "closed":
        raise Conflict("the notice is closed", code="asn_closed")
    return row


def receive_scan(
    uow: UnitOfWork, asn_id: str, product_id: str, quantity: int, damaged: bool, now: datetime
) -> dict[str, Any]:
    """Units scanned at the dock against the notice; a product the notice does not list
    is refused (it goes to problem solving, not to stock)."""
    return receive_scans(uow, asn_id, [(product_id, quantity, damaged)], now)


def receive_scans(
    uow: UnitOfWork, asn_id: str, scans: list[tuple[str, int, bool]], now: datetime
) -> dict[str, Any]:
    """:func:`receive_scan` for a list of (product id, units, damaged): a whole truck
    unloaded, answered once."""
    conn = uow.conn
    row = _open_asn(conn, asn_id)
    l_ = asn_lines_table.c
    for product_id, quantity, damaged in scans:
        column = l_.damaged if damaged else l_.received
        res = conn.execute(
            update(asn_lines_table)
            .where(l_.asn_id == asn_id, l_.product_id == product_id)
            .values({column.name: column + quantity})
        )
        if res.rowcount != 1:
            raise Conflict(
                "this product is not on the notice",
                code="product_not_on_asn",
                details={"product_id": product_id},
            )
    if row.status == "expected":
        conn.execute(update(asns_table).where(asns_table.c.id == asn_id).values(status="receiving"))
    return get_asn(conn, None, asn_id)


def _rooms(conn: Connection, hub_id: str, product_id: str) -> list[BinRoom]:
    b, s = bins_table.c, bin_stock_table.c
    holding = set(
        conn.execute(
            select(s.bin_id).where(s.hub_id == hub_id, s.product_id == product_id, s.quantity > 0)
        ).scalars()
    )
    return [
        _room(x, holds_product=x.id in holding)
        for x in conn.execute(select(bins_table).where(b.hub_id == hub_id, b.active))
    ]


def _room(x: Any, *, holds_product: bool = False) -> BinRoom:
    """What the stow policy needs to know of a bin row."""
    return BinRoom(
        id=x.id,
        zone=x.zone,
        x_mm=x.x_mm,
        y_mm=x.y_mm,
        free_volume_cm3=x.length_mm * x.width_mm * x.height_mm // 1000 - x.used_volume_cm3,
        free_weight_g=x.max_weight_g - x.used_weight_g,
        inner_mm=(x.length_mm, x.width_mm, x.height_mm),
        holds_product=holds_product,
    )


def _goods(conn: Connection, merchant_id: str, product_id: str, quantity: int) -> Goods:
    p = products_by_id(conn, merchant_id, [product_id])[product_id]
    return Goods(p.dims_mm, p.weight_g, quantity)


def _dock(conn: Connection, hub_id: str) -> tuple[int, int]:
    """Where goods come in: where carts start, the depot (read off the layout document;
    building the whole layout for it cost more than the stow)."""
    from hubflow.fulfillment.store import layouts_table

    doc = conn.execute(
        select(layouts_table.c.layout).where(layouts_table.c.hub_id == hub_id)
    ).scalar()
    if doc is None:
        return 0, 0
    aisle = doc["aisles"][doc.get("depot_aisle", 0)]
    return int(aisle["x_mm"]), int(doc["cross_aisles"][0]["y_mm"])


def suggest_bin(
    conn: Connection, asn_id: str, product_id: str, quantity: int, policy: str
) -> dict[str, Any]:
    row = _open_asn(conn, asn_id)
    goods = _goods(conn, row.merchant_id, product_id, quantity)
    room = choose_bin(_rooms(conn, row.hub_id, product_id), goods, _dock(conn, row.hub_id), policy)
    if room is None:
        raise Conflict(
            "no bin has room for these units; stow fewer or free a bin", code="no_bin_with_room"
        )
    code = conn.execute(select(bins_table.c.code).where(bins_table.c.id == room.id)).scalar()
    return {"bin_id": room.id, "bin_code": code, "zone": room.zone, "policy": policy}


def stow(
    uow: UnitOfWork, asn_id: str, product_id: str, quantity: int, bin_code: str, now: datetime
) -> dict[str, Any]:
    """Units from the dock into the bin scanned. Any bin with room will do (random stow);
    a bin that cannot take them is refused. The units become available to promise."""
    conn = uow.conn
    row = _open_asn(conn, asn_id)
    b = bins_table.c
    bin_row = conn.execute(
        select(bins_table).where(b.hub_id == row.hub_id, b.code == bin_code, b.active)
    ).first()
    if bin_row is None:
        raise InvalidInput(f"no bin {bin_code!r} at this hub", code="unknown_bin")
    goods = _goods(conn, row.merchant_id, product_id, quantity)
    room = next(r for r in _rooms(conn, row.hub_id, product_id) if r.id == bin_row.id)
    if units_that_fit(room, goods) < quantity:
        raise Conflict(
            "this bin has no room for these units",
            code="bin_full",
            details={"bin_code": bin_code, "fits": units_that_fit(room, goods)},
        )
    l_ = asn_lines_table.c
    # Only what is at the dock can be stowed: received minus already stowed.
    res = conn.execute(
        update(asn_lines_table)
        .where(
            l_.asn_id == asn_id, l_.product_id == product_id, l_.stowed + quantity <= l_.received
        )
        .values(stowed=l_.stowed + quantity)
    )
    if res.rowcount != 1:
        raise Conflict("fewer units are at the dock for this notice", code="not_at_dock")
    if not _into_bin(
        conn, row.hub_id, row.merchant_id, bin_row.id, product_id, goods, quantity, now
    ):
        raise Conflict("this bin has no room for these units", code="bin_full")
    inventory.receive(
        uow,
        row.merchant_id,
        row.hub_id,
        product_id,
        quantity,
        now,
        ref=asn_id,
        note=f"stowed in {bin_code}",
    )
    return {
        "asn_id": asn_id,
        "product_id": product_id,
        "quantity": quantity,
        "bin_code": bin_code,
        "bin_id": bin_row.id,
    }


def _into_bin(
    conn: Connection,
    hub_id: str,
    merchant_id: str,
    bin_id: str,
    product_id: str,
    goods: Goods,
    quantity: int,
    now: datetime,
) -> bool:
    """Units into a bin if it has room (volume and weight checked in the UPDATE itself)."""
    b, s = bins_table.c, bin_stock_table.c
    volume, weight = goods.unit_volume_cm3 * quantity, goods.weight_g * quantity
    res = conn.execute(
        update(bins_table)
        .where(
            b.id == bin_id,
            b.used_weight_g + weight <= b.max_weight_g,
            (b.used_volume_cm3 + volume) * 1000 <= b.length_mm * b.width_mm * b.height_mm,
        )
        .values(used_volume_cm3=b.used_volume_cm3 + volume, used_weight_g=b.used_weight_g + weight)
    )
    if res.rowcount != 1:
        return False
    conn.execute(
        insert_on_conflict(conn, bin_stock_table)
        .values(
            bin_id=bin_id,
            product_id=product_id,
            merchant_id=merchant_id,
            hub_id=hub_id,
            quantity=quantity,
            updated_at=now,
        )
        .on_conflict_do_update(
            index_elements=["bin_id", "product_id"],
            set_={"quantity": s.quantity + quantity, "updated_at": now},
        )
    )
    return True


def put_away(
    uow: UnitOfWork,
    hub_id: str,
    merchant_id: str,
    lines: list[tuple[str, int]],
    now: datetime,
    *,
    policy: str = "spread",
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Units into bins chosen by the stow policy, as many bins as it takes: what
    :func:`stow` does for one scan, for a whole list at once (the bins are read once).
    Only the bins change: the hub's count is the caller's (a stow receives the units, a
    restocked return was received already). Answers the placements and, per product, the
    units no bin had room for."""
    conn = uow.conn
    b, s = bins_table.c, bin_stock_table.c
    wanted = sorted((p, q) for p, q in lines if q > 0)
    if not wanted:
        return [], {}
    codes: dict[str, str] = {}
    rooms: list[BinRoom] = []
    for x in conn.execute(select(bins_table).where(b.hub_id == hub_id, b.active).order_by(b.code)):
        codes[x.id] = x.code
        rooms.append(_room(x))
    if not rooms:  # a hub without a layout keeps no stock in bins
        return [], dict(wanted)
    products = products_by_id(conn, merchant_id, sorted({p for p, _ in wanted}))
    held: dict[str, set[str]] = {}
    for h in conn.execute(
        select(s.bin_id, s.product_id).where(
            s.hub_id == hub_id, s.product_id.in_(list(products)), s.quantity > 0
        )
    ):
        held.setdefault(h.product_id, set()).add(h.bin_id)
    rooms = walk_order(rooms, _dock(conn, hub_id))  # sorted once for every product
    at = {r.id: i for i, r in enumerate(rooms)}
    placed: list[dict[str, Any]] = []
    left: dict[str, int] = {}
    for product_id, qty in wanted:
        p = products.get(product_id)
        if p is None:
            raise InvalidInput(f"unknown product {product_id}", code="unknown_product")
        mine = held.setdefault(product_id, set())
        while qty > 0:
            view = [replace(r, holds_product=True) if r.id in mine else r for r in rooms]
            room = choose_in_walk_order(view, Goods(p.dims_mm, p.weight_g, qty), policy)
            n = qty
            if room is None:  # no bin takes them all: fill the policy's bin for one unit
                one = Goods(p.dims_mm, p.weight_g, 1)
                room = choose_in_walk_order(view, one, policy)
                if room is None:
                    left[product_id] = qty
                    break
                n = min(qty, units_that_fit(room, one))
            goods = Goods(p.dims_mm, p.weight_g, n)
            i = at[room.id]
            if not _into_bin(conn, hub_id, merchant_id, room.id, product_id, goods, n, now):
                rooms[i] = replace(rooms[i], free_volume_cm3=0, free_weight_g=0)  # taken meanwhile
                continue
            rooms[i] = replace(
                rooms[i],
                free_volume_cm3=rooms[i].free_volume_cm3 - goods.unit_volume_cm3 * n,
                free_weight_g=rooms[i].free_weight_g - goods.weight_g * n,
            )
            mine.add(room.id)
            placed.append(
                {
                    "product_id": product_id,
                    "bin_id": room.id,
                    "bin_code": codes[room.id],
                    "quantity": n,
                }
            )
            qty -= n
    return placed, left


def stow_all(
    uow: UnitOfWork, asn_id: str, now: datetime, *, policy: str = "spread"
) -> dict[str, Any]:
    """Everything at the dock for this notice into bins chosen by ``policy`` (the put-away
    list a stower works through); the units become available to promise. Units no bin has
    room for stay at the dock."""
    conn = uow.conn
    row = _open_asn(conn, asn_id)
    l_ = asn_lines_table.c
    lines = [
        (x.product_id, x.received - x.stowed)
        for x in conn.execute(
            select(l_.product_id, l_.received, l_.stowed).where(
                l_.asn_id == asn_id, l_.received > l_.stowed
            )
        )
    ]
    placed, left = put_away(uow, row.hub_id, row.merchant_id, lines, now, policy=policy)
    stowed: dict[str, int] = {}
    for x in placed:
        stowed[x["product_id"]] = stowed.get(x["product_id"], 0) + x["quantity"]
    for product_id, qty in sorted(stowed.items()):
        res = conn.execute(
            update(asn_lines_table)
            .where(l_.asn_id == asn_id, l_.product_id == product_id, l_.stowed + qty <= l_.received)
            .values(stowed=l_.stowed + qty)
        )
        if res.rowcount != 1:
            raise Conflict("fewer units are at the dock for this notice", code="not_at_dock")
        inventory.receive(
            uow,
            row.merchant_id,
            row.hub_id,
            product_id,
            qty,
            now,
            ref=asn_id,
            note="stowed by put-away list",
        )
    return {
        "asn_id": asn_id,
        "stows": [{k: x[k] for k in ("product_id", "bin_code", "quantity")} for x in placed],
        "left_at_dock": left,
    }


def close_asn(
    uow: UnitOfWork, merchant_id: str | None, asn_id: str, now: datetime
) -> dict[str, Any]:
    """Receiving is over: the notice records what was over, short and damaged."""
    conn = uow.conn
    row = _open_asn(conn, asn_id)
    if merchant_id is not None and row.merchant_id != merchant_id:
        raise NotFound(f"notice {asn_id} not found", code="asn_not_found")
    conn.execute(
        update(asns_table).where(asns_table.c.id == asn_id).values(status="closed", closed_at=now)
    )
    out = get_asn(conn, None, asn_id)
    record(conn, [Event("asn.closed", asn_id, row.merchant_id, {"asn": out})], now)
    return out
