"""Idempotency keys: the same key and body replays the stored response.

The key row is inserted first, inside the same transaction as the work, with
``ON CONFLICT DO NOTHING``: a concurrent request with the same key waits on the
unique index (PostgreSQL) or the write lock (SQLite) and then sees the
committed response. Failed requests roll back their key, so a retry runs again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    bindparam,
    select,
    update,
)

from hubflow.core.db import metadata
from hubflow.core.errors import IdempotencyConflict
from hubflow.core.types import JsonType, UTCDateTime
from hubflow.core.upsert import insert_on_conflict

__all__ = ["Stored", "body_fingerprint", "claim", "complete", "idempotency_table"]

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


_CLAIM: dict[str, Any] = {}  # dialect name -> INSERT .. ON CONFLICT DO NOTHING, built once

_COMPLETE = (
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


def _claim_statement(conn: Connection) -> Any:
    stmt = _CLAIM.get(conn.dialect.name)
    if stmt is None:
        t = idempotency_table
        stmt = (
            insert_on_conflict(conn, t)
            .on_conflict_do_nothing(index_elements=["scope", "key"])
            .returning(t.c.key)
        )
        _CLAIM[conn.dialect.name] = stmt
    return stmt


def claim(
    conn: Connection, scope: str, key: str, request_hash: str, now: datetime
) -> Stored | None:
    """Claim ``key`` for this request, or return the response stored for it."""
    t = idempotency_table
    # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT.
    inserted = conn.execute(
        _claim_statement(conn),
        {"scope": scope, "key": key, "request_hash": request_hash, "created_at": now},
    ).first()
    if inserted is not None:
        return None
    row = conn.execute(
        select(t.c.request_hash, t.c.status_code, t.c.response).where(
            t.c.scope == scope, t.c.key == key
        )
    ).one()
    if row.request_hash != request_hash or row.status_code is None:
        raise IdempotencyConflict(
            "this Idempotency-Key was already used with a different request",
            details={"idempotency_key": key},
        )
    return Stored(row.status_code, row.response)


def complete(conn: Connection, scope: str, key: str, status_code: int, response: Any) -> None:
    conn.execute(
        _COMPLETE,
        {"b_scope": scope, "b_key": key, "b_status": status_code, "b_response": response},
    )
