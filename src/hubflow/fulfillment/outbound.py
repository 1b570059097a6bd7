"""Outbound: waves of pick tasks by dispatch cutoff, bins allocated from what each holds,
scanning picks (the right bin, the right product), and short picks that look elsewhere
and raise a cycle count."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Integer, bindparam, exists, func, insert, select, update

from hubflow.catalog.store import products_table
from hubflow.core.clock import iso_z
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, InvalidInput, NotFound
from hubflow.core.events import Event, record
from hubflow.core.ids import new_id
from hubflow.fulfillment.store import (
    bin_stock_table,
    bins_table,
    cycle_counts_table,
    layouts_table,
    pick_tasks_table,
    waves_table,
)
from hubflow.inventory.store import reservations_table
from hubflow.orders.store import orders_table, shipments_table

__all__ = ["Planner", "create_wave", "get_wave", "pick", "report_short"]

# Orders the wave into batches and each batch's picks into walking order: given a reader
# of the hub's layout document (called only by a planner that has not read it already)
# and, per shipment, the bins to visit, return batches of shipment ids and, per batch, the
# bin ids in walking order with the distance walked.
Planner = Callable[
    [Callable[[], dict[str, Any]], dict[str, list[dict[str, Any]]]],
    list[tuple[list[str], list[str], int]],
]


_lay = layouts_table.c
# Touching the row (revision = revision) takes its lock without changing it.
_LOCK_LAYOUT = (
    update(layouts_table).where(_lay.hub_id == bindparam("b_hub")).values(revision=_lay.revision)
)
_LAYOUT_DOC = select(_lay.layout).where(_lay.hub_id == bindparam("b_hub"))


def _lock_hub(conn: Connection, hub_id: str) -> None:
    """Serialise wave building per hub (two waves must not allocate the same units):
    touching the layout row takes its row lock until commit."""
    if conn.execute(_LOCK_LAYOUT, {"b_hub": hub_id}).rowcount != 1:
        raise Conflict("the hub has no layout yet", code="no_layout")


def _layout_doc(conn: Connection, hub_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = conn.execute(_LAYOUT_DOC, {"b_hub": hub_id}).scalar_one()
    return doc


_s, _o, _t = shipments_table.c, orders_table.c, pick_tasks_table.c
_DUE = (
    select(_s.id, _s.order_id, _s.ready_at, _o.created_at)
    .join(orders_table, _o.id == _s.order_id)
    .where(
        _s.hub_id == bindparam("b_hub"),
        _s.packed_at.is_(None),
        _s.status.in_(["pending", "assigned", "offered", "carrier_pending"]),
        # Correlated, so each candidate is one index probe rather than every task of the day.
        ~exists().where(_t.shipment_id == _s.id),
        # A hub behind its work holds thousands not yet due: they stay in the database.
        func.coalesce(_s.ready_at, _o.created_at) <= bindparam("b_cutoff"),
    )
    .order_by(_s.id)
)


def _due_shipments(conn: Connection, hub_id: str, cutoff: datetime) -> list[Any]:
    """Unpacked shipments at the hub not yet in a wave, due to leave by the cutoff."""
    return list(conn.execute(_DUE, {"b_hub": hub_id, "b_cutoff": cutoff}).all())


_r = reservations_table.c
_LINES = select(_r.owner_id, _r.product_id, _r.quantity).where(
    _r.owner_id.in_(bindparam("b_orders", expanding=True)),
    _r.hub_id == bindparam("b_hub"),
    _r.status == "active",
)


def _lines(conn: Connection, hub_id: str, order_ids: list[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for x in conn.execute(_LINES, {"b_orders": order_ids, "b_hub": hub_id}):
        out[x.owner_id][x.product_id] = out[x.owner_id].get(x.product_id, 0) + x.quantity
    return out


_bs, _b = bin_stock_table.c, bins_table.c
# Per bin row, its open tasks (an index probe on status and bin), not every open task
# of every hub grouped first.
_OPEN_QTY = (
    select(func.sum(_t.quantity - _t.picked))
    .where(_t.status == "open", _t.bin_id == _bs.bin_id, _t.product_id == _bs.product_id)
    .scalar_subquery()
)
_FREE_IN_BINS = (
    select(_bs.bin_id, _b.code, _bs.product_id, _bs.quantity, _OPEN_QTY.label("n"))
    .join(bins_table, _b.id == _bs.bin_id)
    .where(
        _bs.hub_id == bindparam("b_hub"),
        _bs.product_id.in_(bindparam("b_products", expanding=True)),
        _b.active,
    )
    .order_by(_b.code)
)


def _free_in_bins(conn: Connection, hub_id: str, products: set[str]) -> dict[str, list[list[Any]]]:
    """Per product, [bin id, units not yet promised to an open pick task], by bin code."""
    rows = conn.execute(_FREE_IN_BINS, {"b_hub": hub_id, "b_products": list(products)})
    free: dict[str, list[list[Any]]] = defaultdict(list)
    for x in rows:
        if (n := x.quantity - int(x.n or 0)) > 0:
            free[x.product_id].append([x.bin_id, n, x.code])
    return free


_INSERT_TASKS = insert(pick_tasks_table)


def create_wave(
    uow: UnitOfWork, hub_id: str, cutoff: datetime, now: datetime, planner: Planner
) -> dict[str, Any]:
    """A wave of everything due by ``cutoff``: each line allocated to bins that hold it,
    orders batched onto carts, each cart's picks in walking order."""
    conn = uow.conn
    _lock_hub(conn, hub_id)
    ships = _due_shipments(conn, hub_id, cutoff)
    lines = _lines(conn, hub_id, [s.order_id for s in ships])
    free = _free_in_bins(conn, hub_id, {p for q in lines.values() for p in q})
    visits: dict[str, list[dict[str, Any]]] = {}
    short: dict[str, dict[str, int]] = {}
    for s in ships:
        mine: list[dict[str, Any]] = []
        for product, qty in sorted(lines.get(s.order_id, {}).items()):
            for slot in free.get(product, []):
                if qty == 0:
                    break
                take = min(qty, slot[1])
                if take:
                    mine.append(
                        {
                            "bin_id": slot[0],
                            "bin_code": slot[2],
                            "product_id": product,
                            "quantity": take,
                        }
                    )
                    slot[1] -= take
                    qty -= take
            if qty:
                short.setdefault(s.id, {})[product] = qty
        if mine:
            visits[s.id] = mine
    wave_id = new_id("wav")
    by_bin = {slot[0]: slot[2] for slots in free.values() for slot in slots}  # id -> code
    batches = planner(
        lambda: _layout_doc(conn, hub_id),
        {sid: v for sid, v in visits.items() if sid not in short},
    )
    tasks: list[dict[str, Any]] = []
    plan: list[dict[str, Any]] = []
    for k, (shipment_ids, walk, distance) in enumerate(batches):
        order = {bin_id: i for i, bin_id in enumerate(walk)}
        totes = {sid: i for i, sid in enumerate(shipment_ids)}
        batch = [
            (order[v["bin_id"]], totes[sid], sid, v) for sid in shipment_ids for v in visits[sid]
        ]
        for seq, (_, tote, sid, v) in enumerate(sorted(batch, key=lambda b: (b[0], b[1]))):
            tasks.append(
                {
                    "id": new_id("pck"),
                    "wave_id": wave_id,
                    "batch": k,
                    "seq": seq,
                    "tote": tote,
                    "shipment_id": sid,
                    "product_id": v["product_id"],
                    "bin_id": v["bin_id"],
                    "quantity": v["quantity"],
                    "picked": 0,
                    "status": "open",
                    "version": 1,
                }
            )
        plan.append({"batch": k, "shipments": shipment_ids, "distance_mm": distance})
    conn.execute(
        insert(waves_table).values(
            id=wave_id,
            hub_id=hub_id,
            cutoff_at=cutoff,
            status="released",
            plan={"batches": plan, "short": short},
            created_at=now,
        )
    )
    if tasks:
        conn.execute(_INSERT_TASKS, tasks)
    record(
        conn,
        [
            Event(
                "wave.released",
                wave_id,
                None,
                {"wave_id": wave_id, "hub_id": hub_id, "tasks": len(tasks)},
            )
        ],
        now,
    )
    # The wave as get_wave would read it back, from what was just written.
    picks: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for t in tasks:  # in (batch, seq) order already
        picks[t["batch"]].append(
            {
                "task_id": t["id"],
                "seq": t["seq"],
                "bin_code": by_bin[t["bin_id"]],
                "product_id": t["product_id"],
                "quantity": t["quantity"],
                "picked": t["picked"],
                "tote": t["tote"],
                "shipment_id": t["shipment_id"],
                "status": t["status"],
            }
        )
    return {
        "id": wave_id,
        "hub_id": hub_id,
        "status": "released",
        "cutoff_at": iso_z(cutoff.astimezone(UTC)),
        "created_at": iso_z(now.astimezone(UTC)),
        "batches": [{**b, "picks": picks.get(b["batch"], [])} for b in plan],
        "short": short,
    }


