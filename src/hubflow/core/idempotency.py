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


def claim(
    conn: Connection, scope: str, key: str, request_hash: str, now: datetime
) -> Stored | None:
    """Claim ``key`` for this request, or return the response stored for it."""
    t = idempotency_table
    # RETURNING, not rowcount: drivers disagree on rowcount for ON CONFLICT.
    inserted = conn.execute(
        insert_on_conflict(conn, t)
        .values(scope=scope, key=key, request_hash=request_hash, created_at=now)
        .on_conflict_do_nothing(index_elements=["scope", "key"])
        .returning(t.c.key)
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
    t = idempotency_table
    conn.execute(
        update(t)
        .where(t.c.scope == scope, t.c.key == key)
        .values(status_code=status_code, response=response)
    )
