"""Tiny planning worlds: points on a line, so every distance and time is easy to check by eye."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hubflow.delivery.feasibility import check
from hubflow.delivery.planner import Plan
from hubflow.delivery.problem import Depot, Job, PlanningProblem, Profile, Vehicle


def line_problem(
    positions_m: Sequence[int],
    depots: Sequence[Depot],
    jobs: Sequence[Job],
    vehicles: Sequence[Vehicle],
    speeds_mps: dict[str, int] | None = None,
) -> PlanningProblem:
    """Location ``i`` sits ``positions_m[i]`` metres along a straight road."""
    x = np.asarray(positions_m, dtype=np.int64)
    dist = np.abs(x[:, None] - x[None, :])
    profiles = {
        name: Profile(name, dist, -(-dist // speed))
        for name, speed in (speeds_mps or {"van": 10}).items()
    }
    return PlanningProblem(tuple(depots), tuple(jobs), tuple(vehicles), profiles, len(x))


def job(id: str, location: int, depot: int | None = 0, **kw: object) -> Job:
    defaults: dict[str, object] = {"weight_g": 1_000, "volume_cm3": 1_000, "service_s": 60}
    return Job(id=id, location=location, depot=depot, **{**defaults, **kw})  # type: ignore[arg-type]


def assert_feasible(problem: PlanningProblem, plan: Plan) -> None:
    assert check(problem, plan) == []
    assert plan.feasible
    routed = [s.job_id for r in plan.routes for s in r.stops]
    dropped = [u.job_id for u in plan.unassigned]
    assert sorted(routed + dropped) == sorted(j.id for j in problem.jobs)


def vehicle_of(plan: Plan) -> dict[str, str]:
    return {s.job_id: r.vehicle_id for r in plan.routes for s in r.stops}
