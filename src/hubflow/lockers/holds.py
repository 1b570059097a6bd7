"""Compartment holds for orders promised ``locker`` delivery: which banks near an address
have a fitting compartment free for the parcel, and holding one for the order until its
parcel is deposited (or the hold lapses). A hold is a conditional UPDATE on a free,
unheld compartment, so two orders cannot hold the same one."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, func, or_, select, update

from hubflow.core.clock import iso_z
from hubflow.core.errors import Conflict
from hubflow.core.events import Event, record
from hubflow.core.geo import EARTH_RADIUS_KM, LatLng, haversine_km
from hubflow.lockers.model import Size, fits
from hubflow.lockers.store import banks_table, compartments_table
from hubflow.orders.store import shipments_table

__all__ = [
    "BankFit",
    "banks_near",
    "compartment_size",
    "hold",
    "hold_for_order",
    "release_holds",
    "takeable",
]


@dataclass(frozen=True)
class BankFit:
    id: str
    name: str
    point: LatLng
    km: float
    fitting: int  # free, unheld compartments the parcel fits in


def takeable(now: datetime, order_id: str | None = None) -> ColumnElement[bool]:
    """Free compartments nobody else holds (a lapsed hold holds nothing)."""
    c = compartments_table.c
    mine = c.hold_order_id == order_id if order_id is not None else c.hold_order_id.is_(None)
    return (c.status == "free") & or_(c.hold_order_id.is_(None), c.hold_until <= now, mine)


def compartment_size(row: Any) -> Size:
    """A compartment row's inner size and weight limit."""
    return Size((row.length_mm, row.width_mm, row.height_mm), row.max_weight_g)


_b, _c = banks_table.c, compartments_table.c
_BANKS = select(_b.id, _b.name, _b.lat, _b.lng).order_by(_b.id)
# Only the banks in a box around the point: a quote reads a few rows, not every bank.
_BANKS_IN_BOX = _BANKS.where(
    _b.lat.between(bindparam("b_lat_lo"), bindparam("b_lat_hi")),
    _b.lng.between(bindparam("b_lng_lo"), bindparam("b_lng_hi")),
)
# Counted per size in the database: a bank has many compartments but few sizes.
_SIZE = (_c.length_mm, _c.width_mm, _c.height_mm, _c.max_weight_g)
_FREE_BY_SIZE = (
    select(_c.bank_id, *_SIZE, func.count().label("n"))
    .where(
        _c.bank_id.in_(bindparam("b_banks", expanding=True)),
        _c.status == "free",
        or_(_c.hold_order_id.is_(None), _c.hold_until <= bindparam("b_now")),
    )  # takeable(now), with the time as a parameter
    .group_by(_c.bank_id, *_SIZE)
)
_MARGIN = 1.01  # the box is a little wider than the circle: rounding never drops a bank


def _box(point: LatLng, radius_km: float) -> dict[str, float] | None:
    """Bounds on latitude and longitude holding every point within ``radius_km`` of
    ``point``; None near a pole or the antimeridian, where a box would wrap."""
    angle = radius_km / EARTH_RADIUS_KM
    reach = math.sin(angle) / math.cos(math.radians(point.lat))  # >= 1: a pole is in reach
    if angle >= math.pi / 2 or abs(point.lat) >= 89.0 or reach >= 1.0:
        return None
    dlat = math.degrees(angle) * _MARGIN
    # The widest longitude difference on the circle (it touches meridians there).
    dlng = math.degrees(math.asin(reach)) * _MARGIN
    if abs(point.lng) + dlng >= 180.0:
        return None
    return {
        "b_lat_lo": point.lat - dlat,
        "b_lat_hi": point.lat + dlat,
        "b_lng_lo": point.lng - dlng,
        "b_lng_hi": point.lng + dlng,
    }


