"""A region's problem split per hub: independent parts, plans that check on the whole."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from hubflow.core.geo import LatLng
from hubflow.delivery.decompose import split_by_hub
from hubflow.delivery.feasibility import check
from hubflow.delivery.planner import plan
from hubflow.delivery.problem import Depot, PlanningProblem, Vehicle, from_geo
from hubflow.delivery.travel import GreatCircleTravel, TravelProfile
from tests.unit.delivery.conftest import assert_feasible, job, line_problem, vehicle_of


def _two_hubs() -> PlanningProblem:
    return line_problem(
        [0, 10_000, 1_000, 2_000, 11_000, 12_000, 30_000],
        [Depot("A", 0), Depot("B", 1)],
        [
            job("a1", 2, depot=0),
            job("a2", 3, depot=0),
            job("b1", 4, depot=1),
            job("b2", 5, depot=1),
        ],
        [Vehicle("va", "van", depot=0), Vehicle("vb", "van", depot=1)],
    )


def test_each_hub_gets_its_own_part_with_only_its_locations() -> None:
    problem = _two_hubs()
    parts = split_by_hub(problem)
    assert parts is not None and len(parts) == 2
    a, _ = parts
    assert [j.id for j in a.jobs] == ["a1", "a2"] and [v.id for v in a.vehicles] == ["va"]
    assert a.num_locations == 3  # the hub and its two parcels, not the far point
    assert int(a.profiles["van"].distance[0, 2]) == 2_000  # hub A to a2, as before


def test_split_plans_are_feasible_on_the_whole_problem() -> None:
    problem = _two_hubs()
    p = plan(problem, time_limit_s=1, seed=1, max_iterations=50)
    assert_feasible(problem, p)
    assert vehicle_of(p) == {"a1": "va", "a2": "va", "b1": "vb", "b2": "vb"}


def test_no_split_when_a_job_may_go_anywhere_or_there_is_one_hub() -> None:
    anywhere = line_problem(
        [0, 5_000, 1_000],
        [Depot("A", 0), Depot("B", 1)],
        [job("x", 2, depot=None)],
        [Vehicle("va", "van", depot=0), Vehicle("vb", "van", depot=1)],
    )
    assert split_by_hub(anywhere) is None
    one = line_problem([0, 1_000], [Depot("A", 0)], [job("x", 1)], [Vehicle("v", "van", depot=0)])
    assert split_by_hub(one) is None


def test_iterations_make_plans_repeatable() -> None:
    problem = _two_hubs()
    first = plan(problem, time_limit_s=5, seed=3, max_iterations=30)
    second = plan(problem, time_limit_s=5, seed=3, max_iterations=30)
    assert first.routes == second.routes and first.cost == second.cost


class _Counting:
    """Great-circle travel that remembers how many points each pricing asked for."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.inner = GreatCircleTravel()

    def matrices(self, points: Sequence[LatLng], profile: TravelProfile) -> tuple[Any, Any]:
        self.sizes.append(len(points))
        return self.inner.matrices(points, profile)


def _points() -> list[LatLng]:
    points = [LatLng(47.60, -122.33), LatLng(47.40, -122.25)]
    points += [LatLng(47.60 + i / 200, -122.33) for i in range(1, 4)]
    return points + [LatLng(47.40 + i / 200, -122.25) for i in range(1, 4)]


def _geo_two_hubs(travel: _Counting) -> PlanningProblem:
    return from_geo(
        _points(),
        travel,
        {"van": TravelProfile("van", 30.0)},
        depots=[Depot("A", 0), Depot("B", 1)],
        jobs=[job(f"a{i}", 1 + i, depot=0) for i in range(1, 4)]
        + [job(f"b{i}", 4 + i, depot=1) for i in range(1, 4)],
        vehicles=[Vehicle("va", "van", depot=0), Vehicle("vb", "van", depot=1)],
    )


def test_a_region_is_priced_hub_by_hub_never_whole() -> None:
    # The twin's 30-hub day held the region's whole matrices: gigabytes at 18,000 orders.
    travel = _Counting()
    problem = _geo_two_hubs(travel)
    assert travel.sizes == []  # nothing priced until read
    p = plan(problem, time_limit_s=1, seed=1, max_iterations=50)
    assert check(problem, p) == []
    assert travel.sizes and max(travel.sizes) == 4  # a hub and its three parcels
    whole = GreatCircleTravel().matrices(_points(), TravelProfile("van", 30.0))
    part = split_by_hub(problem)
    assert part is not None
    a = part[0].profiles["van"]
    assert (a.distance == whole[0][np.ix_([0, 2, 3, 4], [0, 2, 3, 4])]).all()


