"""A region's problem split per hub: independent parts, plans that check on the whole."""

from __future__ import annotations

from hubflow.delivery.decompose import split_by_hub
from hubflow.delivery.planner import plan
from hubflow.delivery.problem import Depot, PlanningProblem, Vehicle
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
