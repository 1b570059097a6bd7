"""Apartment mailroom at work: the courier deposits for a resident's unit (no code of
its own), and the resident's unit and standing code at the keypad open all their
compartments at once.

A wrong resident code counts against the bank's keypad (the same rate limit as parcel
codes) and against the resident of the unit typed, who locks after five; the operator
unlocks. Counting is one UPDATE that adds one, so parallel guesses are all counted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, select, update

from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict
from hubflow.core.upsert import insert_on_conflict
from hubflow.delivery.model import ShipmentStatus
from hubflow.delivery.orders_sync import sync_order
from hubflow.delivery.tracking import move, shipment_row
from hubflow.lockers import service
from hubflow.lockers.mailroom_admin import (
    active_resident,
    get_mailroom,
    operator_event,
    parse_unit,
)
from hubflow.lockers.mailroom_model import ResidentStatus, normalize_unit, unit_from_address
from hubflow.lockers.mailroom_store import (
    mailrooms_table,
    resident_parcels_table,
    residents_table,
)
from hubflow.lockers.model import MAX_FAILURES, codes_match
from hubflow.lockers.store import compartments_table
from hubflow.orders.store import orders_table

__all__ = ["collect", "deposit"]


def deposit(
    uow: UnitOfWork,
    bank_id: str,
    shipment_id: str,
    now: datetime,
    *,
    label: str | None = None,
    resident: str | None = None,
) -> dict[str, Any]:
    """The courier's deposit scan, mailroom-aware. In a mailroom the parcel is for the
    unit the courier names or, failing that, the unit in the shipping address; with a
    registered resident it gets no code of its own. A parcel whose address names no
    registered unit still goes in, with a single-use code as in any locker."""
    conn = uow.conn
    mailroom = get_mailroom(conn, bank_id)
    if not mailroom.enabled:
        if resident is not None:
            raise Conflict("this locker is not a mailroom", code="not_a_mailroom")
        return service.deposit(uow, bank_id, shipment_id, now, label=label)
    if resident is not None:
        unit: str | None = parse_unit(resident)
    else:
        address = conn.execute(
            select(orders_table.c.address).where(
                orders_table.c.id == shipment_row(conn, shipment_id)["order_id"]
            )
        ).scalar()
        unit = unit_from_address(address or {})
    row = None if unit is None else active_resident(conn, bank_id, unit)
    if row is None:
        if resident is not None:
            raise Conflict(f"no resident is registered for unit {unit}", code="unknown_resident")
        return service.deposit(uow, bank_id, shipment_id, now, label=label, hold=mailroom.hold)
    out = service.deposit(
        uow, bank_id, shipment_id, now, label=label, hold=mailroom.hold, resident_unit=row.unit
    )
    values = {"resident_id": row.id, "bank_id": bank_id, "deposited_at": now, "collected_at": None}
    conn.execute(
        insert_on_conflict(conn, resident_parcels_table)
        .values(shipment_id=shipment_id, **values)
        .on_conflict_do_update(index_elements=["shipment_id"], set_=values)
    )
    return {**out, "resident": {"id": row.id, "unit": row.unit}}


def _count_failure(conn: Connection, resident_id: str, now: datetime) -> None:
    """One more wrong code for this resident, added in SQL (never read-then-write);
    the fifth locks."""
    r = residents_table.c
    row = conn.execute(
        update(residents_table)
        .where(r.id == resident_id, r.status == ResidentStatus.ACTIVE.value)
        .values(
            failures=r.failures + 1,
            status=case(
                (r.failures + 1 >= MAX_FAILURES, ResidentStatus.LOCKED.value),
                else_=ResidentStatus.ACTIVE.value,
            ),
        )
        .returning(r.status, r.bank_id, r.unit)
    ).first()
    if row is not None and row.status == ResidentStatus.LOCKED.value:
        payload = {"bank_id": row.bank_id, "resident_id": resident_id, "unit": row.unit}
        operator_event(conn, "locker.resident_locked", resident_id, payload, now)


def _waiting(conn: Connection, bank_id: str, resident_id: str) -> list[Any]:
    c, p = compartments_table.c, resident_parcels_table.c
    return list(
        conn.execute(
            select(compartments_table)
            .join(resident_parcels_table, p.shipment_id == c.shipment_id)
            .where(
                c.bank_id == bank_id,
                c.status == "occupied",
                p.resident_id == resident_id,
                p.collected_at.is_(None),
            )
            .order_by(c.label)
        ).all()
    )


def collect(uow: UnitOfWork, bank_id: str, unit: str, code: str, now: datetime) -> dict[str, Any]:
    """The resident's unit and standing code at the keypad: every compartment waiting
    for them opens and each parcel is delivered. Like :func:`service.pickup`, a failed
    try comes back as ``{"opened": False, "error": (code, message)}`` so that the
    caller commits the count before answering."""
    conn = uow.conn
    service.check_keypad(conn, bank_id, now)
    # Once set up, a mailroom's residents can collect what waits for them even while
    # mailroom mode is off (it stops only new deposits for residents).
    m = mailrooms_table.c
    if conn.execute(select(m.bank_id).where(m.bank_id == bank_id)).first() is None:
        raise Conflict("this locker is not a mailroom", code="not_a_mailroom")
    norm = normalize_unit(unit)
    row = None if norm is None else active_resident(conn, bank_id, norm)
    if row is not None and row.status == ResidentStatus.LOCKED.value:
        raise Conflict(
            "this resident's code is locked after too many wrong tries; ask the building",
            code="resident_locked",
        )
    if row is None or not codes_match(row.id, code, row.code_hash):
        # One answer for an unknown unit and a wrong code: units are not disclosed.
        service.count_bank_failure(conn, bank_id, now)
        if row is not None:
            _count_failure(conn, row.id, now)
        return {"opened": False, "error": ("wrong_code", "wrong unit or code")}
    r = residents_table.c
    conn.execute(
        update(residents_table)
        .where(r.id == row.id, r.status == ResidentStatus.ACTIVE.value)
        .values(failures=0)
    )
    waiting = _waiting(conn, bank_id, row.id)
    ready = [x for x in waiting if x.expires_at is None or x.expires_at > now]
    if not ready:
        # Answered, not raised: the right code has reset the count, which must commit.
        if waiting:
            return {"opened": False, "error": ("expired_code", "the parcels' hold has ended")}
        return {"opened": False, "error": ("nothing_waiting", "no parcel waits for this unit")}
    for x in ready:
        _hand_over(uow, x, row.unit, now)
    return {
        "opened": True,
        "compartments": [x.label for x in ready],
        "shipment_ids": [x.shipment_id for x in ready],
    }


def _hand_over(uow: UnitOfWork, compartment: Any, unit: str, now: datetime) -> None:
    """One compartment opens for the resident: it frees up and its parcel is delivered
    (one line on that shipment's timeline)."""
    conn = uow.conn
    if not service.release(conn, compartment, only_if="occupied"):
        raise Conflict("the compartment changed meanwhile; try again", code="concurrent_update")
    p = resident_parcels_table.c
    conn.execute(
        update(resident_parcels_table)
        .where(p.shipment_id == compartment.shipment_id)
        .values(collected_at=now)
    )
    ship = shipment_row(conn, compartment.shipment_id)
    move(
        conn,
        ship,
        ShipmentStatus.DELIVERED,
        now,
        kind="delivered",
        details={"collected_from": compartment.label, "mailroom_unit": unit},
    )
    sync_order(uow, ship["order_id"], now)