def get_wave(conn: Connection, wave_id: str) -> dict[str, Any]:
    w, t, b = waves_table.c, pick_tasks_table.c, bins_table.c
    wave = conn.execute(select(waves_table).where(w.id == wave_id)).first()
    if wave is None:
        raise NotFound(f"wave {wave_id} not found", code="wave_not_found")
    rows = conn.execute(
        select(pick_tasks_table, b.code.label("bin_code"))
        .join(bins_table, b.id == t.bin_id)
        .where(t.wave_id == wave_id)
        .order_by(t.batch, t.seq)
    ).all()
    lists: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for x in rows:
        lists[x.batch].append(
            {
                "task_id": x.id,
                "seq": x.seq,
                "bin_code": x.bin_code,
                "product_id": x.product_id,
                "quantity": x.quantity,
                "picked": x.picked,
                "tote": x.tote,
                "shipment_id": x.shipment_id,
                "status": x.status,
            }
        )
    return {
        "id": wave.id,
        "hub_id": wave.hub_id,
        "status": wave.status,
        "cutoff_at": iso_z(wave.cutoff_at),
        "created_at": iso_z(wave.created_at),
        "batches": [{**b_, "picks": lists.get(b_["batch"], [])} for b_ in wave.plan["batches"]],
        "short": wave.plan.get("short", {}),
    }


