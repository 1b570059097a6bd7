"""Points use cases: the merchant's programme, points at checkout (burn as a discount,
earn on what was paid), their reversal when an order is cancelled or lines come back,
grants, expiry, and a customer's account."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, select

from hubflow.catalog.service import products_by_id
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import InvalidInput
from hubflow.core.upsert import insert_on_conflict
from hubflow.membership.lookup import membership_of
from hubflow.points.ledger import Cause, credit, debit, entry_json, find_entry
from hubflow.points.model import Kind, Line, Program
from hubflow.points.store import LIVE_LOT, accounts_table, entries_table, programs_table

__all__ = [
    "account",
    "checkout",
    "enrolled",
    "expire_due",
    "expires_for",
    "grant",
    "lines_returned",
    "order_cancelled",
    "program_for",
    "set_program",
]

_e = entries_table.c


_PROGRAM = select(programs_table.c.rules).where(programs_table.c.merchant_id == bindparam("b_m"))


def program_for(conn: Connection, merchant_id: str) -> Program:
    """The merchant's programme, or the defaults (for grants and transfers)."""
    return enrolled(conn, merchant_id) or Program()


def enrolled(conn: Connection, merchant_id: str) -> Program | None:
    """The merchant's programme if it runs one: orders earn and burn only then (points
    are the merchant's liability, so nobody is enrolled by default)."""
    rules = conn.execute(_PROGRAM, {"b_m": merchant_id}).scalar()
    return None if rules is None else Program.from_json(rules)


def set_program(conn: Connection, merchant_id: str, program: Program, now: datetime) -> None:
    values = {"rules": program.to_json(), "updated_at": now}
    conn.execute(
        insert_on_conflict(conn, programs_table)
        .values(merchant_id=merchant_id, **values)
        .on_conflict_do_update(index_elements=["merchant_id"], set_=values)
    )


def expires_for(program: Program, now: datetime) -> datetime | None:
    return None if program.expiry_days is None else now + timedelta(days=program.expiry_days)


def checkout(
    conn: Connection,
    merchant_id: str,
    order_id: str,
    customer_id: str,
    lines: Sequence[tuple[str, int]],
    burn: int,
    now: datetime,
) -> dict[str, Any] | None:
    """Burn ``burn`` points as a discount on the order's lines (409 insufficient_points
    above the balance), then earn on what is left to pay. Runs inside the order's
    transaction, after its stock and slots (the account row is always locked last).
    ``None`` when the merchant runs no points programme."""
    program = enrolled(conn, merchant_id)
    if program is None:
        if burn:
            raise InvalidInput("this merchant runs no points programme", code="no_points_programme")
        return None
    products = products_by_id(conn, merchant_id, [p for p, _ in lines])
    items = [
        Line(p, products[p].sku, products[p].value.amount, q)
        for p, q in lines
        if products[p].value.currency == program.currency
    ]
    cart = sum(x.unit_value * x.quantity for x in items)
    cause = Cause("order", order_id)
    if burn > program.max_burn(cart):
        raise InvalidInput(
            "more points than this cart may take",
            code="burn_above_limit",
            details={"max_points": program.max_burn(cart)},
        )
    discount = burn * program.point_value
    if burn:
        debit(
            conn,
            merchant_id,
            customer_id,
            Kind.BURN,
            burn,
            f"burn:{order_id}",
            cause,
            now,
            detail={"discount": discount, "cart_value": cart, "unit_values": _unit_values(items)},
        )
    earned, pct = _earn(conn, merchant_id, order_id, customer_id, program, items, discount, now)
    return {
        "customer_id": customer_id,
        "points_burned": burn,
        "discount": {"amount": discount, "currency": program.currency},
        "points_earned": earned,
        "multiplier_pct": pct,
    }


def _earn(
    conn: Connection,
    merchant_id: str,
    order_id: str,
    customer_id: str,
    program: Program,
    items: Sequence[Line],
    discount: int,
    now: datetime,
) -> tuple[int, int]:
    """Credit what the order earns (the member's multiplier applied): (points, multiplier)."""
    member = membership_of(conn, merchant_id, customer_id, now)
    pct = 100 if member is None else member.benefits.points_multiplier_pct
    earned = program.earn(items, discount, pct)
    if earned.total:
        detail = {
            "total": earned.total,
            "per_unit": dict(earned.per_unit),
            "quantities": dict(earned.quantities),
            "bonus": earned.bonus,
            "multiplier_pct": pct,
        }
        credit(
            conn,
            merchant_id,
            customer_id,
            Kind.EARN,
            earned.total,
            f"earn:{order_id}",
            Cause("order", order_id),
            now,
            expires_at=expires_for(program, now),
            detail=detail,
        )
    return earned.total, pct


