"""Hub use cases."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import insert, update

from hubflow.core.db import UnitOfWork
from hubflow.core.errors import InvalidInput, NotFound
from hubflow.core.events import Event, record
from hubflow.core.ids import new_id
from hubflow.network.model import DAYS, Hub, parse_hhmm
from hubflow.network.store import bump_revision, get_hub, hubs_table

__all__ = ["create_hub", "hub_to_json", "require_hub", "set_hub_active", "validate_hours"]


def validate_hours(hours: dict[str, list[list[str]]]) -> dict[str, list[list[str]]]:
    for day, intervals in hours.items():
        if day not in DAYS:
            raise InvalidInput(f"unknown weekday {day!r}", code="invalid_opening_hours")
        for interval in intervals:
            if len(interval) != 2:
                raise InvalidInput("an interval is [open, close]", code="invalid_opening_hours")
            try:
                start, end = (parse_hhmm(x) for x in interval)
            except ValueError as exc:
                raise InvalidInput(
                    f"bad time in {interval!r}; use HH:MM", code="invalid_opening_hours"
                ) from exc
            if start == end:
                raise InvalidInput(f"empty interval {interval!r}", code="invalid_opening_hours")
    return hours


def create_hub(uow: UnitOfWork, now: datetime, **fields: Any) -> Hub:
    try:
        ZoneInfo(fields["timezone"])
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(
            f"unknown timezone {fields['timezone']!r}", code="invalid_timezone"
        ) from exc
    validate_hours(fields["opening_hours"])
    hub_id = new_id("hub")
    uow.conn.execute(insert(hubs_table).values(id=hub_id, created_at=now, active=True, **fields))
    record(uow.conn, [Event("hub.created", hub_id, None, {"hub_id": hub_id})], now)
    bump_revision(uow.conn, now)
    hub = get_hub(uow.conn, hub_id)
    assert hub is not None
    return hub


def require_hub(uow: UnitOfWork, hub_id: str) -> Hub:
    hub = get_hub(uow.conn, hub_id)
    if hub is None:
        raise NotFound(f"hub {hub_id} not found", code="hub_not_found")
    return hub


def set_hub_active(uow: UnitOfWork, hub_id: str, active: bool, now: datetime) -> Hub:
    res = uow.conn.execute(
        update(hubs_table).where(hubs_table.c.id == hub_id).values(active=active)
    )
    if res.rowcount == 0:
        raise NotFound(f"hub {hub_id} not found", code="hub_not_found")
    kind = "hub.activated" if active else "hub.deactivated"
    record(uow.conn, [Event(kind, hub_id, None, {"hub_id": hub_id})], now)
    bump_revision(uow.conn, now)
    return require_hub(uow, hub_id)


def hub_to_json(hub: Hub, at: datetime | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": hub.id,
        "name": hub.name,
        "kind": hub.kind.value,
        "location": asdict(hub.location),
        "timezone": hub.timezone,
        "region": hub.region,
        "opening_hours": {d: [list(i) for i in v] for d, v in hub.hours.week.items()},
        "capabilities": sorted(c.value for c in hub.capabilities),
        "service_radius_km": hub.service_radius_km,
        "active": hub.active,
    }
    if at is not None:
        out["open_now"] = hub.is_open(at)
    return out