def _task(conn: Connection, task_id: str) -> Any:
    row = conn.execute(select(pick_tasks_table).where(pick_tasks_table.c.id == task_id)).first()
    if row is None:
        raise NotFound(f"pick task {task_id} not found", code="pick_task_not_found")
    return row


# A scan's statements, built once: a day of picking runs them tens of thousands of times.
_TAKE = (
    update(bin_stock_table)
    .where(
        bin_stock_table.c.bin_id == bindparam("b_bin"),
        bin_stock_table.c.product_id == bindparam("b_product"),
        bin_stock_table.c.quantity >= bindparam("b_qty"),
    )
    .values(
        quantity=bin_stock_table.c.quantity - bindparam("b_qty"),
        updated_at=bindparam("b_now", type_=bin_stock_table.c.updated_at.type),
    )
)


def _freed(least: Callable[..., Any]) -> Any:
    """The bin's used room less what left it, never below zero (``least``: the dialect's
    two-argument maximum)."""
    b = bins_table.c
    return (
        update(bins_table)
        .where(b.id == bindparam("b_bin"))
        .values(
            used_volume_cm3=least(b.used_volume_cm3 - bindparam("b_volume", type_=Integer()), 0),
            used_weight_g=least(b.used_weight_g - bindparam("b_weight", type_=Integer()), 0),
        )
    )


_FREE_SQLITE, _FREE = _freed(func.max), _freed(func.greatest)


def _take_from_bin(
    conn: Connection,
    bin_id: str,
    product_id: str,
    quantity: int,
    now: datetime,
    unit: tuple[int, int],
) -> bool:
    """Remove units from a bin if it holds them (one conditional UPDATE)."""
    res = conn.execute(
        _TAKE, {"b_bin": bin_id, "b_product": product_id, "b_qty": quantity, "b_now": now}
    )
    if res.rowcount != 1:
        return False
    conn.execute(
        _FREE_SQLITE if conn.dialect.name == "sqlite" else _FREE,
        {"b_bin": bin_id, "b_volume": unit[0] * quantity, "b_weight": unit[1] * quantity},
    )
    return True


