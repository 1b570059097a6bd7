"""Inbound: advance shipping notices, receiving by scan against the notice (over, short
and damaged recorded), and random stow. Stock becomes available to promise only when it
is stowed: the dock is not a place an order can be picked from."""

from __future__ import annotations

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
from hubflow.fulfillment.stow import BinRoom, Goods, choose_bin, units_that_fit
from hubflow.inventory import service as inventory
from hubflow.network.store import get_hub

__all__ = ["close_asn", "create_asn", "get_asn", "receive_scan", "stow", "suggest_bin"]


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
    conn = uow.conn
    row = _open_asn(conn, asn_id)
    l_ = asn_lines_table.c
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
        BinRoom(
            id=x.id,
            zone=x.zone,
            x_mm=x.x_mm,
            y_mm=x.y_mm,
            free_volume_cm3=x.length_mm * x.width_mm * x.height_mm // 1000 - x.used_volume_cm3,
            free_weight_g=x.max_weight_g - x.used_weight_g,
            inner_mm=(x.length_mm, x.width_mm, x.height_mm),
            holds_product=x.id in holding,
        )
        for x in conn.execute(select(bins_table).where(b.hub_id == hub_id, b.active))
    ]


def _goods(conn: Connection, merchant_id: str, product_id: str, quantity: int) -> Goods:
    p = products_by_id(conn, merchant_id, [product_id])[product_id]
    return Goods(p.dims_mm, p.weight_g, quantity)


def _dock(conn: Connection, hub_id: str) -> tuple[int, int]:
    from hubflow.fulfillment.layout import Layout
    from hubflow.fulfillment.store import layouts_table

    doc = conn.execute(
        select(layouts_table.c.layout).where(layouts_table.c.hub_id == hub_id)
    ).scalar()
    if doc is None:
        return 0, 0
    depot = Layout.from_json(doc).depot  # goods come in where carts start
    return depot.x_mm, depot.y_mm


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
    volume, weight = goods.unit_volume_cm3 * quantity, goods.weight_g * quantity
    res = conn.execute(
        update(bins_table)
        .where(
            b.id == bin_row.id,
            b.used_weight_g + weight <= b.max_weight_g,
            (b.used_volume_cm3 + volume) * 1000 <= b.length_mm * b.width_mm * b.height_mm,
        )
        .values(used_volume_cm3=b.used_volume_cm3 + volume, used_weight_g=b.used_weight_g + weight)
    )
    if res.rowcount != 1:
        raise Conflict("this bin has no room for these units", code="bin_full")
    s = bin_stock_table.c
    conn.execute(
        insert_on_conflict(conn, bin_stock_table)
        .values(
            bin_id=bin_row.id,
            product_id=product_id,
            merchant_id=row.merchant_id,
            hub_id=row.hub_id,
            quantity=quantity,
            updated_at=now,
        )
        .on_conflict_do_update(
            index_elements=["bin_id", "product_id"],
            set_={"quantity": s.quantity + quantity, "updated_at": now},
        )
    )
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
