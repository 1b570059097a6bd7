"""The planning problem: hubs, parcels and vehicles over integer matrices, free of the database.

Times are integer seconds from the problem's origin, distances integer metres, money integer
minor units. Locations are indices into the matrices, so benchmark instances that come with
their own matrices and geo problems built by :func:`from_geo` share one model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from hubflow.core.geo import LatLng
from hubflow.delivery.travel import IntMatrix, TravelProfile, TravelProvider

__all__ = ["FOREVER", "Depot", "Job", "PlanningProblem", "Profile", "Vehicle", "from_geo"]

# An open end: far enough (about 35,000 years) never to bind, small enough that sums of a few
# of these stay well inside int64 in PyVRP.
FOREVER = 1 << 40


def _window(early: int, late: int, what: str) -> None:
    if early < 0 or late < early:
        raise ValueError(f"{what}: bad window [{early}, {late}]")


def _non_negative(what: str, **values: int | None) -> None:
    for name, value in values.items():
        if value is not None and value < 0:
            raise ValueError(f"{what}: {name} must be >= 0, got {value}")


@dataclass(frozen=True, slots=True)
class Depot:
    """A hub vehicles leave from and parcels wait at."""

    id: str
    location: int
    tw_early: int = 0
    tw_late: int = FOREVER

    def __post_init__(self) -> None:
        _non_negative(f"depot {self.id}", location=self.location)
        _window(self.tw_early, self.tw_late, f"depot {self.id}")


@dataclass(frozen=True, slots=True)
class Job:
    """One parcel to deliver.

    ``depot`` is the hub the parcel sits at (``None``: at every hub, as in benchmarks);
    ``on_vehicle`` names the vehicle it is already loaded on, which alone may deliver it;
    ``pickup`` turns the job around (a return: the vehicle leaves empty of it and brings it
    back, so it takes room from the stop on).
    ``prize`` is what serving it is worth; 0 lets the planner pick a prize high enough that
    the solver serves every job it feasibly can."""

    id: str
    location: int
    depot: int | None
    weight_g: int
    volume_cm3: int
    parcels: int = 1
    dims_mm: tuple[int, int, int] | None = None
    service_s: int = 0
    tw_early: int = 0
    tw_late: int = FOREVER
    release_s: int = 0
    required: bool = False
    prize: int = 0
    on_vehicle: str | None = None
    pickup: bool = False  # collected here and brought back to the hub, not delivered
    # With ``on_vehicle``: False for a parcel kept for that vehicle's later trip but still
    # at the hub (it is loaded when the vehicle comes back to reload).
    loaded: bool = True

    @property
    def on_board(self) -> bool:
        return self.on_vehicle is not None and self.loaded

    def __post_init__(self) -> None:
        what = f"job {self.id}"
        _non_negative(
            what,
            location=self.location,
            depot=self.depot,
            weight_g=self.weight_g,
            volume_cm3=self.volume_cm3,
            parcels=self.parcels,
            service_s=self.service_s,
            release_s=self.release_s,
            prize=self.prize,
        )
        _window(self.tw_early, self.tw_late, what)
        if self.dims_mm is not None and (
            len(self.dims_mm) != 3 or any(d <= 0 for d in self.dims_mm)
        ):
            raise ValueError(f"{what}: dims_mm must be three positive lengths")


@dataclass(frozen=True, slots=True)
class Vehicle:
    """One vehicle for one shift.

    ``radius_m`` bounds the distance hub -> customer (a drone flies one parcel per flight, so
    half its range); ``max_distance_m`` and ``max_duration_s`` bound the whole shift. A vehicle
    under way has ``start_location`` (where it is now) and ``available_from`` (now); its
    current trip counts towards ``max_trips``. Costs are minor units per km / hour / stop."""

    id: str
    profile: str
    depot: int
    end_depot: int | None = None
    capacity_weight_g: int = FOREVER
    capacity_volume_cm3: int = FOREVER
    capacity_parcels: int = FOREVER
    shift_early: int = 0
    shift_late: int = FOREVER
    max_duration_s: int | None = None
    max_distance_m: int | None = None
    radius_m: int | None = None
    max_parcel_weight_g: int | None = None
    max_parcel_dims_mm: tuple[int, int, int] | None = None
    cost_per_km: int = 0
    cost_per_hour: int = 0
    fixed_cost: int = 0
    cost_per_stop: int = 0
    max_trips: int = 1
    start_location: int | None = None
    available_from: int = 0

    def __post_init__(self) -> None:
        what = f"vehicle {self.id}"
        _non_negative(
            what,
            depot=self.depot,
            end_depot=self.end_depot,
            capacity_weight_g=self.capacity_weight_g,
            capacity_volume_cm3=self.capacity_volume_cm3,
            capacity_parcels=self.capacity_parcels,
            max_duration_s=self.max_duration_s,
            max_distance_m=self.max_distance_m,
            radius_m=self.radius_m,
            max_parcel_weight_g=self.max_parcel_weight_g,
            cost_per_km=self.cost_per_km,
            cost_per_hour=self.cost_per_hour,
            fixed_cost=self.fixed_cost,
            cost_per_stop=self.cost_per_stop,
            start_location=self.start_location,
            available_from=self.available_from,
        )
        _window(self.shift_early, self.shift_late, what)
        if self.max_trips < 1:
            raise ValueError(f"{what}: max_trips must be >= 1")
        if not self.profile:
            raise ValueError(f"{what}: profile must not be empty")
        dims = self.max_parcel_dims_mm
        if dims is not None and (len(dims) != 3 or any(d <= 0 for d in dims)):
            raise ValueError(f"{what}: max_parcel_dims_mm must be three positive lengths")

    @property
    def home(self) -> int:
        """Index of the depot the vehicle ends at."""
        return self.depot if self.end_depot is None else self.end_depot

    @property
    def under_way(self) -> bool:
        return self.start_location is not None


class Profile:
    """Distance (metres) and duration (seconds) matrices of one way of travelling.

    A profile made by :meth:`of_points` prices its points only when its matrices are
    first read, and :meth:`restrict` prices just the points asked for: a region's problem
    split hub by hub never holds the region's whole matrices (the twin's 30-hub day found
    them taking gigabytes: the square of every parcel waiting in the region, per profile).
    """

    __slots__ = ("_distance", "_duration", "_source", "name")

    def __init__(self, name: str, distance: IntMatrix, duration: IntMatrix) -> None:
        self.name = name
        self._distance: IntMatrix | None = distance
        self._duration: IntMatrix | None = duration
        self._source: tuple[tuple[LatLng, ...], TravelProvider, TravelProfile] | None = None
        _check_matrices(name, distance, duration)

    @classmethod
    def of_points(
        cls, name: str, points: Sequence[LatLng], travel: TravelProvider, tp: TravelProfile
    ) -> Profile:
        """A profile over ``points`` priced by ``travel`` when first needed."""
        self = cls.__new__(cls)
        self.name = name
        self._distance = self._duration = None
        self._source = (tuple(points), travel, tp)
        return self

    def _priced(self) -> tuple[IntMatrix, IntMatrix]:
        if self._distance is None or self._duration is None:
            assert self._source is not None
            points, travel, tp = self._source
            self._distance, self._duration = travel.matrices(points, tp)
        return self._distance, self._duration

    @property
    def points(self) -> tuple[LatLng, ...] | None:
        """Where the locations are, for a profile made by :meth:`of_points`."""
        return None if self._source is None else self._source[0]

    @property
    def size(self) -> int:
        """How many locations the matrices span."""
        if self._distance is None and self._source is not None:
            return len(self._source[0])
        return int(self.distance.shape[0])

    @property
    def distance(self) -> IntMatrix:
        return self._priced()[0]

    @property
    def duration(self) -> IntMatrix:
        return self._priced()[1]

    def restrict(self, locations: Sequence[int]) -> Profile:
        """The profile between ``locations`` only (indices of this one, in that order)."""
        if self._distance is None and self._source is not None:
            points, travel, tp = self._source
            return Profile.of_points(self.name, [points[i] for i in locations], travel, tp)
        idx = np.ix_(locations, locations)
        return Profile(
            self.name,
            np.ascontiguousarray(self.distance[idx]),
            np.ascontiguousarray(self.duration[idx]),
        )


def _check_matrices(name: str, distance: IntMatrix, duration: IntMatrix) -> None:
    for label, m in (("distance", distance), ("duration", duration)):
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ValueError(f"profile {name}: {label} matrix must be square")
        if not np.issubdtype(m.dtype, np.integer):
            raise ValueError(f"profile {name}: {label} matrix must hold integers")
        if m.size and m.min() < 0:
            raise ValueError(f"profile {name}: {label} matrix has negative entries")
    if distance.shape != duration.shape:
        raise ValueError(f"profile {name}: matrices differ in shape")


@dataclass(frozen=True, slots=True, eq=False)
class PlanningProblem:
    depots: Sequence[Depot]
    jobs: Sequence[Job]
    vehicles: Sequence[Vehicle]
    profiles: Mapping[str, Profile]
    num_locations: int
    vehicle_index: Mapping[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n = self.num_locations
        if not self.depots:
            raise ValueError("a problem needs at least one depot")
        for kind, items in (("depot", self.depots), ("job", self.jobs), ("vehicle", self.vehicles)):
            ids = [x.id for x in items]
            if len(set(ids)) != len(ids):
                raise ValueError(f"duplicate {kind} ids")
        for name, p in self.profiles.items():
            if p.size != n:
                raise ValueError(f"profile {name}: matrices must be {n} x {n}")
        for d in self.depots:
            if d.location >= n:
                raise ValueError(f"depot {d.id}: location out of range")
        index = {v.id: i for i, v in enumerate(self.vehicles)}
        for v in self.vehicles:
            if v.profile not in self.profiles:
                raise ValueError(f"vehicle {v.id}: unknown profile {v.profile!r}")
            if max(v.depot, v.home) >= len(self.depots):
                raise ValueError(f"vehicle {v.id}: depot out of range")
            if v.start_location is not None and v.start_location >= n:
                raise ValueError(f"vehicle {v.id}: start_location out of range")
        for j in self.jobs:
            if j.location >= n:
                raise ValueError(f"job {j.id}: location out of range")
            if j.depot is not None and j.depot >= len(self.depots):
                raise ValueError(f"job {j.id}: depot out of range")
            if j.on_vehicle is not None and j.on_vehicle not in index:
                raise ValueError(f"job {j.id}: unknown vehicle {j.on_vehicle!r}")
        object.__setattr__(self, "vehicle_index", index)


def from_geo(
    locations: Sequence[LatLng],
    travel: TravelProvider,
    profiles: Mapping[str, TravelProfile],
    *,
    depots: Sequence[Depot],
    jobs: Sequence[Job],
    vehicles: Sequence[Vehicle],
) -> PlanningProblem:
    """A problem whose location indices point into ``locations``, priced by ``travel``
    when (and as far as) its matrices are read."""
    return PlanningProblem(
        depots=tuple(depots),
        jobs=tuple(jobs),
        vehicles=tuple(vehicles),
        profiles={
            name: Profile.of_points(name, locations, travel, tp) for name, tp in profiles.items()
        },
        num_locations=len(locations),
    )
