"""A region's planning problem split into one problem per hub, where nothing couples them.

Every parcel sits at one hub and only that hub's vehicles may load it (the planner bars
the others with a load dimension per hub); a parcel already on board goes with its
vehicle. So when every job has a hub, the region's problem is a set of independent hub
problems, and solving them one by one finds the same kind of plans much faster: PyVRP's
local search pays for every vehicle, route and load dimension of the model in every
iteration, and the joint model of 30 hubs carries 300 vehicles and 30 hub dimensions for
parcels that could never change hubs.
"""

from __future__ import annotations

from dataclasses import replace

from hubflow.delivery.problem import PlanningProblem, Vehicle

__all__ = ["split_by_hub"]


def _part(
    problem: PlanningProblem, hub: int, vehicles: list[int], jobs: list[int]
) -> PlanningProblem:
    vs = [problem.vehicles[i] for i in vehicles]
    js = [problem.jobs[j] for j in jobs]
    depots = sorted({hub} | {v.home for v in vs})
    dmap = {d: k for k, d in enumerate(depots)}
    locs = sorted(
        {problem.depots[d].location for d in depots}
        | {v.start_location for v in vs if v.start_location is not None}
        | {j.location for j in js}
    )
    lmap = {old: new for new, old in enumerate(locs)}
    names = {v.profile for v in vs}
    profiles = {n: p.restrict(locs) for n, p in problem.profiles.items() if n in names}
    return PlanningProblem(
        depots=[
            replace(problem.depots[d], location=lmap[problem.depots[d].location]) for d in depots
        ],
        jobs=[
            replace(j, location=lmap[j.location], depot=None if j.depot is None else dmap[j.depot])
            for j in js
        ],
        vehicles=[
            replace(
                v,
                depot=dmap[v.depot],
                end_depot=None if v.end_depot is None else dmap[v.end_depot],
                start_location=None if v.start_location is None else lmap[v.start_location],
            )
            for v in vs
        ],
        profiles=profiles,
        num_locations=len(locs),
    )


def split_by_hub(problem: PlanningProblem) -> list[PlanningProblem] | None:
    """One problem per hub (in hub order), or ``None`` when the problem does not split:
    a job without a hub (benchmark instances: any depot may serve it), or a single hub.

    A vehicle on its last trip is a problem of its own too, with the parcels on board:
    it may take nothing else and they may go with nothing else, so at a busy hub its
    stops need not be weighed, iteration after iteration, against every other route."""
    groups: dict[tuple[int, str], tuple[list[int], list[int]]] = {}
    for i, v in enumerate(problem.vehicles):
        groups.setdefault((v.depot, _alone(v)), ([], []))[0].append(i)
    for j, job in enumerate(problem.jobs):
        if job.on_vehicle is not None:
            v = problem.vehicles[problem.vehicle_index[job.on_vehicle]]
            key = (v.depot, _alone(v))
        elif job.depot is not None:
            key = (job.depot, "")
        else:
            return None
        groups.setdefault(key, ([], []))[1].append(j)
    if len(groups) <= 1:
        return None
    return [_part(problem, h, vs, js) for (h, _), (vs, js) in sorted(groups.items())]


def _alone(v: Vehicle) -> str:
    """The vehicle's id if it is on its last trip (see ``split_by_hub``), else ``""``."""
    return v.id if v.under_way and v.max_trips == 1 else ""
