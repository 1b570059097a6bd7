"""Travel distances and durations between points, per travel profile (van, bike, robot, drone)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from hubflow.core.geo import EARTH_RADIUS_KM, LatLng, half_angles

__all__ = ["GreatCircleTravel", "IntMatrix", "TravelProfile", "TravelProvider"]

IntMatrix = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class TravelProfile:
    """How one kind of vehicle moves: ``circuity`` is road distance over straight distance
    (about 1.3 in cities); ``straight_line`` vehicles (drones) ignore it."""

    name: str
    speed_kmh: float
    circuity: float = 1.3
    straight_line: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("profile name must not be empty")
        if not (math.isfinite(self.speed_kmh) and self.speed_kmh > 0):
            raise ValueError(f"speed_kmh must be positive: {self.speed_kmh}")
        if not (math.isfinite(self.circuity) and self.circuity >= 1.0):
            raise ValueError(f"circuity must be >= 1: {self.circuity}")

    @property
    def detour(self) -> float:
        return 1.0 if self.straight_line else self.circuity


class TravelProvider(Protocol):
    """Anything that can price travel between points: great circle, a routing engine, a cache."""

    def matrices(
        self, points: Sequence[LatLng], profile: TravelProfile
    ) -> tuple[IntMatrix, IntMatrix]:
        """Distance (metres) and duration (seconds) matrices, integers, ``[from, to]``."""
        ...


class GreatCircleTravel:
    """Haversine distance times the profile's detour factor, at the profile's constant speed.

    Durations are rounded up so a plan made on these numbers is never optimistic."""

    def matrices(
        self, points: Sequence[LatLng], profile: TravelProfile
    ) -> tuple[IntMatrix, IntMatrix]:
        m = half_angles(points, points)  # in place from here: the matrices are large
        m *= 2 * EARTH_RADIUS_KM * 1000 * profile.detour
        np.fill_diagonal(m, 0.0)
        distance = np.rint(m).astype(np.int64)
        m /= profile.speed_kmh / 3.6
        np.ceil(m, out=m)
        duration = m.astype(np.int64)
        return distance, duration
