"""Hub tables and queries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Float,
    Row,
    String,
    Table,
    select,
)

from hubflow.core.db import metadata
from hubflow.core.geo import LatLng
from hubflow.core.types import JsonType, UTCDateTime
from hubflow.network.model import Capability, Hub, HubKind, OpeningHours

__all__ = ["get_hub", "hub_from_row", "hubs_table", "list_hubs"]

hubs_table = Table(
    "hubs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lng", Float, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("region", String(64), nullable=False, index=True),
    Column("opening_hours", JsonType, nullable=False),
    Column("capabilities", JsonType, nullable=False),
    Column("service_radius_km", Float, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)


def hub_from_row(row: Row[Any]) -> Hub:
    m = row._mapping
    return Hub(
        id=m["id"],
        name=m["name"],
        kind=HubKind(m["kind"]),
        location=LatLng(m["lat"], m["lng"]),
        timezone=m["timezone"],
        hours=OpeningHours({d: [tuple(i) for i in v] for d, v in m["opening_hours"].items()}),
        capabilities=frozenset(Capability(c) for c in m["capabilities"]),
        service_radius_km=m["service_radius_km"],
        region=m["region"],
        active=m["active"],
    )


def get_hub(conn: Connection, hub_id: str) -> Hub | None:
    row = conn.execute(select(hubs_table).where(hubs_table.c.id == hub_id)).first()
    return hub_from_row(row) if row else None


def list_hubs(
    conn: Connection, *, after: str | None = None, limit: int = 1000, active_only: bool = False
) -> list[Hub]:
    q = select(hubs_table).order_by(hubs_table.c.id).limit(limit)
    if after:
        q = q.where(hubs_table.c.id > after)
    if active_only:
        q = q.where(hubs_table.c.active.is_(True))
    return [hub_from_row(r) for r in conn.execute(q)]
