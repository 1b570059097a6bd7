"""Small builders for service-level tests: set up merchants, hubs, products and
stock through the real services, and read back what the invariants talk about."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, func, select

from hubflow.catalog.service import create_merchant, create_product
from hubflow.core.db import UnitOfWork
from hubflow.core.geo import LatLng
from hubflow.inventory import service as inventory
from hubflow.inventory.model import Position
from hubflow.inventory.store import movements_table, stock_table
from hubflow.network.model import DAYS
from hubflow.network.service import create_hub
from hubflow.orders.service import OrderRequest

ALWAYS_OPEN: dict[str, list[list[str]]] = {d: [["00:00", "24:00"]] for d in DAYS}
NEVER_OPEN: dict[str, list[list[str]]] = {}

# Downtown Seattle, about 19 km from the default hub.
DEST = LatLng(47.61, -122.33)


def make_merchant(engine: Engine, now: datetime, name: str = "Acme") -> str:
    with UnitOfWork(engine) as uow:
        merchant, _ = create_merchant(uow, name, "retailer", now)
    return str(merchant["id"])


def make_hub(
    engine: Engine,
    now: datetime,
    *,
    name: str = "Seattle FC",
    lat: float = 47.45,
    lng: float = -122.25,
    radius_km: float = 80.0,
    hours: dict[str, list[list[str]]] | None = None,
    timezone: str = "America/Los_Angeles",
    kind: str = "fulfillment_center",
    capabilities: list[str] | None = None,
) -> str:
    with UnitOfWork(engine) as uow:
        hub = create_hub(
            uow,
            now,
            name=name,
            kind=kind,
            lat=lat,
            lng=lng,
            timezone=timezone,
            region="default",
            opening_hours=ALWAYS_OPEN if hours is None else hours,
            capabilities=capabilities or [],
            service_radius_km=radius_km,
        )
    return hub.id


def make_product(engine: Engine, now: datetime, merchant_id: str, sku: str = "SKU-1") -> str:
    with UnitOfWork(engine) as uow:
        product = create_product(
            uow,
            merchant_id,
            now,
            sku=sku,
            name=f"Product {sku}",
            length_mm=300,
            width_mm=120,
            height_mm=100,
            weight_g=800,
            value_amount=650,
            currency="USD",
            temperature="ambient",
            hazmat=False,
        )
    return product.id


def receive(
    engine: Engine, now: datetime, merchant_id: str, hub_id: str, product_id: str, qty: int
) -> Position:
    with UnitOfWork(engine) as uow:
        return inventory.receive(uow, merchant_id, hub_id, product_id, qty, now)


def position(engine: Engine, hub_id: str, product_id: str) -> Position:
    with UnitOfWork(engine, readonly=True) as uow:
        return inventory.position(uow.conn, hub_id, product_id)


def all_positions(engine: Engine) -> dict[tuple[str, str], Position]:
    s = stock_table.c
    with UnitOfWork(engine, readonly=True) as uow:
        rows = uow.conn.execute(select(s.hub_id, s.product_id, s.on_hand, s.reserved)).all()
    return {(r.hub_id, r.product_id): Position(r.on_hand, r.reserved) for r in rows}


def ledger_sums(engine: Engine) -> dict[tuple[str, str], Position]:
    """Per (hub, product): the sums of the movement ledger, as a Position."""
    m = movements_table.c
    with UnitOfWork(engine, readonly=True) as uow:
        rows = uow.conn.execute(
            select(
                m.hub_id,
                m.product_id,
                func.sum(m.on_hand_delta).label("on_hand"),
                func.sum(m.reserved_delta).label("reserved"),
            ).group_by(m.hub_id, m.product_id)
        ).all()
    return {(r.hub_id, r.product_id): Position(int(r.on_hand), int(r.reserved)) for r in rows}


def count(engine: Engine, table: Table, *where: Any) -> int:
    with UnitOfWork(engine, readonly=True) as uow:
        return int(
            uow.conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
        )


def order_request(lines: list[tuple[str, int]], dest: LatLng = DEST, **extra: Any) -> OrderRequest:
    return OrderRequest(
        lines=lines,
        destination=dest,
        address={"line1": "400 Pine St", "city": "Seattle", "postcode": "98101", "country": "US"},
        customer={"name": "Ada Lovelace", "email": "ada@example.com"},
        **extra,
    )
