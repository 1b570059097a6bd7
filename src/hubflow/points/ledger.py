"""The points ledger: credits and debits of one customer's account.

Every change takes the account row first (an UPDATE of its version, which creates the
row if needed and holds its lock to the commit), then checks its ``ref`` was not written
yet, then writes the entry, the new balance and the lots it took from. The balance only
moves by conditional UPDATEs (``balance >= n``), so concurrent burns cannot overspend;
a reversal beyond the balance records a debt, never a negative balance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hubflow.core.clock import iso_z
from hubflow.core.errors import Conflict
from hubflow.core.events import Event, record
from hubflow.core.ids import new_id
from hubflow.core.upsert import insert_on_conflict
from hubflow.points.model import Kind, Lot, consume, settle_credit, split_debit
from hubflow.points.store import accounts_table, entries_table

__all__ = ["Cause", "InsufficientPoints", "credit", "debit", "entry_json", "find_entry"]

_a, _e = accounts_table.c, entries_table.c


class InsufficientPoints(Conflict):
    code = "insufficient_points"


@dataclass(frozen=True)
class Cause:
    """Why an entry exists: its type and id (order, return, transfer, expiry, grant)."""

    type: str
    id: str


def _lock(conn: Connection, merchant_id: str, customer_id: str, now: datetime) -> tuple[int, int]:
    """Take the account row (creating it at zero); returns (balance, debt)."""
    conn.execute(
        insert_on_conflict(conn, accounts_table)
        .values(
            merchant_id=merchant_id,
            customer_id=customer_id,
            balance=0,
            debt=0,
            version=0,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["merchant_id", "customer_id"])
    )
    row = conn.execute(
        update(accounts_table)
        .where(_a.merchant_id == merchant_id, _a.customer_id == customer_id)
        .values(version=_a.version + 1, updated_at=now)
        .returning(_a.balance, _a.debt)
    ).one()
    return int(row.balance), int(row.debt)


def find_entry(conn: Connection, merchant_id: str, ref: str) -> Any:
    return conn.execute(
        select(entries_table).where(_e.merchant_id == merchant_id, _e.ref == ref)
    ).first()


def _insert(
    conn: Connection,
    merchant_id: str,
    customer_id: str,
    ref: str,
    kind: Kind,
    points: int,
    debt: int,
    cause: Cause,
    now: datetime,
    **rest: Any,
) -> dict[str, Any]:
    row = {
        "id": new_id("pte"),
        "merchant_id": merchant_id,
        "customer_id": customer_id,
        "ref": ref,
        "kind": kind.value,
        "points": points,
        "debt": debt,
        "cause_type": cause.type,
        "cause_id": cause.id,
        "created_at": now,
        **rest,
    }
    conn.execute(insert(entries_table).values(**row))
    return row


def _move(
    conn: Connection, merchant_id: str, customer_id: str, points: int, debt: int, now: datetime
) -> None:
    res = conn.execute(
        update(accounts_table)
        .where(
            _a.merchant_id == merchant_id,
            _a.customer_id == customer_id,
            _a.balance + points >= 0,
            _a.debt + debt >= 0,
        )
        .values(balance=_a.balance + points, debt=_a.debt + debt, updated_at=now)
    )
    if res.rowcount != 1:  # the lock makes this unreachable; the condition is the guard
        raise InsufficientPoints("not enough points", details={"requested": -points})


def _event(conn: Connection, entry: dict[str, Any], now: datetime) -> None:
    record(
        conn,
        [Event(f"points.{entry['kind']}", entry["id"], entry["merchant_id"], entry_json(entry))],
        now,
    )


def credit(
    conn: Connection,
    merchant_id: str,
    customer_id: str,
    kind: Kind,
    n: int,
    ref: str,
    cause: Cause,
    now: datetime,
    *,
    expires_at: datetime | None,
    reverses_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Add ``n`` points (a debt is repaid first); (entry, whether it is new)."""
    _, debt = _lock(conn, merchant_id, customer_id, now)
    old = find_entry(conn, merchant_id, ref)
    if old is not None:
        return dict(old._mapping), False
    to_balance, repaid = settle_credit(n, debt)
    entry = _insert(
        conn,
        merchant_id,
        customer_id,
        ref,
        kind,
        to_balance,
        -repaid,
        cause,
        now,
        reverses_id=reverses_id,
        remaining=to_balance,
        expires_at=expires_at,
        detail=detail,
    )
    _move(conn, merchant_id, customer_id, to_balance, -repaid, now)
    _event(conn, entry, now)
    return entry, True


def debit(
    conn: Connection,
    merchant_id: str,
    customer_id: str,
    kind: Kind,
    n: int | None,
    ref: str,
    cause: Cause,
    now: datetime,
    *,
    allow_debt: bool = False,
    reverses_id: str | None = None,
    first_lot: str | None = None,
    only_lot: bool = False,
    detail: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Take ``n`` points: from the balance, else (reversals only, ``allow_debt``) the
    rest as debt; refused with 409 insufficient_points otherwise. ``n=None``: all that is
    left of ``first_lot`` (expiry). (entry, whether it is new)."""
    balance, _ = _lock(conn, merchant_id, customer_id, now)
    old = find_entry(conn, merchant_id, ref)
    if old is not None:
        return dict(old._mapping), False
    lots = _lots(conn, merchant_id, customer_id, first_lot if only_lot else None)
    available = sum(x.remaining for x in lots)
    if n is None:
        n = available
    if n > available and not allow_debt:
        raise InsufficientPoints("not enough points", details={"requested": n, "balance": balance})
    from_balance, to_debt = split_debit(n, available)
    taken = consume(lots, from_balance, first_lot)
    entry = _insert(
        conn,
        merchant_id,
        customer_id,
        ref,
        kind,
        -from_balance,
        to_debt,
        cause,
        now,
        reverses_id=reverses_id,
        remaining=0,
        expires_at=None,
        detail={**(detail or {}), "lots": [[lot, k] for lot, k in taken]},
    )
    for lot_id, k in taken:
        res = conn.execute(
            update(entries_table)
            .where(_e.id == lot_id, _e.remaining >= k)
            .values(remaining=_e.remaining - k)
        )
        assert res.rowcount == 1, "a lot changed outside its account's lock"
    _move(conn, merchant_id, customer_id, -from_balance, to_debt, now)
    _event(conn, entry, now)
    return entry, True


def _lots(conn: Connection, merchant_id: str, customer_id: str, only: str | None) -> list[Lot]:
    q = select(_e.id, _e.remaining, _e.expires_at).where(
        _e.merchant_id == merchant_id, _e.customer_id == customer_id, _e.remaining > 0
    )
    if only is not None:
        q = q.where(_e.id == only)
    return [Lot(r.id, int(r.remaining), r.expires_at) for r in conn.execute(q)]


def entry_json(e: Any) -> dict[str, Any]:
    m = e if isinstance(e, dict) else dict(e._mapping)
    return {
        "id": m["id"],
        "customer_id": m["customer_id"],
        "kind": m["kind"],
        "points": int(m["points"]),
        "debt": int(m["debt"]),
        "cause": {"type": m["cause_type"], "id": m["cause_id"]},
        "reverses": m["reverses_id"],
        "remaining": int(m["remaining"]),
        "expires_at": iso_z(m["expires_at"]),
        "detail": m["detail"],
        "created_at": iso_z(m["created_at"]),
    }
