"""Third-party carriers: the cheapest quote for a parcel, the next handoff cut-off at a
hub, the handoff record and its scan at the hub."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, insert, select, update

from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Conflict, NotFound
from hubflow.delivery.fleet import CarrierRateCard
from hubflow.delivery.model import ShipmentStatus
from hubflow.delivery.orders_sync import sync_order
from hubflow.delivery.store import carrier_handoffs_table, carriers_table
from hubflow.delivery.tracking import move, shipment_row
from hubflow.inventory import service as inventory

__all__ = ["Quote", "cheapest", "cutoff_for", "hand_over", "record_handoff"]

Quote = tuple[Any, int, str]  # (carrier row, price, currency)


def cheapest(carriers: Iterable[Any], weight_g: int, km: float) -> Quote | None:
    """The lowest price among carriers (rows with ``rate_card``) that take the parcel."""
    best: Quote | None = None
    for c in carriers:
        card = CarrierRateCard(**c.rate_card)
        price = card.quote(weight_g, km)
        if price is not None and (best is None or price < best[1]):
            best = (c, price, card.currency)
    return best


def cutoff_for(handoff_cutoff: str, timezone: str, now: datetime) -> datetime:
    """The next time the carrier collects at a hub (its local "HH:MM")."""
    local = now.astimezone(ZoneInfo(timezone))
    hh, mm = (int(x) for x in handoff_cutoff.split(":"))
    cut = local.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if cut <= local:
        cut += timedelta(days=1)
    return cut.astimezone(now.tzinfo)


def record_handoff(
    conn: Connection, shipment_id: str, quote: Quote, cutoff: datetime, now: datetime
) -> None:
    carrier, price, currency = quote
    h = carrier_handoffs_table.c
    conn.execute(carrier_handoffs_table.delete().where(h.shipment_id == shipment_id))
    conn.execute(
        insert(carrier_handoffs_table).values(
            shipment_id=shipment_id,
            carrier_id=carrier.id,
            status="quoted",
            price=price,
            currency=currency,
            cutoff_at=cutoff,
            created_at=now,
        )
    )


def hand_over(
    uow: UnitOfWork, shipment_id: str, tracking_number: str, now: datetime
) -> dict[str, Any]:
    """The carrier's driver scanned the parcel at the hub: the goods leave."""
    conn = uow.conn
    ship = shipment_row(conn, shipment_id)
    h = carrier_handoffs_table.c
    row = conn.execute(select(carrier_handoffs_table).where(h.shipment_id == shipment_id)).first()
    if row is None:
        raise NotFound("this parcel is not booked with a carrier", code="no_carrier_booking")
    if ship["status"] != ShipmentStatus.CARRIER_PENDING.value:
        raise Conflict(
            f"the parcel is {ship['status']}, not waiting for a carrier",
            code="shipment_out_of_order",
        )
    if ship["packed_at"] is None:
        raise Conflict("the parcel is not packed yet", code="not_packed")
    name = conn.execute(
        select(carriers_table.c.name).where(carriers_table.c.id == row.carrier_id)
    ).scalar()
    conn.execute(
        update(carrier_handoffs_table)
        .where(h.shipment_id == shipment_id)
        .values(status="handed_over", tracking_number=tracking_number, handed_at=now)
    )
    move(
        conn,
        ship,
        ShipmentStatus.HANDED_TO_CARRIER,
        now,
        kind="handed_to_carrier",
        details={"carrier": name, "tracking_number": tracking_number},
    )
    inventory.ship_owner(uow, ship["order_id"], now, hub_id=ship["hub_id"])
    sync_order(uow, ship["order_id"], now)
    return {
        "shipment_id": shipment_id,
        "carrier": name,
        "tracking_number": tracking_number,
        "price": row.price,
        "currency": row.currency,
    }
