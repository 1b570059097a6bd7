"""Great-circle travel matrices."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hubflow.core.geo import LatLng, haversine_km
from hubflow.delivery.travel import GreatCircleTravel, TravelProfile

SEATTLE = LatLng(47.6062, -122.3321)
TACOMA = LatLng(47.2529, -122.4443)
VAN = TravelProfile("van", speed_kmh=36, circuity=1.3)
DRONE = TravelProfile("drone", speed_kmh=72, circuity=1.3, straight_line=True)


def test_seattle_tacoma_is_about_40_km() -> None:
    dist, dur = GreatCircleTravel().matrices([SEATTLE, TACOMA], DRONE)
    assert 39_500 < dist[0, 1] < 40_500
    assert dist[0, 1] == dist[1, 0] == round(haversine_km(SEATTLE, TACOMA) * 1000)
    assert dur[0, 1] == -(-dist[0, 1] // 20)  # 72 km/h = 20 m/s, rounded up


def test_circuity_applies_unless_flying_straight() -> None:
    road, _ = GreatCircleTravel().matrices([SEATTLE, TACOMA], VAN)
    air, _ = GreatCircleTravel().matrices([SEATTLE, TACOMA], DRONE)
    assert road[0, 1] == pytest.approx(1.3 * air[0, 1], abs=1)


def test_matrices_are_integer_square_with_zero_diagonal() -> None:
    dist, dur = GreatCircleTravel().matrices([SEATTLE, TACOMA, SEATTLE], VAN)
    for m in (dist, dur):
        assert m.shape == (3, 3) and m.dtype == np.int64
        assert (np.diag(m) == 0).all()
    assert dist[0, 2] == 0


def test_thousands_of_points_are_fast() -> None:
    rng = np.random.default_rng(1)
    pts = [LatLng(47.6 + a, -122.3 + b) for a, b in rng.normal(0, 0.1, (2_000, 2))]
    t0 = time.perf_counter()
    dist, _ = GreatCircleTravel().matrices(pts, VAN)
    assert time.perf_counter() - t0 < 3.0
    assert dist.shape == (2_000, 2_000)


@pytest.mark.parametrize(
    "kwargs", [{"speed_kmh": 0}, {"speed_kmh": float("nan")}, {"circuity": 0.9}, {"name": ""}]
)
def test_bad_profiles_are_rejected(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"name": "van", "speed_kmh": 30, **kwargs}
    with pytest.raises(ValueError):
        TravelProfile(**args)  # type: ignore[arg-type]
