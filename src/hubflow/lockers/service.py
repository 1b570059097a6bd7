"""Locker use cases: banks, deposits with a single-use code, pickups, wrong codes and
expiry. A deposit takes a free compartment with one conditional UPDATE, so two couriers
at one compartment cannot both win; a wrong code counts against the compartment (it
locks after five) and against the bank's keypad (a rate limit)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, insert, select, update

from hubflow.core.clock import iso_z
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, HubflowError, InvalidInput, NotFound
from hubflow.core.ids import new_id
from hubflow.delivery.model import ShipmentStatus, StopStatus
from hubflow.delivery.orders_sync import sync_order
from hubflow.delivery.store import route_stops_table
from hubflow.delivery.tracking import move, shipment_row, track
from hubflow.lockers.holds import compartment_size, release_holds, takeable
from hubflow.lockers.model import (
    HOLD,
    MAX_FAILURES,
    SIZES,
    CompartmentStatus,
    SizeClass,
    code_hash,
    codes_match,
    fits,
    new_code,
)
from hubflow.lockers.store import banks_table, compartments_table
from hubflow.network.store import get_hub
from hubflow.orders.store import shipments_table

__all__ = [
    "TooManyAttempts",
    "check_keypad",
    "count_bank_failure",
    "create_bank",
    "deposit",
    "expire_due",
    "get_bank",
    "pickup",
    "release",
]

BANK_WINDOW = timedelta(minutes=10)
BANK_MAX_FAILURES = 20  # wrong codes per bank and window before the keypad pauses


class TooManyAttempts(HubflowError):
    status_code = 429
    code = "too_many_attempts"


def create_bank(
    uow: UnitOfWork,
    name: str,
    kind: str,
    hub_id: str,
    lat: float,
    lng: float,
    compartments: list[tuple[str, SizeClass]],
    now: datetime,
) -> dict[str, Any]:
    conn = uow.conn
    if get_hub(conn, hub_id) is None:
        raise InvalidInput(f"unknown hub {hub_id}", code="unknown_hub")
    labels = [label for label, _ in compartments]
    if len(set(labels)) != len(labels):
        raise InvalidInput("compartment labels must be unique", code="duplicate_label")
    bank_id = new_id("lkb")
    conn.execute(
        insert(banks_table).values(
            id=bank_id,
            name=name,
            kind=kind,
            hub_id=hub_id,
            lat=lat,
            lng=lng,
            fail_window_start=None,
            fail_count=0,
            created_at=now,
        )
    )
    conn.execute(
        insert(compartments_table),
        [
            {
                "id": new_id("cmp"),
                "bank_id": bank_id,
                "label": label,
                "size": size.value,
                "length_mm": SIZES[size].inner_mm[0],
                "width_mm": SIZES[size].inner_mm[1],
                "height_mm": SIZES[size].inner_mm[2],
                "max_weight_g": SIZES[size].max_weight_g,
                "status": CompartmentStatus.FREE.value,
                "shipment_id": None,
                "code_hash": None,
                "expires_at": None,
                "failures": 0,
                "version": 1,
            }
            for label, size in compartments
        ],
    )
    return get_bank(conn, bank_id)


def get_bank(conn: Connection, bank_id: str) -> dict[str, Any]:
    b, c = banks_table.c, compartments_table.c
    bank = conn.execute(select(banks_table).where(b.id == bank_id)).first()
    if bank is None:
        raise NotFound(f"locker bank {bank_id} not found", code="bank_not_found")
    rows = conn.execute(
        select(compartments_table).where(c.bank_id == bank_id).order_by(c.label)
    ).all()
    return {
        "id": bank.id,
        "name": bank.name,
        "kind": bank.kind,
        "hub_id": bank.hub_id,
        "location": {"lat": bank.lat, "lng": bank.lng},
        "compartments": [
            {
                "label": x.label,
                "size": x.size,
                "status": x.status,
                "inner_mm": [x.length_mm, x.width_mm, x.height_mm],
                "max_weight_g": x.max_weight_g,
                "held_until": iso_z(x.hold_until) if x.hold_order_id else None,
            }
            for x in rows
        ],
    }


def deposit(
    uow: UnitOfWork,
    bank_id: str,
    shipment_id: str,
    now: datetime,
    *,
    label: str | None = None,
    hold: timedelta = HOLD,
    resident_unit: str | None = None,
) -> dict[str, Any]:
    """The courier's deposit scan: the smallest free compartment that fits opens (or the
    one named), the parcel goes in, and a single-use code goes to the merchant by
    webhook. Returns the compartment and the code (shown here once). A parcel for a
    mailroom resident (``resident_unit``) gets no code: the resident's standing code
    opens it."""
    conn = uow.conn
    ship = shipment_row(conn, shipment_id)
    if ship["status"] != ShipmentStatus.OUT_FOR_DELIVERY.value:
        raise Conflict("only a parcel on board can go into a locker", code="parcel_not_on_board")
    dims = tuple(ship["dims_mm"] or (300, 200, 150))
    weight = ship["weight_g"] or 1000
    c = compartments_table.c
    mine = takeable(now, ship["order_id"])
    q = select(compartments_table).where(c.bank_id == bank_id, mine)
    if label is not None:
        q = q.where(c.label == label)
    box = (dims[0], dims[1], dims[2])
    rows = [r for r in conn.execute(q) if fits(box, weight, compartment_size(r))]
    if not rows:
        get_bank(conn, bank_id)  # 404 for an unknown bank
        raise Conflict("no free compartment fits this parcel", code="no_compartment")
    code = None if resident_unit is not None else new_code()
    expires = now + hold

    def preference(r: Any) -> tuple[bool, int, str]:
        # The compartment held for this order first, then the smallest that fits.
        held = r.hold_order_id == ship["order_id"]
        return (not held, r.length_mm * r.width_mm * r.height_mm, r.label)

    for row in sorted(rows, key=preference):
        # Conditional on "free": of two couriers at one compartment, exactly one wins.
        res = conn.execute(
            update(compartments_table)
            .where(c.id == row.id, mine)
            .values(
                status="occupied",
                shipment_id=shipment_id,
                code_hash=None if code is None else code_hash(row.id, code),
                expires_at=expires,
                failures=0,
                hold_order_id=None,
                hold_until=None,
                version=c.version + 1,
            )
        )
        if res.rowcount == 1:
            break
    else:
        raise Conflict("the compartment was taken meanwhile", code="compartment_taken")
    bank = conn.execute(select(banks_table.c.name).where(banks_table.c.id == bank_id)).one()
    move(
        conn,
        ship,
        ShipmentStatus.IN_LOCKER,
        now,
        kind="in_locker",
        eta=None,
        details={
            "locker": bank.name,
            "compartment": row.label,
            **({"code": code} if code is not None else {"mailroom_unit": resident_unit}),
            "collect_by": iso_z(expires),
        },
    )
    _close_stop(conn, shipment_id, now)
    if not _other_parcels_coming(conn, ship):
        # A spare held compartment (the parcel went into another) goes back.
        release_holds(conn, ship["order_id"], ship["merchant_id"], now)
    sync_order(uow, ship["order_id"], now)
    return {
        "bank_id": bank_id,
        "compartment": row.label,
        "code": code,
        "collect_by": iso_z(expires),
        "shipment_id": shipment_id,
    }


def _other_parcels_coming(conn: Connection, ship: dict[str, Any]) -> bool:
    s = shipments_table.c
    return (
        conn.execute(
            select(s.id).where(
                s.order_id == ship["order_id"],
                s.id != ship["id"],
                s.direction == "out",
                s.status.not_in(["delivered", "in_locker", "cancelled", "returned_to_hub"]),
            )
        ).first()
        is not None
    )


def _close_stop(conn: Connection, shipment_id: str, now: datetime) -> None:
    """The courier's stop for this parcel is done (delivered into the locker)."""
    st = route_stops_table.c
    conn.execute(
        update(route_stops_table)
        .where(
            st.shipment_id == shipment_id,
            st.status.in_([StopStatus.PLANNED.value, StopStatus.ARRIVED.value]),
        )
        .values(status=StopStatus.DELIVERED.value, done_at=now)
    )