def test_hubs_planned_in_worker_processes_get_the_same_plans() -> None:
    problem = _two_hubs()
    here = plan(problem, time_limit_s=5, seed=3, max_iterations=30)
    there = plan(problem, time_limit_s=5, seed=3, max_iterations=30, workers=2)
    assert there.routes == here.routes and there.unassigned == here.unassigned
    assert there.cost == here.cost


def test_the_busiest_parts_are_shared_out_first() -> None:
    from hubflow.delivery.parallel import share_out

    jobs = [job(f"j{i}", 1 + i) for i in range(8)]
    big = line_problem([0] + [1_000] * 8, [Depot("A", 0)], jobs, [Vehicle("v", "van", depot=0)])
    small = line_problem([0, 1_000], [Depot("A", 0)], [job("x", 1)], [Vehicle("v", "van", depot=0)])
    assert share_out([small, big, small], 2) == [1, 0, 1]  # the big one here, the rest there
    assert share_out([small, big], 1) == [0, 0]


def test_a_vehicle_on_its_last_trip_is_planned_alone_with_what_it_carries() -> None:
    problem = line_problem(
        [0, 1_000, 2_000, 3_000, 1_500],
        [Depot("A", 0)],
        [
            job("on1", 1, on_vehicle="busy"),
            job("on2", 2, on_vehicle="busy"),
            job("new", 3),
        ],
        [
            Vehicle("busy", "van", depot=0, start_location=4, max_trips=1),
            Vehicle("free", "van", depot=0),
        ],
    )
    parts = split_by_hub(problem)
    assert parts is not None
    assert sorted(
        (tuple(v.id for v in p.vehicles), tuple(j.id for j in p.jobs)) for p in parts
    ) == [
        (("busy",), ("on1", "on2")),
        (("free",), ("new",)),
    ]
    p = plan(problem, time_limit_s=1, seed=1, max_iterations=50)
    assert_feasible(problem, p)
    assert vehicle_of(p) == {"on1": "busy", "on2": "busy", "new": "free"}
    # With trips left, the vehicle under way may still take new parcels: not split off.
    more = replace(
        problem, vehicles=(replace(problem.vehicles[0], max_trips=2), problem.vehicles[1])
    )
    assert split_by_hub(more) is None


def test_a_busy_hub_is_planned_as_two_sectors_with_half_the_vehicles_each(
    monkeypatch: Any,
) -> None:
    from hubflow.delivery import decompose

    monkeypatch.setattr(decompose, "SECTOR_JOBS", 6)
    hub_a, hub_b = LatLng(47.60, -122.33), LatLng(47.40, -122.25)
    north = [LatLng(47.62 + i / 500, -122.33 + i / 500) for i in range(4)]
    south = [LatLng(47.58 - i / 500, -122.33 + i / 500) for i in range(4)]
    points = [hub_a, hub_b, *north, *south, LatLng(47.41, -122.25), LatLng(47.61, -122.30)]
    problem = from_geo(
        points,
        GreatCircleTravel(),
        {"van": TravelProfile("van", 30.0)},
        depots=[Depot("A", 0), Depot("B", 1)],
        jobs=[job(f"n{i}", 2 + i, depot=0) for i in range(4)]
        + [job(f"s{i}", 6 + i, depot=0) for i in range(4)]
        + [job("b", 10, depot=1), job("on", 3, depot=0, on_vehicle="v4")],
        vehicles=[Vehicle(f"v{i}", "van", depot=0) for i in range(4)]
        + [Vehicle("v4", "van", depot=0, start_location=11, max_trips=2)]
        + [Vehicle("vb", "van", depot=1)],
    )
    parts = split_by_hub(problem)
    assert parts is not None
    got = sorted(
        (tuple(sorted(j.id for j in p.jobs)), tuple(v.id for v in p.vehicles)) for p in parts
    )
    assert got == [
        (("b",), ("vb",)),
        (("n0", "n1", "n2", "n3"), ("v1", "v3")),
        (("on", "s0", "s1", "s2", "s3"), ("v0", "v2", "v4")),
    ]
    p = plan(problem, time_limit_s=2, seed=1, max_iterations=50)
    assert_feasible(problem, p)
    assert len({s.job_id for r in p.routes for s in r.stops}) == 10
