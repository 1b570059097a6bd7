"""Webhook endpoint and delivery use cases (merchant-scoped)."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, NotFound
from hubflow.core.events import Event, events_table, record
from hubflow.core.ids import new_id
from hubflow.webhooks.store import deliveries_table, endpoints_table

__all__ = [
    "DeliveryStatus",
    "create_endpoint",
    "delete_endpoint",
    "list_deliveries",
    "list_endpoints",
    "replay_delivery",
    "send_test",
]


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    PARKED = "parked"


def _endpoint_json(row: Any, *, with_secret: bool = False) -> dict[str, Any]:
    m = row._mapping
    out = {
        "id": m["id"],
        "url": m["url"],
        "event_types": m["event_types"],
        "description": m["description"],
        "active": m["active"],
        "created_at": m["created_at"].isoformat(),
    }
    if with_secret:
        out["secret"] = m["secret"]
    return out


def create_endpoint(
    uow: UnitOfWork,
    merchant_id: str,
    url: str,
    event_types: list[str],
    description: str | None,
    now: datetime,
) -> dict[str, Any]:
    endpoint_id = new_id("whe")
    uow.conn.execute(
        insert(endpoints_table).values(
            id=endpoint_id,
            merchant_id=merchant_id,
            url=url,
            secret="whsec_" + secrets.token_urlsafe(32),
            event_types=sorted(set(event_types)) or ["*"],
            description=description,
            active=True,
            created_at=now,
        )
    )
    row = uow.conn.execute(select(endpoints_table).where(endpoints_table.c.id == endpoint_id)).one()
    return _endpoint_json(row, with_secret=True)


def list_endpoints(conn: Connection, merchant_id: str) -> list[dict[str, Any]]:
    e = endpoints_table.c
    rows = conn.execute(select(endpoints_table).where(e.merchant_id == merchant_id).order_by(e.id))
    return [_endpoint_json(r) for r in rows]


def delete_endpoint(uow: UnitOfWork, merchant_id: str, endpoint_id: str) -> None:
    """Deactivate: past deliveries keep their endpoint for the log."""
    e = endpoints_table.c
    res = uow.conn.execute(
        update(endpoints_table)
        .where(e.id == endpoint_id, e.merchant_id == merchant_id, e.active.is_(True))
        .values(active=False)
    )
    if res.rowcount == 0:
        raise NotFound(f"webhook endpoint {endpoint_id} not found", code="endpoint_not_found")


def _delivery_json(row: Any) -> dict[str, Any]:
    m = row._mapping

    def iso(v: datetime | None) -> str | None:
        return v.isoformat() if v else None

    return {
        "id": m["id"],
        "event_id": m["event_id"],
        "endpoint_id": m["endpoint_id"],
        "status": m["status"],
        "attempts": m["attempts"],
        "next_attempt_at": iso(m["next_attempt_at"]),
        "last_status_code": m["last_status_code"],
        "last_error": m["last_error"],
        "created_at": iso(m["created_at"]),
        "delivered_at": iso(m["delivered_at"]),
    }


def list_deliveries(
    conn: Connection,
    merchant_id: str,
    *,
    status: DeliveryStatus | None = None,
    after: str | None = None,
    limit: int = 50,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    d = deliveries_table.c
    order = d.id.desc() if newest_first else d.id
    q = select(deliveries_table).where(d.merchant_id == merchant_id).order_by(order).limit(limit)
    if status is not None:
        q = q.where(d.status == status.value)
    if after is not None:
        q = q.where(d.id > after)
    return [_delivery_json(r) for r in conn.execute(q)]


def replay_delivery(
    uow: UnitOfWork, merchant_id: str, delivery_id: str, now: datetime
) -> dict[str, Any]:
    """Send a parked (or delivered) event again, with a fresh set of attempts."""
    d = deliveries_table.c
    res = uow.conn.execute(
        update(deliveries_table)
        .where(
            d.id == delivery_id,
            d.merchant_id == merchant_id,
            d.status != DeliveryStatus.PENDING.value,
        )
        .values(
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            lease_until=None,
            updated_at=now,
        )
    )
    row = uow.conn.execute(
        select(deliveries_table).where(d.id == delivery_id, d.merchant_id == merchant_id)
    ).first()
    if row is None:
        raise NotFound(f"delivery {delivery_id} not found", code="delivery_not_found")
    if res.rowcount == 0:
        raise Conflict("the delivery is already pending", code="delivery_pending")
    return _delivery_json(row)


def send_test(uow: UnitOfWork, merchant_id: str, endpoint_id: str, now: datetime) -> dict[str, Any]:
    """A ``webhook.test`` event for this endpoint only: its delivery is written here and
    the event is marked dispatched, so the relay sends it to no other endpoint."""
    e = endpoints_table.c
    endpoint = uow.conn.execute(
        select(e.id).where(e.id == endpoint_id, e.merchant_id == merchant_id, e.active.is_(True))
    ).first()
    if endpoint is None:
        raise NotFound(f"webhook endpoint {endpoint_id} not found", code="endpoint_not_found")
    payload = {"endpoint_id": endpoint_id, "message": "a test from Hubflow"}
    (event_id,) = record(uow.conn, [Event("webhook.test", endpoint_id, merchant_id, payload)], now)
    uow.conn.execute(
        update(events_table).where(events_table.c.id == event_id).values(dispatched_at=now)
    )
    delivery_id = new_id("whd")
    uow.conn.execute(
        insert(deliveries_table).values(
            id=delivery_id, event_id=event_id, endpoint_id=endpoint_id, merchant_id=merchant_id,
            status=DeliveryStatus.PENDING.value, attempts=0, next_attempt_at=now,
            created_at=now, updated_at=now,
        )
    )  # fmt: skip
    row = uow.conn.execute(select(deliveries_table).where(deliveries_table.c.id == delivery_id))
    return _delivery_json(row.one())