def count_bank_failure(conn: Connection, bank_id: str, now: datetime) -> None:
    b = banks_table.c
    fresh = conn.execute(
        update(banks_table)
        .where(
            b.id == bank_id,
            (b.fail_window_start.is_(None)) | (b.fail_window_start <= now - BANK_WINDOW),
        )
        .values(fail_window_start=now, fail_count=1)
    ).rowcount
    if not fresh:
        conn.execute(update(banks_table).where(b.id == bank_id).values(fail_count=b.fail_count + 1))


def check_keypad(conn: Connection, bank_id: str, now: datetime) -> None:
    """429 while the bank's keypad is paused after too many wrong codes."""
    if _bank_paused(conn, bank_id, now):
        raise TooManyAttempts("too many wrong codes at this locker; try again in a few minutes")


def _bank_paused(conn: Connection, bank_id: str, now: datetime) -> bool:
    b = banks_table.c
    row = conn.execute(select(b.fail_window_start, b.fail_count).where(b.id == bank_id)).first()
    if row is None:
        raise NotFound(f"locker bank {bank_id} not found", code="bank_not_found")
    return (
        row.fail_window_start is not None
        and row.fail_window_start > now - BANK_WINDOW
        and row.fail_count >= BANK_MAX_FAILURES
    )


def pickup(uow: UnitOfWork, bank_id: str, label: str, code: str, now: datetime) -> dict[str, Any]:
    """The customer's code at the keypad. A failed try comes back as ``{"opened": False,
    "error": (code, message)}`` rather than raised, so that the caller commits the
    wrong-code count before answering with the error."""
    conn = uow.conn
    check_keypad(conn, bank_id, now)
    c = compartments_table.c
    row = conn.execute(
        select(compartments_table).where(c.bank_id == bank_id, c.label == label)
    ).first()
    # A mailroom parcel has no code of its own (the resident's opens it): guessing one
    # must not lock the resident's compartment.
    if row is None or row.status in ("free", "out_of_service") or row.code_hash is None:
        count_bank_failure(conn, bank_id, now)
        return {"opened": False, "error": ("unknown_code", "no parcel waits there for a code")}
    if row.status == "locked":
        raise Conflict(
            "this compartment is locked after too many wrong codes; ask staff",
            code="compartment_locked",
        )
    if row.expires_at is not None and row.expires_at <= now:
        return {"opened": False, "error": ("expired_code", "the code has expired")}
    if not codes_match(row.id, code, row.code_hash):
        count_bank_failure(conn, bank_id, now)
        return {"opened": False, "error": _wrong_code(conn, row, now)}
    if not release(conn, row, only_if="occupied"):
        raise Conflict("the compartment changed meanwhile; try again", code="concurrent_update")
    ship = shipment_row(conn, row.shipment_id)
    move(
        conn,
        ship,
        ShipmentStatus.DELIVERED,
        now,
        kind="delivered",
        details={"collected_from": label},
    )
    sync_order(uow, ship["order_id"], now)
    return {"opened": True, "compartment": label, "shipment_id": ship["id"]}