def _unit_values(items: Sequence[Line]) -> dict[str, int]:
    return {x.product_id: x.unit_value for x in items}


def _reversed(conn: Connection, merchant_id: str, entry_id: str) -> tuple[int, dict[str, int]]:
    """Points already reversed of an earn or a burn, and the units returned so far."""
    total, units = 0, dict[str, int]()
    for r in conn.execute(
        select(_e.points, _e.debt, _e.detail).where(
            _e.merchant_id == merchant_id, _e.reverses_id == entry_id
        )
    ):
        total += abs(int(r.points) - int(r.debt))
        for p, q in ((r.detail or {}).get("units") or {}).items():
            units[p] = units.get(p, 0) + int(q)
    return total, units


def _reversible(conn: Connection, merchant_id: str, earn: Any) -> int:
    """What may still be taken back of an earn: not what was taken back already, nor what
    expired unused (the customer lost those once; a reversal must not take them again)."""
    expired = conn.execute(
        select(func.coalesce(func.sum(_e.points), 0)).where(
            _e.merchant_id == merchant_id, _e.cause_id == earn.id, _e.kind == Kind.EXPIRE.value
        )
    ).scalar_one()
    return int(earn.detail["total"]) + int(expired) - _reversed(conn, merchant_id, earn.id)[0]


def order_cancelled(conn: Connection, merchant_id: str, order_id: str, now: datetime) -> None:
    """Take back what the order earned (as debt if already spent) and give back what it
    burned. Once, however often it is called."""
    cause = Cause("order", order_id)
    earn = find_entry(conn, merchant_id, f"earn:{order_id}")
    if earn is not None:
        left = _reversible(conn, merchant_id, earn)
        if left > 0:
            debit(
                conn,
                merchant_id,
                earn.customer_id,
                Kind.EARN_REVERSED,
                left,
                f"earn_reversed:{order_id}:cancel",
                cause,
                now,
                allow_debt=True,
                reverses_id=earn.id,
                first_lot=earn.id,
            )
    burn = find_entry(conn, merchant_id, f"burn:{order_id}")
    left = 0 if burn is None else -int(burn.points) - _reversed(conn, merchant_id, burn.id)[0]
    if burn is not None and left > 0:
        program = program_for(conn, merchant_id)
        credit(
            conn,
            merchant_id,
            burn.customer_id,
            Kind.BURN_REVERSED,
            left,
            f"burn_reversed:{order_id}",
            cause,
            now,
            expires_at=expires_for(program, now),
            reverses_id=burn.id,
        )


def lines_returned(
    conn: Connection,
    merchant_id: str,
    order_id: str,
    return_id: str,
    lines: Sequence[tuple[str, int]],
    now: datetime,
) -> int:
    """Returned lines take back the points their units earned (and the order's bonus once
    every unit is back; spent points become a recorded debt) and give back the points
    that paid for them. Returns what those points paid (minor units): the money refund
    is that much less. Once per return."""
    _take_back_earn(conn, merchant_id, order_id, return_id, lines, now)
    return _give_back_burn(conn, merchant_id, order_id, return_id, lines, now)


def _take_back_earn(
    conn: Connection,
    merchant_id: str,
    order_id: str,
    return_id: str,
    lines: Sequence[tuple[str, int]],
    now: datetime,
) -> None:
    earn = find_entry(conn, merchant_id, f"earn:{order_id}")
    ref = f"earn_reversed:{order_id}:{return_id}"
    if earn is None or find_entry(conn, merchant_id, ref) is not None:
        return
    per_unit, bought = earn.detail["per_unit"], earn.detail["quantities"]
    _, before = _reversed(conn, merchant_id, earn.id)
    units = {p: q for p, q in lines if p in per_unit}
    n = sum(int(per_unit[p]) * q for p, q in units.items())
    after = {p: before.get(p, 0) + units.get(p, 0) for p in bought}
    if all(after[p] >= int(q) for p, q in bought.items()):
        n += int(earn.detail["bonus"])
    n = min(n, _reversible(conn, merchant_id, earn))
    if n <= 0:
        return
    debit(
        conn,
        merchant_id,
        earn.customer_id,
        Kind.EARN_REVERSED,
        n,
        ref,
        Cause("return", return_id),
        now,
        allow_debt=True,
        reverses_id=earn.id,
        first_lot=earn.id,
        detail={"units": units},
    )


