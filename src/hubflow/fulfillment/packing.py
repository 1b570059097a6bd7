"""Pack and hand over: a shipment's picked units go into cartons from the hub's box
catalogue; the packed parcel becomes ready for dispatch with its real weight and size,
and gets a shipping label."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select

from hubflow.catalog.store import products_table
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, InvalidInput, NotFound
from hubflow.core.ids import new_id
from hubflow.delivery.shipments import get_shipment, set_packed
from hubflow.delivery.tracking import shipment_row
from hubflow.fulfillment.cartonize import Box, Item, check_packing, pack
from hubflow.fulfillment.label import LabelAddress, ShippingLabel, label_pdf
from hubflow.fulfillment.store import box_types_table, cartons_table, pick_tasks_table
from hubflow.network.store import get_hub
from hubflow.orders.store import orders_table

__all__ = ["list_boxes", "pack_cartons", "pack_shipment", "put_boxes", "shipping_label"]

PACK_TIME_LIMIT_S = 2.0


def put_boxes(uow: UnitOfWork, hub_id: str, boxes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replace the hub's box catalogue."""
    conn = uow.conn
    if get_hub(conn, hub_id) is None:
        raise NotFound(f"hub {hub_id} not found", code="hub_not_found")
    codes = [b["code"] for b in boxes]
    if len(set(codes)) != len(codes):
        raise InvalidInput("box codes must be unique", code="duplicate_box")
    bt = box_types_table.c
    used = set(conn.execute(select(cartons_table.c.box_type_id).distinct()).scalars())
    old = {r.code: r.id for r in conn.execute(select(bt.code, bt.id).where(bt.hub_id == hub_id))}
    for code, box_id in old.items():
        if code not in codes and box_id in used:
            raise Conflict(
                "a box type already used for cartons cannot be removed",
                code="box_in_use",
                details={"code": code},
            )
    conn.execute(delete(box_types_table).where(bt.hub_id == hub_id, bt.id.not_in(used)))
    for b in boxes:
        if b["code"] in old and old[b["code"]] in used:
            continue  # kept as it was: cartons point at it
        conn.execute(
            insert(box_types_table).values(
                id=new_id("box"),
                hub_id=hub_id,
                code=b["code"],
                length_mm=b["dims_mm"][0],
                width_mm=b["dims_mm"][1],
                height_mm=b["dims_mm"][2],
                max_weight_g=b["max_weight_g"],
                cost=b.get("cost", 0),
            )
        )
    return list_boxes(conn, hub_id)


_BOXES = (
    select(box_types_table)
    .where(box_types_table.c.hub_id == bindparam("b_hub"))
    .order_by(box_types_table.c.code)
)
_PICKED = select(
    pick_tasks_table.c.product_id, pick_tasks_table.c.picked, pick_tasks_table.c.status
).where(pick_tasks_table.c.shipment_id == bindparam("b_shipment"))
_PRODUCTS = select(products_table).where(
    products_table.c.id.in_(bindparam("b_ids", expanding=True))
)
_INSERT_CARTONS = insert(cartons_table)


def list_boxes(conn: Connection, hub_id: str) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "code": r.code,
            "dims_mm": [r.length_mm, r.width_mm, r.height_mm],
            "max_weight_g": r.max_weight_g,
            "cost": r.cost,
        }
        for r in conn.execute(_BOXES, {"b_hub": hub_id})
    ]


def _picked_units(conn: Connection, shipment_id: str) -> dict[str, int]:
    rows = conn.execute(_PICKED, {"b_shipment": shipment_id}).all()
    if not rows:
        raise Conflict("nothing has been picked for this shipment", code="not_picked")
    if any(r.status == "open" for r in rows):
        raise Conflict("some picks are still open", code="picks_open")
    units: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.picked:
            units[r.product_id] += r.picked
    if not units:
        raise Conflict(
            "nothing was picked for this shipment; its units moved to another hub",
            code="nothing_to_pack",
        )
    return dict(units)


def pack_shipment(
    uow: UnitOfWork,
    shipment_id: str,
    now: datetime,
    *,
    time_limit_s: float = PACK_TIME_LIMIT_S,
    work_limit: int | None = None,
) -> dict[str, Any]:
    """:func:`pack_cartons`, answering the shipment as it is now with its cartons."""
    cartons = pack_cartons(uow, shipment_id, now, time_limit_s=time_limit_s, work_limit=work_limit)
    return {**get_shipment(uow.conn, None, shipment_id), "cartons": cartons}


