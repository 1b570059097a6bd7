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

from sqlalchemy import Connection, bindparam, case, func, insert, select, update

from hubflow.core.clock import iso_z
from hubflow.core.db import pipelined
from hubflow.core.errors import Conflict
from hubflow.core.events import Event, record
from hubflow.core.ids import new_id
from hubflow.core.upsert import insert_on_conflict
from hubflow.points.model import Kind, Lot, consume, settle_credit, split_debit
from hubflow.points.store import LIVE_LOT, accounts_table, entries_table

__all__ = ["Cause", "InsufficientPoints", "credit", "debit", "entry_json", "find_entry"]

_a, _e = accounts_table.c, entries_table.c


class InsufficientPoints(Conflict):
    code = "insufficient_points"


@dataclass(frozen=True)
class Cause:
    """Why an entry exists: its type and id (order, return, transfer, expiry, grant)."""

    type: str
    id: str


# Built once, with bound parameters: building these statements on every call cost more
# than running them (about 1 ms each on SQLite, measured with benchmarks/loyalty.py).
_LOCK = (
    update(accounts_table)
    .where(_a.merchant_id == bindparam("b_m"), _a.customer_id == bindparam("b_c"))
    .values(version=_a.version + 1, updated_at=bindparam("b_now", type_=_a.updated_at.type))
    .returning(_a.balance, _a.debt)
)
_OPEN: dict[str, Any] = {}  # dialect name -> INSERT .. ON CONFLICT DO NOTHING
_FIND = select(entries_table).where(
    _e.merchant_id == bindparam("b_m"), _e.ref == bindparam("b_ref")
)
_INSERT = insert(entries_table)
_MOVE = (
    update(accounts_table)
    .where(
        _a.merchant_id == bindparam("b_m"),
        _a.customer_id == bindparam("b_c"),
        _a.balance + bindparam("b_points") >= 0,
        _a.debt + bindparam("b_debt") >= 0,
    )
    .values(
        balance=_a.balance + bindparam("b_points"),
        debt=_a.debt + bindparam("b_debt"),
        updated_at=bindparam("b_now", type_=_a.updated_at.type),
    )
)
_ORDER = (
    case((_e.id == bindparam("b_first"), 0), else_=1),
    _e.expires_at.is_(None),
    _e.expires_at,
    _e.id,
)
_RUNNING = (
    select(
        _e.id,
        _e.remaining,
        _e.expires_at,
        func.sum(_e.remaining).over(order_by=_ORDER).label("upto"),
    )
    .where(_e.merchant_id == bindparam("b_m"), _e.customer_id == bindparam("b_c"), LIVE_LOT)
    .subquery()
)
_LOTS = select(_RUNNING.c.id, _RUNNING.c.remaining, _RUNNING.c.expires_at).where(
    _RUNNING.c.upto - _RUNNING.c.remaining < bindparam("b_n")
)
_ONE_LOT = select(_e.id, _e.remaining, _e.expires_at).where(_e.id == bindparam("b_id"))
_TAKE = (
    update(entries_table)
    .where(_e.id == bindparam("b_id"), _e.remaining >= bindparam("b_take"))
    .values(remaining=_e.remaining - bindparam("b_take"))
)


def _open_statement(conn: Connection) -> Any:
    stmt = _OPEN.get(conn.dialect.name)
    if stmt is None:
        stmt = insert_on_conflict(conn, accounts_table).on_conflict_do_nothing(
            index_elements=["merchant_id", "customer_id"]
        )
        _OPEN[conn.dialect.name] = stmt
    return stmt


def _lock(conn: Connection, merchant_id: str, customer_id: str, now: datetime) -> tuple[int, int]:
    """Take the account row (creating it at zero); returns (balance, debt)."""
    params = {"b_m": merchant_id, "b_c": customer_id, "b_now": now}
    row = conn.execute(_LOCK, params).first()
    if row is None:
        conn.execute(
            _open_statement(conn),
            {
                "merchant_id": merchant_id,
                "customer_id": customer_id,
                "balance": 0,
                "debt": 0,
                "version": 0,
                "updated_at": now,
            },
        )
        row = conn.execute(_LOCK, params).one()
    return int(row.balance), int(row.debt)


def find_entry(conn: Connection, merchant_id: str, ref: str) -> Any:
    return conn.execute(_FIND, {"b_m": merchant_id, "b_ref": ref}).first()


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
    conn.execute(_INSERT, row)
    return row


def _move(
    conn: Connection, merchant_id: str, customer_id: str, points: int, debt: int, now: datetime
) -> None:
    res = conn.execute(
        _MOVE,
        {"b_m": merchant_id, "b_c": customer_id, "b_points": points, "b_debt": debt, "b_now": now},
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
    _move(conn, merchant_id, customer_id, to_balance, -repaid, now)
    with pipelined(conn):  # plain inserts, one round trip on PostgreSQL
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
    if only_lot:
        assert first_lot is not None
        lot = conn.execute(_ONE_LOT, {"b_id": first_lot}).one()
        lots, available = [Lot(lot.id, int(lot.remaining), lot.expires_at)], int(lot.remaining)
    else:
        available = balance  # the lots hold the balance, exactly
    if n is None:
        n = available
    if n > available and not allow_debt:
        raise InsufficientPoints("not enough points", details={"requested": n, "balance": balance})
    from_balance, to_debt = split_debit(n, available)
    if not only_lot:
        lots = _lots(conn, merchant_id, customer_id, first_lot, from_balance)
    taken = consume(lots, from_balance, first_lot)
    for lot_id, k in taken:
        res = conn.execute(_TAKE, {"b_id": lot_id, "b_take": k})
        assert res.rowcount == 1, "a lot changed outside its account's lock"
    _move(conn, merchant_id, customer_id, -from_balance, to_debt, now)
    with pipelined(conn):
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
        _event(conn, entry, now)
    return entry, True


def _lots(
    conn: Connection, merchant_id: str, customer_id: str, first: str | None, n: int
) -> list[Lot]:
    """Just the lots a debit of ``n`` takes, in the order ``consume`` takes them (a running
    sum in SQL, so an account with many small lots reads only the few it needs)."""
    if n <= 0:
        return []
    rows = conn.execute(
        _LOTS, {"b_m": merchant_id, "b_c": customer_id, "b_first": first or "", "b_n": n}
    )
    return [Lot(r.id, int(r.remaining), r.expires_at) for r in rows]


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