def _give_back_burn(
    conn: Connection,
    merchant_id: str,
    order_id: str,
    return_id: str,
    lines: Sequence[tuple[str, int]],
    now: datetime,
) -> int:
    """The burn's share of the returned value, as points, rounded so that returning
    every unit gives back exactly what was burned."""
    burn = find_entry(conn, merchant_id, f"burn:{order_id}")
    if burn is None:
        return 0
    ref = f"burn_reversed:{order_id}:{return_id}"
    done = find_entry(conn, merchant_id, ref)
    if done is not None:  # asked again for this return: the same answer
        return int(done.detail["paid"])
    burned, discount = -int(burn.points), int(burn.detail["discount"])
    values, cart = burn.detail["unit_values"], int(burn.detail["cart_value"])
    _, before = _reversed(conn, merchant_id, burn.id)
    units = {p: q for p, q in lines if p in values}
    worth_before = sum(int(values[p]) * q for p, q in before.items())
    worth_after = worth_before + sum(int(values[p]) * q for p, q in units.items())
    back = burned * worth_after // cart - burned * worth_before // cart
    paid = discount * worth_after // cart - discount * worth_before // cart
    if back <= 0:
        return 0
    program = program_for(conn, merchant_id)
    credit(
        conn,
        merchant_id,
        burn.customer_id,
        Kind.BURN_REVERSED,
        back,
        ref,
        Cause("return", return_id),
        now,
        expires_at=expires_for(program, now),
        reverses_id=burn.id,
        detail={"units": units, "paid": paid},
    )
    return paid


def grant(
    uow: UnitOfWork,
    merchant_id: str,
    customer_id: str,
    points: int,
    ref: str,
    reason: str,
    now: datetime,
) -> tuple[dict[str, Any], bool]:
    """Goodwill or promotion points, once per ``ref`` (the merchant's own id for it)."""
    program = program_for(uow.conn, merchant_id)
    entry, new = credit(
        uow.conn,
        merchant_id,
        customer_id,
        Kind.GRANT,
        points,
        f"grant:{ref}",
        Cause("grant", ref),
        now,
        expires_at=expires_for(program, now),
        detail={"reason": reason},
    )
    return entry_json(entry), new


def expire_due(uow: UnitOfWork, now: datetime, *, limit: int = 1000) -> int:
    """Expire what is left of every lot past its date (each once: the ref is the lot)."""
    conn = uow.conn
    due = conn.execute(
        select(_e.id, _e.merchant_id, _e.customer_id)
        .where(_e.expires_at <= now, LIVE_LOT)
        .order_by(_e.expires_at, _e.id)
        .limit(limit)
    ).all()
    for lot in due:
        debit(
            conn,
            lot.merchant_id,
            lot.customer_id,
            Kind.EXPIRE,
            None,
            f"expire:{lot.id}",
            Cause("expiry", lot.id),
            now,
            reverses_id=None,
            first_lot=lot.id,
            only_lot=True,
        )
    return len(due)


def account(
    conn: Connection, merchant_id: str, customer_id: str, *, limit: int = 100
) -> dict[str, Any]:
    a = accounts_table.c
    row = conn.execute(
        select(a.balance, a.debt).where(a.merchant_id == merchant_id, a.customer_id == customer_id)
    ).first()
    entries = conn.execute(
        select(entries_table)
        .where(_e.merchant_id == merchant_id, _e.customer_id == customer_id)
        .order_by(_e.id.desc())
        .limit(limit)
    ).all()
    program = program_for(conn, merchant_id)
    balance = 0 if row is None else int(row.balance)
    return {
        "customer_id": customer_id,
        "balance": balance,
        "debt": 0 if row is None else int(row.debt),
        "worth": {"amount": balance * program.point_value, "currency": program.currency},
        "entries": [entry_json(e) for e in entries],
    }