def _wrong_code(conn: Connection, row: Any, now: datetime) -> tuple[str, str]:
    """Count a wrong code in the database itself, so parallel guesses are all counted;
    the one that reaches the limit locks the compartment and says so on the timeline."""
    c = compartments_table.c
    failures = conn.execute(
        update(compartments_table)
        .where(c.id == row.id, c.status == "occupied", c.shipment_id == row.shipment_id)
        .values(
            failures=c.failures + 1,
            version=c.version + 1,
            status=case((c.failures + 1 >= MAX_FAILURES, "locked"), else_="occupied"),
        )
        .returning(c.failures)
    ).scalar()
    if failures is None:  # locked or emptied meanwhile
        return ("compartment_locked", "this compartment is locked; ask staff")
    if failures == MAX_FAILURES:
        ship = shipment_row(conn, row.shipment_id)
        track(conn, ship, "locker_locked", now, {"compartment": row.label})
    left = max(0, MAX_FAILURES - failures)
    return ("wrong_code", f"wrong code; {left} tries left")


def release(conn: Connection, row: Any, *, only_if: str | None = None) -> bool:
    """Free the compartment as read (its version; and only from ``only_if`` if given):
    its parcel is out. False if it changed meanwhile."""
    c = compartments_table.c
    q = update(compartments_table).where(c.id == row.id, c.version == row.version)
    if only_if is not None:
        q = q.where(c.status == only_if)
    res = conn.execute(
        q.values(
            status="free",
            shipment_id=None,
            code_hash=None,
            expires_at=None,
            failures=0,
            version=c.version + 1,
        )
    )
    return res.rowcount == 1


def expire_due(uow: UnitOfWork, now: datetime) -> int:
    """Parcels not collected in time go back to the hub (and the order to the return
    flow); their compartments free up for the next courier."""
    conn = uow.conn
    c = compartments_table.c
    due = conn.execute(
        select(compartments_table).where(c.status.in_(["occupied", "locked"]), c.expires_at <= now)
    ).all()
    for row in due:
        if not release(conn, row):
            continue
        ship = shipment_row(conn, row.shipment_id)
        if ship["status"] == ShipmentStatus.IN_LOCKER.value:
            move(
                conn,
                ship,
                ShipmentStatus.RETURNED_TO_HUB,
                now,
                kind="returned_to_hub",
                details={"reason": "not_collected", "compartment": row.label},
            )
            sync_order(uow, ship["order_id"], now)
    return len(due)
