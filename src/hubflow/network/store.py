"""Hub tables and queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Float,
    Integer,
    Row,
    String,
    Table,
    select,
)

from hubflow.core.db import metadata
from hubflow.core.geo import LatLng
from hubflow.core.ids import new_id
from hubflow.core.types import JsonType, UTCDateTime
from hubflow.core.upsert import insert_on_conflict
from hubflow.network.model import Capability, Hub, HubKind, OpeningHours

__all__ = [
    "bump_revision",
    "get_hub",
    "hub_from_row",
    "hubs_table",
    "list_hubs",
    "network_revision",
    "network_revision_table",
]

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

# One row whose token changes with every change to the network (a hub created,
# activated or deactivated, its promise settings changed): processes that cache
# the hubs (the promise engine's hub index) compare it to know when to reload.
network_revision_table = Table(
    "network_revision",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("token", String(32), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)


def bump_revision(conn: Connection, now: datetime) -> None:
    t = network_revision_table
    token = new_id("rev")
    conn.execute(
        insert_on_conflict(conn, t)
        .values(id=1, token=token, updated_at=now)
        .on_conflict_do_update(index_elements=["id"], set_={"token": token, "updated_at": now})
    )


_REVISION = select(network_revision_table.c.token).where(network_revision_table.c.id == 1)


def network_revision(conn: Connection) -> str:
    token = conn.execute(_REVISION).scalar()
    return str(token) if token is not None else ""


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


# Order sourcing reads every active hub on each order: build that statement once.
_ACTIVE_HUBS = (
    select(hubs_table).where(hubs_table.c.active.is_(True)).order_by(hubs_table.c.id).limit(1000)
)


def list_hubs(
    conn: Connection, *, after: str | None = None, limit: int = 1000, active_only: bool = False
) -> list[Hub]:
    if active_only and after is None and limit == 1000:
        return [hub_from_row(r) for r in conn.execute(_ACTIVE_HUBS)]
    q = select(hubs_table).order_by(hubs_table.c.id).limit(limit)
    if after:
        q = q.where(hubs_table.c.id > after)
    if active_only:
        q = q.where(hubs_table.c.active.is_(True))
    return [hub_from_row(r) for r in conn.execute(q)]
