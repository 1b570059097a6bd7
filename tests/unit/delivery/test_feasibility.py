"""The checker catches each kind of violation in hand-built plans."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hubflow.delivery.feasibility import KINDS, check
from hubflow.delivery.planner import Plan, PlannedRoute, PlannedStop, Unassigned
from hubflow.delivery.problem import Depot, PlanningProblem, Vehicle
from tests.unit.delivery.conftest import job, line_problem

# Hub at 0 m, stops at 1 km and 2 km; 10 m/s, so 100 s per km; 60 s of service per stop.
VAN = Vehicle(
    "van", "van", 0, capacity_weight_g=5_000, capacity_parcels=2, shift_late=3_600, max_trips=2
)


def world(**vehicle: object) -> PlanningProblem:
    jobs = [job("a", 1, tw_late=1_000), job("b", 2)]
    return line_problem([0, 1_000, 2_000], [Depot("hub", 0)], jobs, [replace(VAN, **vehicle)])


def good() -> Plan:
    stops = [PlannedStop("a", 0, 100, 100, 160), PlannedStop("b", 0, 260, 260, 320)]
    route = PlannedRoute("van", stops, 0, 520, 4_000, 520, 0)
    return Plan([route], [], 0, True, 0.0)


def with_stops(*stops: PlannedStop, end: int = 520, distance: int = 4_000) -> Plan:
    return Plan([PlannedRoute("van", list(stops), 0, end, distance, end, 0)], [], 0, True, 0.0)


def kinds(problem: PlanningProblem, plan: Plan) -> set[str]:
    return {v.split(":")[0] for v in check(problem, plan)}


def test_a_good_plan_passes() -> None:
    assert check(world(), good()) == []


def test_two_trips_pass() -> None:
    plan = with_stops(
        PlannedStop("a", 0, 100, 100, 160),
        PlannedStop("b", 1, 460, 460, 520),
        end=720,
        distance=6_000,
    )
    assert check(world(), plan) == []


def test_missing_and_duplicate_jobs() -> None:
    plan = good()
    dropped = replace(plan, routes=[replace(plan.routes[0], stops=plan.routes[0].stops[:1])])
    assert "coverage" in kinds(world(), dropped)
    twice = replace(plan, unassigned=[Unassigned("a", "fleet_full")])
    assert "coverage" in kinds(world(), twice)


def test_unknown_job_and_vehicle() -> None:
    plan = good()
    assert "unknown" in kinds(world(), replace(plan, unassigned=[Unassigned("zz", "too_heavy")]))
    assert "unknown" in kinds(
        world(), replace(plan, routes=[replace(plan.routes[0], vehicle_id="x")])
    )


@pytest.mark.parametrize(
    ("vehicle", "kind"),
    [
        ({"capacity_parcels": 1}, "capacity"),
        ({"capacity_weight_g": 1_500}, "capacity"),
        ({"max_parcel_weight_g": 500}, "parcel"),
        ({"max_parcel_dims_mm": (10, 10, 10)}, "parcel"),
        ({"radius_m": 1_500}, "radius"),
        ({"shift_late": 400}, "shift"),
        ({"shift_early": 50}, "shift"),
        ({"max_duration_s": 500}, "max_duration"),
        ({"max_distance_m": 3_000}, "max_distance"),
    ],
)
def test_vehicle_limits(vehicle: dict[str, object], kind: str) -> None:
    problem = world(**vehicle)
    if kind == "parcel" and "max_parcel_dims_mm" in vehicle:
        jobs = [replace(j, dims_mm=(100, 100, 100)) for j in problem.jobs]
        problem = replace_jobs(problem, jobs)
    assert kind in kinds(problem, good())


def replace_jobs(problem: PlanningProblem, jobs: list[object]) -> PlanningProblem:
    return PlanningProblem(problem.depots, jobs, problem.vehicles, problem.profiles, 3)  # type: ignore[arg-type]


def test_parcel_from_another_hub() -> None:
    problem = world()
    depots = [*problem.depots, Depot("other", 0)]
    jobs = [replace(problem.jobs[0], depot=1), problem.jobs[1]]
    problem = PlanningProblem(depots, jobs, problem.vehicles, problem.profiles, 3)
    assert "hub" in kinds(problem, good())


def test_on_board_parcel_on_another_vehicle() -> None:
    problem = world()
    other = Vehicle("other", "van", 0)
    jobs = [replace(problem.jobs[0], on_vehicle="other"), problem.jobs[1]]
    problem = PlanningProblem(problem.depots, jobs, [*problem.vehicles, other], problem.profiles, 3)
    assert "hub" in kinds(problem, good())


def test_late_arrival() -> None:
    problem = replace_jobs(world(), [replace(j, tw_late=50) for j in world().jobs])
    assert "late" in kinds(problem, good())


def test_release_after_the_trip_left() -> None:
    problem = replace_jobs(world(), [replace(j, release_s=30) for j in world().jobs])
    assert "release" in kinds(problem, good())


def test_too_many_trips() -> None:
    plan = with_stops(
        PlannedStop("a", 0, 100, 100, 160),
        PlannedStop("b", 1, 460, 460, 520),
        end=720,
        distance=6_000,
    )
    assert "max_trips" in kinds(world(max_trips=1), plan)


def test_times_inconsistent_with_the_matrices() -> None:
    fast = with_stops(PlannedStop("a", 0, 50, 50, 110), PlannedStop("b", 0, 210, 210, 270))
    assert "times" in kinds(world(), fast)
    short_service = with_stops(
        PlannedStop("a", 0, 100, 100, 120), PlannedStop("b", 0, 260, 260, 320)
    )
    assert "times" in kinds(world(), short_service)
    early_end = with_stops(*good().routes[0].stops, end=400)
    assert "times" in kinds(world(), early_end)


def test_distance_inconsistent_with_the_matrices() -> None:
    assert "distance" in kinds(world(), with_stops(*good().routes[0].stops, distance=3_000))


def test_every_reported_kind_is_documented() -> None:
    plan = with_stops(PlannedStop("a", 0, 50, 50, 60), PlannedStop("a", 3, 0, 0, 0), distance=1)
    assert kinds(world(max_trips=1, capacity_parcels=0), plan) <= set(KINDS)


def test_a_return_takes_room_from_its_stop_on() -> None:
    jobs = [job("a", 1), job("b", 2), job("r", 1, pickup=True)]
    p = line_problem([0, 1_000, 2_000], [Depot("hub", 0)], jobs, [VAN])
    early = with_stops(
        PlannedStop("r", 0, 100, 100, 160),
        PlannedStop("a", 0, 160, 160, 220),
        PlannedStop("b", 0, 320, 320, 380),
        end=580,
    )
    assert "capacity" in kinds(p, early)  # three on board after the return is taken
    late = with_stops(
        PlannedStop("a", 0, 100, 100, 160),
        PlannedStop("r", 0, 160, 160, 220),
        PlannedStop("b", 0, 320, 320, 380),
        end=580,
    )
    assert "capacity" not in kinds(p, late)


def test_a_parcel_kept_for_a_later_trip_cannot_ride_the_trip_under_way() -> None:
    out = replace(VAN, start_location=1, capacity_parcels=1, max_trips=3)
    jobs = [job("a", 1, on_vehicle="van"), job("b", 2, on_vehicle="van", loaded=False)]
    p = line_problem([0, 1_000, 2_000], [Depot("hub", 0)], jobs, [out])
    now = with_stops(PlannedStop("a", 0, 0, 0, 60), PlannedStop("b", 0, 160, 160, 220), end=420)
    assert {"hub", "capacity"} <= kinds(p, now)
    later = with_stops(PlannedStop("a", 0, 0, 0, 60), PlannedStop("b", 1, 260, 260, 320), end=520)
    assert "hub" not in kinds(p, later) and "capacity" not in kinds(p, later)