def unit_size(conn: Connection, product_id: str) -> tuple[int, int]:
    p = products_table.c
    row = conn.execute(
        select(p.length_mm, p.width_mm, p.height_mm, p.weight_g).where(p.id == product_id)
    ).one()
    return max(1, row.length_mm * row.width_mm * row.height_mm // 1000), row.weight_g


# The task, its bin's label and its product's size in one read.
_SCANNED_TASK = (
    select(
        pick_tasks_table,
        bins_table.c.code.label("bin_code"),
        products_table.c.length_mm,
        products_table.c.width_mm,
        products_table.c.height_mm,
        products_table.c.weight_g,
    )
    .join(bins_table, bins_table.c.id == pick_tasks_table.c.bin_id)
    .join(products_table, products_table.c.id == pick_tasks_table.c.product_id)
    .where(pick_tasks_table.c.id == bindparam("b_task"))
)


def pick(
    uow: UnitOfWork,
    task_id: str,
    bin_code: str,
    product_id: str,
    quantity: int,
    now: datetime,
) -> dict[str, Any]:
    """A scanner's pick: the bin and the product scanned must be the task's."""
    task = uow.conn.execute(_SCANNED_TASK, {"b_task": task_id}).first()
    if task is None:
        raise NotFound(f"pick task {task_id} not found", code="pick_task_not_found")
    if task.status != "open":
        raise Conflict(f"the task is {task.status}", code="task_not_open")
    code = task.bin_code
    if bin_code != code:
        raise Conflict(
            "wrong bin: go to the bin on the pick list",
            code="wrong_bin",
            details={"expected": code, "scanned": bin_code},
        )
    if product_id != task.product_id:
        raise Conflict(
            "wrong product for this pick",
            code="wrong_product",
            details={"expected": task.product_id, "scanned": product_id},
        )
    if quantity > task.quantity - task.picked:
        raise InvalidInput(
            "more than the task asks for",
            code="over_pick",
            details={"remaining": task.quantity - task.picked},
        )
    conn = uow.conn
    unit = (max(1, task.length_mm * task.width_mm * task.height_mm // 1000), task.weight_g)
    if not _take_from_bin(conn, task.bin_id, product_id, quantity, now, unit):
        raise Conflict("the bin holds fewer units than that; report a short pick", code="bin_short")
    done = _advance(conn, task, quantity)
    return {
        "task_id": task.id,
        "status": "picked" if done else "open",
        "picked": task.picked + quantity,
        "quantity": task.quantity,
        "shipment_id": task.shipment_id,
    }


_ADVANCE = (
    update(pick_tasks_table)
    .where(
        pick_tasks_table.c.id == bindparam("b_task"),
        pick_tasks_table.c.version == bindparam("b_version"),
    )
    .values(
        picked=pick_tasks_table.c.picked + bindparam("b_qty", type_=Integer()),
        version=pick_tasks_table.c.version + 1,
        status=bindparam("b_status"),
    )
)


def _advance(conn: Connection, task: Any, quantity: int) -> bool:
    """The task's count moves on (``True``: it is complete)."""
    done = bool(task.picked + quantity == task.quantity)
    res = conn.execute(
        _ADVANCE,
        {
            "b_task": task.id,
            "b_version": task.version,
            "b_qty": quantity,
            "b_status": "picked" if done else "open",
        },
    )
    if res.rowcount != 1:
        raise Conflict("the task changed meanwhile; scan again", code="concurrent_update")
    return done


def _task_json(conn: Connection, task_id: str) -> dict[str, Any]:
    t = _task(conn, task_id)
    return {
        "task_id": t.id,
        "status": t.status,
        "picked": t.picked,
        "quantity": t.quantity,
        "shipment_id": t.shipment_id,
    }


def _correct_stock(
    uow: UnitOfWork, held: Any, product_id: str, missing: int, bin_id: str, now: datetime
) -> int:
    """The hub's count drops by what is gone, but never below what orders hold; returns
    the part left uncorrected (oversold in reality until the orders move elsewhere)."""
    from hubflow.inventory import service as inventory
    from hubflow.inventory.model import AdjustmentReason

    if missing <= 0:
        return 0
    pos = inventory.position(uow.conn, held.hub_id, product_id)
    fix = min(missing, pos.on_hand - pos.reserved)
    if fix > 0:
        inventory.adjust(
            uow,
            held.merchant_id,
            held.hub_id,
            product_id,
            -fix,
            AdjustmentReason.CYCLE_COUNT,
            now,
            note=f"short pick in bin {bin_id}",
        )
    return missing - max(fix, 0)


def report_short(uow: UnitOfWork, task_id: str, found: int, now: datetime) -> dict[str, Any]:
    """The bin holds only ``found`` units: pick those, raise a cycle count, correct the
    bin and the hub's stock, and send the picker to another bin for the rest."""
    conn = uow.conn
    task = _task(conn, task_id)
    if task.status != "open":
        raise Conflict(f"the task is {task.status}", code="task_not_open")
    remaining = task.quantity - task.picked
    if not 0 <= found < remaining:
        raise InvalidInput(
            "found must be less than what the task still needs", code="invalid_short"
        )
    bs = bin_stock_table.c
    held = conn.execute(
        select(bs.quantity, bs.merchant_id, bs.hub_id).where(
            bs.bin_id == task.bin_id, bs.product_id == task.product_id
        )
    ).one()
    conn.execute(
        insert(cycle_counts_table).values(
            id=new_id("cyc"),
            bin_id=task.bin_id,
            product_id=task.product_id,
            reason="short_pick",
            expected=held.quantity,
            counted=found,
            status="done",
            created_at=now,
            done_at=now,
        )
    )
    unit = unit_size(conn, task.product_id)
    if found:
        _take_from_bin(conn, task.bin_id, task.product_id, found, now, unit)
    # The rest of what the system thought was here is not: the bin is empty now.
    missing = held.quantity - found
    if missing > 0:
        _take_from_bin(conn, task.bin_id, task.product_id, missing, now, unit)
    deficit = _correct_stock(uow, held, task.product_id, missing, task.bin_id, now)
    t = pick_tasks_table.c
    conn.execute(
        update(pick_tasks_table)
        .where(t.id == task.id)
        .values(
            picked=task.picked + found,
            quantity=task.picked + found,
            status="short",
            version=t.version + 1,
        )
    )
    still = remaining - found
    replacement = None
    free = _free_in_bins(conn, held.hub_id, {task.product_id}).get(task.product_id, [])
    for bin_id, n, _ in free:
        if n >= still:
            replacement = new_id("pck")
            conn.execute(
                insert(pick_tasks_table).values(
                    id=replacement,
                    wave_id=task.wave_id,
                    batch=task.batch,
                    seq=task.seq,
                    tote=task.tote,
                    shipment_id=task.shipment_id,
                    product_id=task.product_id,
                    bin_id=bin_id,
                    quantity=still,
                    picked=0,
                    status="open",
                    version=1,
                )
            )
            break
    moved = None
    if replacement is None:
        from hubflow.fulfillment.reallocate import reallocate

        # No bin here has the rest: the order's units move to another hub that has them.
        moved = reallocate(uow, task.shipment_id, task.product_id, still, now)
        if moved is not None:
            # The order no longer holds those units here: the count can now drop too.
            _correct_stock(uow, held, task.product_id, deficit, task.bin_id, now)
        else:
            payload = {
                "shipment_id": task.shipment_id,
                "product_id": task.product_id,
                "missing": still,
            }
            record(
                conn, [Event("pick.unfillable", task.shipment_id, held.merchant_id, payload)], now
            )
    return {
        "task_id": task_id,
        "status": "short",
        "found": found,
        "next_task": _task_json(conn, replacement) if replacement else None,
        "reallocated": moved,
    }
