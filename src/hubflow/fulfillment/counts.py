"""Cycle counts: a bin's count is checked against what the system holds, and the
difference becomes a bin correction and a stock adjustment with a reason code."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hubflow.core.clock import iso_z
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, InvalidInput, NotFound
from hubflow.core.ids import new_id
from hubflow.core.upsert import insert_on_conflict
from hubflow.fulfillment.store import bin_stock_table, bins_table, cycle_counts_table
from hubflow.inventory import service as inventory
from hubflow.inventory.model import AdjustmentReason

__all__ = ["list_counts", "record_count", "schedule_count"]


def _json(row: Any, code: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "bin_code": code,
        "product_id": row.product_id,
        "reason": row.reason,
        "expected": row.expected,
        "counted": row.counted,
        "status": row.status,
        "created_at": iso_z(row.created_at),
        "done_at": iso_z(row.done_at),
    }


def schedule_count(
    uow: UnitOfWork, hub_id: str, bin_code: str, product_id: str, reason: str, now: datetime
) -> dict[str, Any]:
    conn = uow.conn
    b = bins_table.c
    bin_row = conn.execute(
        select(b.id).where(b.hub_id == hub_id, b.code == bin_code, b.active)
    ).first()
    if bin_row is None:
        raise InvalidInput(f"no bin {bin_code!r} at this hub", code="unknown_bin")
    count_id = new_id("cyc")
    conn.execute(
        insert(cycle_counts_table).values(
            id=count_id,
            bin_id=bin_row.id,
            product_id=product_id,
            reason=reason,
            expected=0,
            counted=None,
            status="open",
            created_at=now,
        )
    )
    return _get(conn, count_id)


def _get(conn: Connection, count_id: str) -> dict[str, Any]:
    c, b = cycle_counts_table.c, bins_table.c
    row = conn.execute(
        select(cycle_counts_table, b.code)
        .join(bins_table, b.id == c.bin_id)
        .where(c.id == count_id)
    ).first()
    if row is None:
        raise NotFound(f"cycle count {count_id} not found", code="count_not_found")
    return _json(row, row.code)


def list_counts(conn: Connection, hub_id: str, status: str | None) -> list[dict[str, Any]]:
    c, b = cycle_counts_table.c, bins_table.c
    q = (
        select(cycle_counts_table, b.code)
        .join(bins_table, b.id == c.bin_id)
        .where(b.hub_id == hub_id)
        .order_by(c.created_at, c.id)
    )
    if status is not None:
        q = q.where(c.status == status)
    return [_json(r, r.code) for r in conn.execute(q)]


def _resize_bin(conn: Connection, bin_row: Any, product_id: str, delta: int) -> None:
    """The bin's fill follows the count, within what the bin can physically hold."""
    from hubflow.fulfillment.outbound import unit_size

    volume, weight = unit_size(conn, product_id)
    cap = bin_row.length_mm * bin_row.width_mm * bin_row.height_mm // 1000
    b = bins_table.c
    res = conn.execute(
        update(bins_table)
        .where(
            b.id == bin_row.id,
            b.used_volume_cm3 == bin_row.used_volume_cm3,
            b.used_weight_g == bin_row.used_weight_g,
        )
        .values(
            used_volume_cm3=min(cap, max(0, bin_row.used_volume_cm3 + delta * volume)),
            used_weight_g=min(bin_row.max_weight_g, max(0, bin_row.used_weight_g + delta * weight)),
        )
    )
    if res.rowcount != 1:
        raise Conflict("the bin changed meanwhile; count again", code="concurrent_update")


def record_count(
    uow: UnitOfWork, count_id: str, counted: int, merchant_id: str | None, now: datetime
) -> dict[str, Any]:
    """The counter's figure replaces the bin's; the hub's stock moves by the difference
    (``found`` or ``lost``), never below what orders hold."""
    conn = uow.conn
    c = cycle_counts_table.c
    row = conn.execute(select(cycle_counts_table).where(c.id == count_id)).first()
    if row is None:
        raise NotFound(f"cycle count {count_id} not found", code="count_not_found")
    s, b = bin_stock_table.c, bins_table.c
    bin_row = conn.execute(select(bins_table).where(b.id == row.bin_id)).one()
    held = conn.execute(
        select(s.quantity, s.merchant_id).where(
            s.bin_id == row.bin_id, s.product_id == row.product_id
        )
    ).first()
    expected = held.quantity if held else 0
    owner = held.merchant_id if held else merchant_id
    delta = counted - expected
    if delta != 0 and owner is None:
        raise InvalidInput("say whose goods were found (merchant_id)", code="owner_required")
    res = conn.execute(
        update(cycle_counts_table)
        .where(c.id == count_id, c.status == "open")
        .values(status="done", expected=expected, counted=counted, done_at=now)
    )
    if res.rowcount != 1:
        raise Conflict("the count is already recorded", code="count_done")
    if delta < 0:
        pos = inventory.position(conn, bin_row.hub_id, row.product_id)
        if pos.on_hand + delta < pos.reserved:
            raise Conflict(
                "the count leaves less than orders hold; re-allocate them first",
                code="adjustment_below_reserved",
                details={"on_hand": pos.on_hand, "reserved": pos.reserved},
            )
    if delta != 0:
        assert owner is not None
        conn.execute(
            insert_on_conflict(conn, bin_stock_table)
            .values(
                bin_id=row.bin_id,
                product_id=row.product_id,
                merchant_id=owner,
                hub_id=bin_row.hub_id,
                quantity=counted,
                updated_at=now,
            )
            .on_conflict_do_update(
                index_elements=["bin_id", "product_id"],
                set_={"quantity": counted, "updated_at": now},
            )
        )
        _resize_bin(conn, bin_row, row.product_id, delta)
        reason = AdjustmentReason.FOUND if delta > 0 else AdjustmentReason.LOST
        if delta > 0 and inventory.position(conn, bin_row.hub_id, row.product_id).on_hand == 0:
            inventory.receive(
                uow,
                owner,
                bin_row.hub_id,
                row.product_id,
                delta,
                now,
                ref=count_id,
                note="found in a cycle count",
            )
        else:
            inventory.adjust(
                uow,
                owner,
                bin_row.hub_id,
                row.product_id,
                delta,
                reason,
                now,
                note=f"cycle count {count_id}",
            )
    return _get(conn, count_id)
