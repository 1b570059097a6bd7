"""The demo network as data: the Seattle metro.

One fulfillment center in the Kent valley (where the region's big warehouses
are), a dark store in SoDo, and a dozen stores at real neighbourhood
coordinates. Urban stores serve a few kilometres around them, suburban ones
more; the fulfillment center reaches the whole metro. Nothing here touches a
database: ``HubSpec.as_json`` is the body for ``POST /v1/hubs``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from hubflow.network.model import DAYS, Capability, HubKind

__all__ = [
    "DARK_STORE_HOURS",
    "METRO",
    "STORE_HOURS",
    "Area",
    "HubSpec",
    "Metro",
    "seattle",
]

Hours = dict[str, list[list[str]]]

ALWAYS: Hours = {d: [["00:00", "24:00"]] for d in DAYS}
# Neighbourhood stores: 07:00-22:00 on weekdays and Saturday, shorter on Sunday.
STORE_HOURS: Hours = {
    **{d: [["07:00", "22:00"]] for d in DAYS[:6]},
    "sun": [["08:00", "20:00"]],
}
# A dark store picks for quick commerce late into the night (closes after midnight).
DARK_STORE_HOURS: Hours = {d: [["06:00", "02:00"]] for d in DAYS}

BOTH = (Capability.SHIP_FROM_STORE, Capability.PICK_UP_IN_STORE)


@dataclass(frozen=True)
class HubSpec:
    key: str
    name: str
    kind: HubKind
    lat: float
    lng: float
    service_radius_km: float
    opening_hours: Hours
    capabilities: tuple[Capability, ...] = ()

    def as_json(self, timezone: str, region: str) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "location": {"lat": self.lat, "lng": self.lng},
            "timezone": timezone,
            "region": region,
            "opening_hours": self.opening_hours,
            "capabilities": [c.value for c in self.capabilities],
            "service_radius_km": self.service_radius_km,
        }


@dataclass(frozen=True)
class Area:
    """Where customers live: a centre, a spread (km, one standard deviation), a weight."""

    name: str
    lat: float
    lng: float
    spread_km: float
    weight: float
    postcode: str


@dataclass(frozen=True)
class Metro:
    name: str
    timezone: str
    region: str
    country: str
    hubs: tuple[HubSpec, ...]
    areas: tuple[Area, ...] = field(default=())

    def customer_point(self, rng: random.Random) -> tuple[Area, float, float]:
        """A seeded random customer location near one of the residential areas."""
        area = rng.choices(self.areas, weights=[a.weight for a in self.areas])[0]
        dx, dy = rng.gauss(0.0, area.spread_km), rng.gauss(0.0, area.spread_km)
        lat = area.lat + dy / 111.32
        lng = area.lng + dx / (111.32 * math.cos(math.radians(area.lat)))
        return area, round(lat, 6), round(lng, 6)


def _store(
    key: str, name: str, lat: float, lng: float, radius: float, *caps: Capability
) -> HubSpec:
    return HubSpec(
        key, name, HubKind.STORE, lat, lng, radius, STORE_HOURS, tuple(caps) if caps else BOTH
    )


def seattle() -> Metro:
    hubs = (
        HubSpec(
            "kent-fc",
            "Kent Fulfillment Center",
            HubKind.FULFILLMENT_CENTER,
            47.3900,
            -122.2600,
            65.0,
            ALWAYS,
        ),
        HubSpec(
            "sodo-dark",
            "SoDo Dark Store",
            HubKind.DARK_STORE,
            47.5801,
            -122.3344,
            12.0,
            DARK_STORE_HOURS,
        ),
        # Downtown is a small flagship: pick-up only, it does not ship.
        _store(
            "downtown", "Downtown Westlake", 47.6114, -122.3372, 5.0, Capability.PICK_UP_IN_STORE
        ),
        _store("capitol-hill", "Capitol Hill Broadway", 47.6231, -122.3208, 5.0),
        _store("ballard", "Ballard Market Street", 47.6687, -122.3847, 6.0),
        _store("fremont", "Fremont Canal", 47.6510, -122.3500, 5.0),
        _store("u-district", "U-District The Ave", 47.6612, -122.3132, 5.0),
        _store("west-seattle", "West Seattle Junction", 47.5613, -122.3868, 7.0),
        _store("northgate", "Northgate Station", 47.7062, -122.3255, 7.0),
        _store("bellevue", "Bellevue Downtown", 47.6163, -122.2006, 9.0),
        _store("kirkland", "Kirkland Waterfront", 47.6769, -122.2060, 8.0),
        _store("redmond", "Redmond Town Center", 47.6710, -122.1195, 10.0),
        _store("renton", "Renton Landing", 47.4991, -122.2026, 10.0),
        _store("lynnwood", "Lynnwood Alderwood", 47.8307, -122.2700, 12.0),
    )
    areas = (
        Area("Downtown", 47.6080, -122.3350, 1.2, 6, "98101"),
        Area("Capitol Hill", 47.6250, -122.3180, 1.2, 7, "98102"),
        Area("Queen Anne", 47.6370, -122.3570, 1.3, 5, "98109"),
        Area("Ballard", 47.6680, -122.3830, 1.5, 6, "98107"),
        Area("Fremont", 47.6510, -122.3500, 1.0, 4, "98103"),
        Area("U-District", 47.6620, -122.3130, 1.3, 6, "98105"),
        Area("Beacon Hill", 47.5680, -122.3080, 1.5, 4, "98108"),
        Area("West Seattle", 47.5610, -122.3860, 2.0, 5, "98116"),
        Area("Northgate", 47.7060, -122.3250, 2.0, 5, "98125"),
        Area("Bellevue", 47.6100, -122.1900, 2.5, 7, "98004"),
        Area("Kirkland", 47.6800, -122.2000, 2.0, 5, "98033"),
        Area("Redmond", 47.6700, -122.1200, 2.5, 5, "98052"),
        Area("Renton", 47.4900, -122.2000, 2.5, 4, "98057"),
        Area("Kent", 47.3800, -122.2350, 2.5, 3, "98032"),
        Area("Lynnwood", 47.8200, -122.3000, 2.5, 4, "98036"),
        Area("Burien", 47.4700, -122.3460, 2.0, 2, "98166"),
    )
    return Metro(
        name="Seattle metro",
        timezone="America/Los_Angeles",
        region="seattle",
        country="US",
        hubs=hubs,
        areas=areas,
    )


METRO = seattle()
