"""Domain events and the transactional outbox.

A state change and its event are written in the same transaction; the webhook
relay reads the outbox afterwards. ``dispatched_at`` marks events the relay has
fanned out to endpoints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, Index, String, Table, insert

from hubflow.core.db import metadata
from hubflow.core.ids import new_id
from hubflow.core.types import JsonType, UTCDateTime

__all__ = ["Event", "events_table", "record"]

events_table = Table(
    "events",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("type", String(64), nullable=False),
    Column("merchant_id", String(32), nullable=True, index=True),
    Column("subject_id", String(32), nullable=False, index=True),
    Column("payload", JsonType, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("dispatched_at", UTCDateTime(), nullable=True),
    Index("ix_events_dispatch", "dispatched_at", "id"),
)


_INSERT = insert(events_table)  # built once: every state change writes here


@dataclass(frozen=True)
class Event:
    type: str
    subject_id: str
    merchant_id: str | None
    payload: dict[str, Any] = field(default_factory=dict)


def record(conn: Connection, events: list[Event], now: datetime) -> list[str]:
    """Append events to the outbox inside the caller's transaction."""
    if not events:
        return []
    rows = [
        {
            "id": new_id("evt"),
            "type": e.type,
            "merchant_id": e.merchant_id,
            "subject_id": e.subject_id,
            "payload": e.payload,
            "created_at": now,
            "dispatched_at": None,
        }
        for e in events
    ]
    conn.execute(_INSERT, rows)
    return [str(r["id"]) for r in rows]
