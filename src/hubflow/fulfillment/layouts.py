"""A hub's layout: stored as the layout document, and as one row per bin so stock can be
kept per bin and locked by row. Editing the layout keeps bins that still hold stock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, InvalidInput, NotFound
from hubflow.core.ids import new_id
from hubflow.core.upsert import insert_on_conflict
from hubflow.fulfillment.layout import Layout
from hubflow.fulfillment.store import bin_stock_table, bins_table, layouts_table
from hubflow.network.store import get_hub

__all__ = ["get_layout", "load_layout", "put_layout"]


def load_layout(doc: dict[str, Any]) -> Layout:
    try:
        return Layout.from_json(doc)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"invalid layout: {exc}", code="invalid_layout") from exc


def put_layout(uow: UnitOfWork, hub_id: str, doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Replace the hub's layout. Bins keep their ids by code; a bin that disappears must
    be empty (move its stock first)."""
    conn = uow.conn
    if get_hub(conn, hub_id) is None:
        raise NotFound(f"hub {hub_id} not found", code="hub_not_found")
    layout = load_layout(doc)
    b, s = bins_table.c, bin_stock_table.c
    existing = {r.code: r for r in conn.execute(select(bins_table).where(b.hub_id == hub_id))}
    new_codes = {x.id for x in layout.bins}
    held = set(
        conn.execute(
            select(b.code)
            .join(bin_stock_table, s.bin_id == b.id)
            .where(b.hub_id == hub_id, s.quantity > 0)
        ).scalars()
    )
    if gone := sorted(held - new_codes):
        raise Conflict("these bins still hold stock", code="bin_in_use", details={"bins": gone})
    racks = {r.id: r for r in layout.racks}
    new_bins: list[dict[str, Any]] = []
    for x in layout.bins:
        rack = racks[x.rack]
        cx, cy, _ = layout.coordinates(x.id)
        loc = layout.location(x.id)
        values = {
            "zone": rack.zone,
            "x_mm": cx,
            "y_mm": cy,
            "level": x.level,
            "length_mm": x.width_mm,
            "width_mm": x.depth_mm,
            "height_mm": x.height_mm,
            "max_weight_g": x.max_weight_g,
            "active": True,
            "location": {"aisle": loc.aisle, "position_mm": loc.position_mm, "side": loc.side},
        }
        old = existing.get(x.id)
        if old is None:
            new_bins.append(
                {
                    "id": new_id("bin"),
                    "hub_id": hub_id,
                    "code": x.id,
                    "used_volume_cm3": 0,
                    "used_weight_g": 0,
                    **values,
                }
            )
        else:
            conn.execute(update(bins_table).where(b.id == old.id).values(**values))
    if new_bins:  # one statement for all of them: a new floor has thousands
        conn.execute(insert(bins_table), new_bins)
    for code, old in existing.items():
        if code not in new_codes:
            conn.execute(update(bins_table).where(b.id == old.id).values(active=False))
    lay = layouts_table.c
    conn.execute(
        insert_on_conflict(conn, layouts_table)
        .values(hub_id=hub_id, layout=layout.as_json(), revision=1, updated_at=now)
        .on_conflict_do_update(
            index_elements=["hub_id"],
            set_={"layout": layout.as_json(), "revision": lay.revision + 1, "updated_at": now},
        )
    )
    return get_layout(conn, hub_id)


def get_layout(conn: Connection, hub_id: str) -> dict[str, Any]:
    lay, b = layouts_table.c, bins_table.c
    row = conn.execute(select(layouts_table).where(lay.hub_id == hub_id)).first()
    if row is None:
        raise NotFound(f"hub {hub_id} has no layout", code="layout_not_found")
    n = conn.execute(select(b.id).where(b.hub_id == hub_id, b.active)).all()
    layout = Layout.from_json(row.layout)
    return {
        "hub_id": hub_id,
        "revision": row.revision,
        "blocks": layout.blocks,
        "aisles": len(layout.aisles),
        "bins": len(n),
        "depot": {"x_mm": layout.depot.x_mm, "y_mm": layout.depot.y_mm},
        "layout": row.layout,
    }


def bin_contents(conn: Connection, hub_id: str, product_id: str | None) -> list[dict[str, Any]]:
    b, s = bins_table.c, bin_stock_table.c
    q = (
        select(
            b.code,
            b.zone,
            b.level,
            b.used_volume_cm3,
            b.used_weight_g,
            b.max_weight_g,
            b.length_mm,
            b.width_mm,
            b.height_mm,
            s.product_id,
            s.quantity,
        )
        .outerjoin(bin_stock_table, (s.bin_id == b.id) & (s.quantity > 0))
        .where(b.hub_id == hub_id, b.active)
        .order_by(b.code, s.product_id)
    )
    if product_id is not None:
        q = q.where(s.product_id == product_id)
    out: dict[str, dict[str, Any]] = {}
    for r in conn.execute(q):
        entry = out.setdefault(
            r.code,
            {
                "bin_code": r.code,
                "zone": r.zone,
                "level": r.level,
                "free_volume_cm3": r.length_mm * r.width_mm * r.height_mm // 1000
                - r.used_volume_cm3,
                "free_weight_g": r.max_weight_g - r.used_weight_g,
                "contents": [],
            },
        )
        if r.product_id is not None:
            entry["contents"].append({"product_id": r.product_id, "quantity": r.quantity})
    return list(out.values())
