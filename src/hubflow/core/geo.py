"""Coordinates and great-circle distance."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["EARTH_RADIUS_KM", "LatLng", "half_angles", "haversine_km"]

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class LatLng:
    lat: float
    lng: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0) or not (-180.0 <= self.lng <= 180.0):
            raise ValueError(f"coordinates out of range: {self.lat}, {self.lng}")


def haversine_km(a: LatLng, b: LatLng) -> float:
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp = p2 - p1
    dl = math.radians(b.lng - a.lng)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _unit_vectors(points: Sequence[LatLng]) -> NDArray[np.float64]:
    lat = np.radians(np.fromiter((p.lat for p in points), float, len(points)))
    lng = np.radians(np.fromiter((p.lng for p in points), float, len(points)))
    return np.column_stack((np.cos(lat) * np.cos(lng), np.cos(lat) * np.sin(lng), np.sin(lat)))


def half_angles(a: Sequence[LatLng], b: Sequence[LatLng]) -> NDArray[np.float64]:
    """Half the central angle between each point of ``a`` and each of ``b`` (radians,
    ``[a, b]``): the great-circle distance is ``2 * EARTH_RADIUS_KM`` times it.

    The chord comes from one matrix product of unit vectors, far faster than pairwise
    trigonometry; the rest works in place because at a few thousand points every
    temporary is tens of megabytes."""
    m = _unit_vectors(a) @ _unit_vectors(b).T
    m *= -0.5
    m += 0.5  # (1 - cos) / 2 = sin^2 of half the angle
    np.clip(m, 0.0, 1.0, out=m)
    np.sqrt(m, out=m)
    np.arcsin(m, out=m)
    return m