def banks_near(
    conn: Connection,
    point: LatLng,
    radius_km: float,
    dims_mm: tuple[int, int, int],
    weight_g: int,
    now: datetime,
) -> tuple[list[BankFit], int]:
    """Banks within ``radius_km`` with a compartment free for the parcel, nearest first,
    and how many banks are within reach at all (to tell "none near" from "all full")."""
    box = _box(point, radius_km)
    near = []
    for bank in conn.execute(_BANKS) if box is None else conn.execute(_BANKS_IN_BOX, box):
        km = haversine_km(point, LatLng(bank.lat, bank.lng))
        if km <= radius_km:
            near.append((km, bank))
    if not near:
        return [], 0
    params = {"b_banks": [x.id for _, x in near], "b_now": now}
    rows = conn.execute(_FREE_BY_SIZE, params).all()
    fitting: dict[str, int] = {}
    for row in rows:
        if fits(dims_mm, weight_g, compartment_size(row)):
            fitting[row.bank_id] = fitting.get(row.bank_id, 0) + row.n
    out = [
        BankFit(x.id, x.name, LatLng(x.lat, x.lng), km, fitting[x.id])
        for km, x in sorted(near, key=lambda t: (t[0], t[1].id))
        if fitting.get(x.id)
    ]
    return out, len(near)


def hold(
    conn: Connection,
    bank_id: str,
    order_id: str,
    dims_mm: tuple[int, int, int],
    weight_g: int,
    until: datetime,
    now: datetime,
) -> str:
    """Hold the smallest fitting compartment of ``bank_id`` for ``order_id``; its label."""
    c = compartments_table.c
    rows = conn.execute(select(compartments_table).where(c.bank_id == bank_id, takeable(now))).all()
    fitting = [r for r in rows if fits(dims_mm, weight_g, compartment_size(r))]
    for row in sorted(fitting, key=lambda r: (r.length_mm * r.width_mm * r.height_mm, r.label)):
        res = conn.execute(
            update(compartments_table)
            .where(c.id == row.id, c.version == row.version, takeable(now))
            .values(hold_order_id=order_id, hold_until=until, version=c.version + 1)
        )
        if res.rowcount == 1:
            return str(row.label)
    raise Conflict(
        "no compartment at this locker is free for the parcel any more",
        code="no_compartment",
        details={"bank_id": bank_id},
    )


def release_holds(conn: Connection, order_id: str, merchant_id: str, now: datetime) -> int:
    """The order was cancelled or its parcel deposited: its compartments are free again."""
    c = compartments_table.c
    n = conn.execute(
        update(compartments_table)
        .where(c.hold_order_id == order_id)
        .values(hold_order_id=None, hold_until=None, version=c.version + 1)
    ).rowcount
    if n:
        payload = {"order_id": order_id, "compartments": n}
        record(conn, [Event("locker.released", order_id, merchant_id, payload)], now)
    return n


HOLD_GRACE = timedelta(days=1)  # a late van still finds its compartment


def hold_for_order(
    conn: Connection,
    merchant_id: str,
    order_id: str,
    locker: Mapping[str, Any],
    parcels: Mapping[str, tuple[tuple[int, int, int], int]],
    window_to: datetime,
    now: datetime,
) -> dict[str, str]:
    """Hold a compartment of the quoted bank for each of the order's parcels (hub ->
    (dims, weight)) and send the parcels there; raises ``no_compartment`` if the bank
    filled up since the quote (the caller rolls the order back). Hub -> label."""
    bank_id = str(locker["bank_id"])
    until = window_to + HOLD_GRACE
    labels = {
        hub: hold(conn, bank_id, order_id, dims, weight, until, now)
        for hub, (dims, weight) in sorted(parcels.items())
    }
    s = shipments_table.c
    conn.execute(
        update(shipments_table)
        .where(s.order_id == order_id, s.direction == "out")
        .values(
            dest_lat=locker["location"]["lat"],
            dest_lng=locker["location"]["lng"],
            locker_bank_id=bank_id,
        )
    )
    payload = {
        "order_id": order_id,
        "bank_id": bank_id,
        "compartments": sorted(labels.values()),
        "held_until": iso_z(until),
    }
    record(conn, [Event("locker.held", order_id, merchant_id, payload)], now)
    return labels