def pack_cartons(
    uow: UnitOfWork,
    shipment_id: str,
    now: datetime,
    *,
    time_limit_s: float = PACK_TIME_LIMIT_S,
    work_limit: int | None = None,
) -> list[dict[str, Any]]:
    """Cartonize the picked units, record the cartons, and mark the parcel packed
    (``work_limit``: a deterministic search budget instead of the time limit); the
    cartons."""
    conn = uow.conn
    ship = shipment_row(conn, shipment_id)
    if ship["packed_at"] is not None:
        raise Conflict("the parcel is already packed", code="already_packed")
    units = _picked_units(conn, shipment_id)
    catalogue = list_boxes(conn, ship["hub_id"])
    if not catalogue:
        raise Conflict("the hub has no boxes in its catalogue", code="no_boxes")
    products = {r.id: r for r in conn.execute(_PRODUCTS, {"b_ids": list(units)})}
    items = [
        Item(
            f"{pid}.{k + 1}",
            (products[pid].length_mm, products[pid].width_mm, products[pid].height_mm),
            products[pid].weight_g,
        )
        for pid, n in sorted(units.items())
        for k in range(n)
    ]
    boxes = [
        Box(b["code"], tuple(b["dims_mm"]), b["max_weight_g"], float(b["cost"]) or None)
        for b in catalogue
    ]
    if len({b.cost is None for b in boxes}) > 1:
        boxes = [Box(b.id, b.dims, b.max_weight) for b in boxes]
    packing = pack(boxes, items, time_limit_s=time_limit_s, seed=0, work_limit=work_limit)
    if packing.unpacked:
        raise Conflict(
            "some items fit no box of this hub",
            code="items_do_not_fit",
            details={"items": [u.item_id for u in packing.unpacked]},
        )
    if problems := check_packing(boxes, items, packing):
        raise RuntimeError(f"cartonization produced an invalid packing: {problems}")
    by_code = {b["code"]: b for b in catalogue}
    cartons = []
    for used in packing.boxes_used:
        box = by_code[used.box_id]
        volume = box["dims_mm"][0] * box["dims_mm"][1] * box["dims_mm"][2]
        filled = sum(pl.size[0] * pl.size[1] * pl.size[2] for pl in used.placements)
        cartons.append(
            {
                "id": new_id("ctn"),
                "shipment_id": shipment_id,
                "box_type_id": box["id"],
                "weight_g": used.weight,
                "fill": round(filled / volume, 4),
                "created_at": now,
                "placements": [
                    {
                        "item": pl.item_id,
                        "position": list(pl.position),
                        "size": list(pl.size),
                        "orientation": pl.orientation,
                    }
                    for pl in used.placements
                ],
            }
        )
    conn.execute(_INSERT_CARTONS, cartons)
    biggest = max(
        (by_code[u.box_id] for u in packing.boxes_used),
        key=lambda b: b["dims_mm"][0] * b["dims_mm"][1] * b["dims_mm"][2],
    )
    total_volume = sum(
        by_code[u.box_id]["dims_mm"][0]
        * by_code[u.box_id]["dims_mm"][1]
        * by_code[u.box_id]["dims_mm"][2]
        // 1000
        for u in packing.boxes_used
    )
    set_packed(
        uow,
        shipment_id,
        now,
        ship=ship,  # as read above, in this transaction: only cartons were written since
        weight_g=max(1, sum(c["weight_g"] for c in cartons)),
        dims_mm=(biggest["dims_mm"][0], biggest["dims_mm"][1], biggest["dims_mm"][2]),
        volume_cm3=total_volume,
    )
    return [
        {
            "id": c["id"],
            "box": next(b["code"] for b in catalogue if b["id"] == c["box_type_id"]),
            "weight_g": c["weight_g"],
            "fill": c["fill"],
            "placements": c["placements"],
        }
        for c in cartons
    ]


def shipping_label(conn: Connection, shipment_id: str, base_url: str) -> bytes:
    ship = shipment_row(conn, shipment_id)
    if ship["packed_at"] is None:
        raise Conflict("pack the parcel before printing its label", code="not_packed")
    hub = get_hub(conn, ship["hub_id"])
    assert hub is not None
    o = conn.execute(
        select(orders_table.c.customer, orders_table.c.address).where(
            orders_table.c.id == ship["order_id"]
        )
    ).one()
    a = o.address
    lines = [
        a.get("line1", ""),
        a.get("line2") or "",
        f"{a.get('postcode', '')} {a.get('city', '')}",
        a.get("country", ""),
    ]
    label = ShippingLabel(
        sender=LabelAddress(hub.name, (hub.region,)),
        recipient=LabelAddress(
            o.customer.get("name", "Customer"), tuple(x.strip() for x in lines if x.strip())
        ),
        shipment_id=shipment_id,
        weight_g=ship["weight_g"] or 1,
        tracking=f"{base_url.rstrip('/')}/v1/tracking/{ship['tracking_token']}",
    )
    return label_pdf(label)
