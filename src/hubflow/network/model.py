"""Hubs, their opening hours and capabilities (pure domain)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

from hubflow.core.clock import ensure_utc
from hubflow.core.geo import LatLng

__all__ = ["DAYS", "Capability", "Hub", "HubKind", "OpeningHours", "parse_hhmm"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class HubKind(StrEnum):
    FULFILLMENT_CENTER = "fulfillment_center"
    STORE = "store"
    DARK_STORE = "dark_store"


class Capability(StrEnum):
    SHIP_FROM_STORE = "ship_from_store"
    PICK_UP_IN_STORE = "pick_up_in_store"


def parse_hhmm(value: str) -> time:
    hh, mm = value.split(":")
    h, m = int(hh), int(mm)
    if h == 24 and m == 0:
        return time.max
    return time(h, m)


@dataclass(frozen=True)
class OpeningHours:
    """Local opening intervals per weekday; an interval may run past midnight
    (``["22:00", "02:00"]`` means open from 22:00 until 02:00 the next day)."""

    week: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    @classmethod
    def always(cls) -> OpeningHours:
        return cls({d: [("00:00", "24:00")] for d in DAYS})

    def is_open(self, local: datetime) -> bool:
        today = DAYS[local.weekday()]
        yesterday = DAYS[(local.weekday() - 1) % 7]
        t = local.time()
        for start, end in self.week.get(today, []):
            s, e = parse_hhmm(start), parse_hhmm(end)
            # "24:00" parses to time.max, so an interval ending then includes time.max itself.
            if (s <= e and s <= t and (t < e or e == time.max)) or (s > e and t >= s):
                return True
        for start, end in self.week.get(yesterday, []):
            s, e = parse_hhmm(start), parse_hhmm(end)
            if s > e and t < e:
                return True
        return False


@dataclass(frozen=True)
class Hub:
    id: str
    name: str
    kind: HubKind
    location: LatLng
    timezone: str
    hours: OpeningHours
    capabilities: frozenset[Capability]
    service_radius_km: float
    region: str = "default"
    active: bool = True

    def is_open(self, at: datetime) -> bool:
        return self.hours.is_open(ensure_utc(at).astimezone(ZoneInfo(self.timezone)))

    @property
    def ships(self) -> bool:
        """Whether orders can be sourced from this hub for delivery."""
        if self.kind is HubKind.STORE:
            return Capability.SHIP_FROM_STORE in self.capabilities
        return True
