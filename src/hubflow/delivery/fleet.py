"""The fleet as a pure model: modes with their public-figure defaults, vehicle types,
courier kinds and carriers' rate cards.

Defaults come from public figures: delivery drones carry about 2.3 kg, one parcel a
flight, about 16 km there and back, at about 80 km/h in a straight line; sidewalk robots
walk at about 6 km/h with about 12 kg within about 3 km; an autonomous van drives at
road speed and the customer meets it at the curb. An operator overrides any of them per
vehicle type.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from enum import StrEnum
from typing import Any

from hubflow.core.errors import InvalidInput

__all__ = [
    "DEFAULTS",
    "CarrierRateCard",
    "CourierKind",
    "Mode",
    "VehicleTypeSpec",
    "spec_for",
]


class Mode(StrEnum):
    VAN = "van"
    CAR = "car"
    CARGO_BIKE = "cargo_bike"
    AUTONOMOUS_VAN = "autonomous_van"
    DRONE = "drone"
    ROBOT = "robot"


class CourierKind(StrEnum):
    EMPLOYEE = "employee"
    GIG = "gig"


@dataclass(frozen=True)
class VehicleTypeSpec:
    """What one kind of vehicle can do and what it costs (minor units of the network's
    currency). ``radius_km`` bounds the hub-to-door distance (half a drone's range: it
    flies there and back on one charge); ``None`` means unbounded."""

    mode: Mode
    capacity_weight_g: int
    capacity_volume_cm3: int
    capacity_parcels: int
    speed_kmh: float
    circuity: float
    straight_line: bool = False
    radius_km: float | None = None
    max_route_minutes: int | None = None
    max_route_km: float | None = None
    max_parcel_weight_g: int | None = None
    max_parcel_dims_mm: tuple[int, int, int] | None = None
    max_trips: int = 1
    service_minutes: float = 3.0
    cost_per_km: int = 0
    cost_per_hour: int = 0
    cost_per_stop: int = 0
    fixed_cost: int = 0
    needs_driver: bool = True
    curbside: bool = False  # the customer comes out to the vehicle

    def __post_init__(self) -> None:
        positive = ("capacity_weight_g", "capacity_volume_cm3", "capacity_parcels", "max_trips")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if not (self.speed_kmh > 0 and math.isfinite(self.speed_kmh)):
            raise ValueError("speed_kmh must be positive")
        if not 1.0 <= self.circuity <= 3.0:
            raise ValueError("circuity must be between 1 and 3")
        if self.radius_km is not None and self.radius_km <= 0:
            raise ValueError("radius_km must be positive")
        if self.service_minutes < 0:
            raise ValueError("service_minutes must not be negative")
        costs = ("cost_per_km", "cost_per_hour", "cost_per_stop", "fixed_cost")
        if any(getattr(self, c) < 0 for c in costs):
            raise ValueError("costs must not be negative")

    def fits(self, weight_g: int, dims_mm: tuple[int, int, int] | None) -> str | None:
        """Why one parcel cannot go on this vehicle, or ``None`` when it can."""
        limit = self.max_parcel_weight_g or self.capacity_weight_g
        if weight_g > limit:
            return "too_heavy"
        if dims_mm is not None and self.max_parcel_dims_mm is not None:
            # Compare sorted edges: a parcel fits when it can be turned to fit.
            pairs = zip(sorted(dims_mm), sorted(self.max_parcel_dims_mm), strict=True)
            if any(a > b for a, b in pairs):
                return "too_large"
        return None

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["mode"] = self.mode.value
        if self.max_parcel_dims_mm is not None:
            out["max_parcel_dims_mm"] = list(self.max_parcel_dims_mm)
        return out


DEFAULTS: dict[Mode, VehicleTypeSpec] = {
    Mode.VAN: VehicleTypeSpec(
        Mode.VAN, 900_000, 8_000_000, 120, speed_kmh=32, circuity=1.35,
        max_route_minutes=600, max_trips=2, service_minutes=3,
        cost_per_km=35, cost_per_hour=3_200, cost_per_stop=40, fixed_cost=2_000,
    ),
    Mode.CAR: VehicleTypeSpec(
        Mode.CAR, 250_000, 900_000, 30, speed_kmh=34, circuity=1.35,
        max_route_minutes=480, max_trips=3, service_minutes=3,
        cost_per_km=25, cost_per_hour=2_600, cost_per_stop=30, fixed_cost=1_000,
    ),
    Mode.CARGO_BIKE: VehicleTypeSpec(
        Mode.CARGO_BIKE, 120_000, 500_000, 25, speed_kmh=15, circuity=1.25,
        radius_km=6.0, max_route_minutes=480, max_trips=4, service_minutes=2,
        cost_per_km=2, cost_per_hour=2_400, cost_per_stop=20, fixed_cost=300,
    ),
    Mode.AUTONOMOUS_VAN: VehicleTypeSpec(
        Mode.AUTONOMOUS_VAN, 400_000, 3_000_000, 40, speed_kmh=30, circuity=1.35,
        max_route_minutes=720, max_trips=4, service_minutes=4,
        cost_per_km=30, cost_per_hour=400, cost_per_stop=0, fixed_cost=1_500,
        needs_driver=False, curbside=True,
    ),
    Mode.DRONE: VehicleTypeSpec(
        Mode.DRONE, 2_300, 12_000, 1, speed_kmh=80, circuity=1.0, straight_line=True,
        radius_km=8.0, max_parcel_weight_g=2_300, max_parcel_dims_mm=(350, 250, 150),
        max_trips=40, service_minutes=1, cost_per_km=5, cost_per_hour=300,
        cost_per_stop=50, fixed_cost=200, needs_driver=False,
    ),
    Mode.ROBOT: VehicleTypeSpec(
        Mode.ROBOT, 12_000, 60_000, 3, speed_kmh=6, circuity=1.3, radius_km=3.0,
        max_parcel_weight_g=12_000, max_parcel_dims_mm=(500, 380, 330), max_trips=12,
        service_minutes=2, cost_per_km=3, cost_per_hour=200, cost_per_stop=10,
        fixed_cost=100, needs_driver=False, curbside=True,
    ),
}  # fmt: skip

_FIELDS = {f.name for f in fields(VehicleTypeSpec)} - {"mode"}


_OPTIONAL = {"radius_km", "max_route_minutes", "max_route_km", "max_parcel_weight_g",
             "max_parcel_dims_mm"}  # fmt: skip
_BOOLS = {"straight_line", "needs_driver", "curbside"}
_FLOATS = {"speed_kmh", "circuity", "radius_km", "max_route_km", "service_minutes"}


def _valid(name: str, value: Any) -> bool:
    if value is None:
        return name in _OPTIONAL
    if name in _BOOLS:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if name == "max_parcel_dims_mm":
        return (
            isinstance(value, list | tuple)
            and len(value) == 3
            and all(
                isinstance(d, int) and not isinstance(d, bool) and 0 < d < 100_000 for d in value
            )
        )
    if name in _FLOATS:
        return isinstance(value, int | float) and math.isfinite(value) and abs(value) < 1e6
    return isinstance(value, int) and abs(value) < 10**12


def spec_for(mode: Mode, overrides: dict[str, Any] | None = None) -> VehicleTypeSpec:
    """The mode's defaults with an operator's overrides, validated."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - _FIELDS)
    if unknown:
        raise InvalidInput(
            "unknown vehicle type setting(s)", code="unknown_setting", details={"names": unknown}
        )
    for name, value in overrides.items():
        if not _valid(name, value):
            raise InvalidInput(
                f"{name} has the wrong type or shape",
                code="invalid_vehicle_type",
                details={"name": name},
            )
    if isinstance(overrides.get("max_parcel_dims_mm"), list):
        overrides["max_parcel_dims_mm"] = tuple(overrides["max_parcel_dims_mm"])
    try:
        return replace(DEFAULTS[mode], **overrides)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(str(exc), code="invalid_vehicle_type") from exc


@dataclass(frozen=True)
class CarrierRateCard:
    """A third-party carrier's price for one parcel: a base, per started kilogram and per
    kilometre from the hub, in minor units; parcels above ``max_weight_g`` are refused."""

    base: int
    per_kg: int
    per_km: int
    max_weight_g: int = 30_000
    currency: str = "USD"

    def __post_init__(self) -> None:
        if min(self.base, self.per_kg, self.per_km) < 0 or self.max_weight_g <= 0:
            raise ValueError("rates must not be negative and max_weight_g must be positive")

    def quote(self, weight_g: int, km: float) -> int | None:
        if weight_g > self.max_weight_g:
            return None
        return self.base + self.per_kg * math.ceil(weight_g / 1000) + round(self.per_km * km)
