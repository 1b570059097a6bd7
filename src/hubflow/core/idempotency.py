"""Idempotency keys: the same key and body replays the stored response.

The key row is inserted first, inside the same transaction as the work, with
``ON CONFLICT DO NOTHING``: a concurrent request with the same key waits on the
unique index (PostgreSQL) or the write lock (SQLite) and then sees the
committed response. Failed requests roll back their key, so a retry runs again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    bindparam,
    select,
    update,
)
from sqlalchemy.dialects import postgresql

from hubflow.core.db import metadata
from hubflow.core.errors import IdempotencyConflict
from hubflow.core.prepared import Prepared
from hubflow.core.types import JsonType, UTCDateTime

__all__ = [
    "BoundGuard",
    "Claim",
    "Guard",
    "Stored",
    "body_fingerprint",
    "claim",
    "complete",
    "idempotency_table",
]

idempotency_table = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(32), nullable=False),
    Column("key", String(255), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("response", JsonType, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("scope", "key", name="pk_idempotency_keys"),
)


@dataclass(frozen=True)
class Stored:
    status_code: int
    response: Any


def body_fingerprint(method: str, path: str, body: Any) -> str:
    canonical = orjson.dumps([method, path, body], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def _claim_insert(guard: ColumnElement[bool] | None) -> Prepared:
    t = idempotency_table
    names = ("scope", "key", "request_hash", "created_at")
    # The PostgreSQL construct compiles on SQLite too: both say ON CONFLICT DO NOTHING.
    stmt = postgresql.insert(t)
    if guard is not None:
        # INSERT .. SELECT .. WHERE guard: one statement claims the key and checks the
        # guard (SQLite needs the WHERE to parse ON CONFLICT after a SELECT).
        values = select(*(bindparam(n, type_=t.c[n].type) for n in names)).where(guard)
        stmt = postgresql.insert(t).from_select(list(names), values)
    # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT.
    return Prepared(stmt.on_conflict_do_nothing(index_elements=["scope", "key"]).returning(t.c.key))


_CLAIM = _claim_insert(None)

_COMPLETE = Prepared(
    update(idempotency_table)
    .where(
        idempotency_table.c.scope == bindparam("b_scope"),
        idempotency_table.c.key == bindparam("b_key"),
    )
    .values(
        status_code=bindparam("b_status"),
        response=bindparam("b_response", type_=idempotency_table.c.response.type),
    )
)


class Guard:
    """A condition the claim of a key must meet, checked inside the claim's INSERT (one
    statement instead of a read and an insert): e.g. that the caller's API key is still
    valid. When the INSERT claims nothing, ``recheck`` runs and must raise if the
    condition is why; otherwise the key is a replay."""

    def __init__(self, condition: ColumnElement[bool]) -> None:
        self._insert = _claim_insert(condition)

    def bind(self, params: dict[str, Any], recheck: Callable[[Connection], None]) -> BoundGuard:
        return BoundGuard(self, params, recheck)


@dataclass(frozen=True)
class BoundGuard:
    guard: Guard
    params: dict[str, Any]
    recheck: Callable[[Connection], None]


class Claim:
    """A claim sent but not yet read: on PostgreSQL inside a pipeline, its answer comes
    with the statements sent after it, in one round trip. ``result()`` reads it."""

    def __init__(
        self,
        conn: Connection,
        scope: str,
        key: str,
        request_hash: str,
        now: datetime,
        guard: BoundGuard | None = None,
    ) -> None:
        self.conn, self.scope, self.key, self.request_hash = conn, scope, key, request_hash
        self.guard = guard
        insert = guard.guard._insert if guard is not None else _CLAIM
        params = {"scope": scope, "key": key, "request_hash": request_hash, "created_at": now}
        self._cursor = insert.execute(conn, {**params, **(guard.params if guard else {})})

    def result(self) -> Stored | None:
        """None when this request claimed the key, else the stored response (raises
        IdempotencyConflict for another body or a request still in flight)."""
        if self._cursor.fetchall():
            return None
        if self.guard is not None:
            self.guard.recheck(self.conn)
        t = idempotency_table
        row = self.conn.execute(
            select(t.c.request_hash, t.c.status_code, t.c.response).where(
                t.c.scope == self.scope, t.c.key == self.key
            )
        ).one()
        if row.request_hash != self.request_hash or row.status_code is None:
            raise IdempotencyConflict(
                "this Idempotency-Key was already used with a different request",
                details={"idempotency_key": self.key},
            )
        return Stored(row.status_code, row.response)


def claim(
    conn: Connection, scope: str, key: str, request_hash: str, now: datetime
) -> Stored | None:
    """Claim ``key`` for this request, or return the response stored for it."""
    return Claim(conn, scope, key, request_hash, now).result()


def complete(conn: Connection, scope: str, key: str, status_code: int, response: Any) -> None:
    _COMPLETE.write(
        conn, {"b_scope": scope, "b_key": key, "b_status": status_code, "b_response": response}
    )
