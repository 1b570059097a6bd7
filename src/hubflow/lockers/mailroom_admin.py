"""Mailroom administration (operator): a bank's mailroom mode and hold, and its
residents, each with a standing code (issued, rotated, unlocked, revoked). Codes are
shown once, in the answer that issues them; only salted hashes are stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from hubflow.core.clock import iso_z
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, InvalidInput, NotFound
from hubflow.core.events import Event, record
from hubflow.core.ids import new_id
from hubflow.core.upsert import insert_on_conflict
from hubflow.lockers.mailroom_model import (
    MAILROOM_HOLD,
    ResidentStatus,
    new_resident_code,
    normalize_unit,
)
from hubflow.lockers.mailroom_store import mailrooms_table, residents_table
from hubflow.lockers.model import code_hash
from hubflow.lockers.store import banks_table

__all__ = [
    "Mailroom",
    "active_resident",
    "add_resident",
    "get_mailroom",
    "list_residents",
    "operator_event",
    "parse_unit",
    "revoke_resident",
    "rotate_code",
    "set_mailroom",
    "unlock_resident",
]


@dataclass(frozen=True)
class Mailroom:
    enabled: bool
    hold: timedelta

    def to_json(self) -> dict[str, Any]:
        # Set in whole days (stored in hours).
        return {"enabled": self.enabled, "hold_days": self.hold.days}


def _apartment_bank(conn: Connection, bank_id: str) -> None:
    b = banks_table.c
    kind = conn.execute(select(b.kind).where(b.id == bank_id)).scalar()
    if kind is None:
        raise NotFound(f"locker bank {bank_id} not found", code="bank_not_found")
    if kind != "apartment":
        raise Conflict("only an apartment building's bank has a mailroom", code="not_an_apartment")


def get_mailroom(conn: Connection, bank_id: str) -> Mailroom:
    m = mailrooms_table.c
    row = conn.execute(select(m.enabled, m.hold_hours).where(m.bank_id == bank_id)).first()
    if row is None:
        return Mailroom(False, MAILROOM_HOLD)
    return Mailroom(row.enabled, timedelta(hours=row.hold_hours))


def set_mailroom(
    uow: UnitOfWork, bank_id: str, enabled: bool, hold: timedelta, now: datetime
) -> Mailroom:
    conn = uow.conn
    _apartment_bank(conn, bank_id)
    values = {"enabled": enabled, "hold_hours": int(hold / timedelta(hours=1)), "updated_at": now}
    conn.execute(
        insert_on_conflict(conn, mailrooms_table)
        .values(bank_id=bank_id, **values)
        .on_conflict_do_update(index_elements=["bank_id"], set_=values)
    )
    operator_event(
        conn, "locker.mailroom_updated", bank_id, {"bank_id": bank_id, "enabled": enabled}, now
    )
    return get_mailroom(conn, bank_id)


def operator_event(
    conn: Connection, kind: str, subject: str, payload: dict[str, Any], now: datetime
) -> None:
    # Operator events: a building's residents belong to no merchant.
    record(conn, [Event(kind, subject, None, payload)], now)


def _resident_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "bank_id": row.bank_id,
        "unit": row.unit,
        "name": row.name,
        "status": row.status,
        "failures": row.failures,
        "created_at": iso_z(row.created_at),
        "code_issued_at": iso_z(row.code_issued_at),
        "revoked_at": iso_z(row.revoked_at),
    }


def _resident(conn: Connection, bank_id: str, resident_id: str) -> Any:
    r = residents_table.c
    row = conn.execute(
        select(residents_table).where(r.id == resident_id, r.bank_id == bank_id)
    ).first()
    if row is None:
        raise NotFound(f"resident {resident_id} not found", code="resident_not_found")
    return row


def parse_unit(raw: str) -> str:
    unit = normalize_unit(raw)
    if unit is None:
        raise InvalidInput(
            "a unit is up to 10 letters and digits, like 4B or Apt 12", code="invalid_unit"
        )
    return unit


def add_resident(
    uow: UnitOfWork, bank_id: str, unit: str, name: str, now: datetime
) -> dict[str, Any]:
    """Register the resident of a unit; the answer holds the standing code, shown once."""
    conn = uow.conn
    _apartment_bank(conn, bank_id)
    norm = parse_unit(unit)
    resident_id, code = new_id("rsd"), new_resident_code()
    # The unique (bank, active unit) decides, also between two operators at once.
    inserted = conn.execute(
        insert_on_conflict(conn, residents_table)
        .values(
            id=resident_id,
            bank_id=bank_id,
            unit=norm,
            active_unit=norm,
            name=name,
            code_hash=code_hash(resident_id, code),
            status=ResidentStatus.ACTIVE.value,
            failures=0,
            created_at=now,
            code_issued_at=now,
            revoked_at=None,
        )
        .on_conflict_do_nothing(index_elements=["bank_id", "active_unit"])
        .returning(residents_table.c.id)
    ).first()
    if inserted is None:
        raise Conflict(f"unit {norm} already has a resident; revoke them first", code="unit_taken")
    payload = {"bank_id": bank_id, "resident_id": resident_id, "unit": norm}
    operator_event(conn, "locker.resident_added", resident_id, payload, now)
    return {**_resident_json(_resident(conn, bank_id, resident_id)), "code": code}


def list_residents(conn: Connection, bank_id: str) -> list[dict[str, Any]]:
    _apartment_bank(conn, bank_id)
    r = residents_table.c
    rows = conn.execute(
        select(residents_table).where(r.bank_id == bank_id).order_by(r.unit, r.created_at)
    ).all()
    return [_resident_json(x) for x in rows]


def _change(
    uow: UnitOfWork,
    bank_id: str,
    resident_id: str,
    now: datetime,
    kind: str,
    **values: Any,
) -> dict[str, Any]:
    """One operator change to a resident who is not revoked, and its event."""
    conn = uow.conn
    r = residents_table.c
    row = _resident(conn, bank_id, resident_id)
    res = conn.execute(
        update(residents_table)
        .where(r.id == resident_id, r.status != ResidentStatus.REVOKED.value)
        .values(**values)
    )
    if res.rowcount != 1:
        raise Conflict("this resident was revoked", code="resident_revoked")
    payload = {"bank_id": bank_id, "resident_id": resident_id, "unit": row.unit}
    operator_event(conn, kind, resident_id, payload, now)
    return _resident_json(_resident(conn, bank_id, resident_id))


def rotate_code(uow: UnitOfWork, bank_id: str, resident_id: str, now: datetime) -> dict[str, Any]:
    """A new standing code (shown once); the old one stops working. The operator hands it
    over in person, so this also clears a lock."""
    code = new_resident_code()
    out = _change(
        uow,
        bank_id,
        resident_id,
        now,
        "locker.resident_code_rotated",
        code_hash=code_hash(resident_id, code),
        code_issued_at=now,
        failures=0,
        status=ResidentStatus.ACTIVE.value,
    )
    return {**out, "code": code}


def unlock_resident(
    uow: UnitOfWork, bank_id: str, resident_id: str, now: datetime
) -> dict[str, Any]:
    return _change(
        uow,
        bank_id,
        resident_id,
        now,
        "locker.resident_unlocked",
        failures=0,
        status=ResidentStatus.ACTIVE.value,
    )


def revoke_resident(
    uow: UnitOfWork, bank_id: str, resident_id: str, now: datetime
) -> dict[str, Any]:
    """The resident moved out: the code stops working and the unit is free to register
    again. Parcels still waiting for them go back to the hub when their hold ends."""
    return _change(
        uow,
        bank_id,
        resident_id,
        now,
        "locker.resident_revoked",
        code_hash=None,
        active_unit=None,
        status=ResidentStatus.REVOKED.value,
        revoked_at=now,
    )


def active_resident(conn: Connection, bank_id: str, unit: str) -> Any:
    r = residents_table.c
    return conn.execute(
        select(residents_table).where(r.bank_id == bank_id, r.active_unit == unit)
    ).first()
