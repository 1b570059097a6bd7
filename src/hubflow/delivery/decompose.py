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

import math
from dataclasses import replace

from hubflow.delivery.problem import PlanningProblem, Vehicle

__all__ = ["SECTOR_JOBS", "split_by_hub"]

# A hub with more parcels waiting than this is planned in sectors around it of at most
# this many, each with its share of the vehicles (two at least): PyVRP's search on a
# sector of 400 parcels served more of a 2,440-parcel fulfillment center's epoch (1,813
# against 1,600) in 60 % of the CPU of one search over all of them, and sectors can run
# side by side.
SECTOR_JOBS = 400


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
    stops need not be weighed, iteration after iteration, against every other route.
    A hub with more than ``SECTOR_JOBS`` parcels waiting is split into sectors."""
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
    return [
        _part(problem, h, svs, sjs)
        for (h, alone), (vs, js) in sorted(groups.items())
        for svs, sjs in (_sectors(problem, h, vs, js) if not alone else [(vs, js)])
    ]


def _sectors(
    problem: PlanningProblem, hub: int, vehicles: list[int], jobs: list[int], k: int = 0
) -> list[tuple[list[int], list[int]]]:
    """A busy hub's vehicles and parcels as sectors (see ``SECTOR_JOBS``), else one.

    The parcels are cut into arcs of a circle around the hub of as many parcels each,
    starting at the widest gap between them, so each sector is a compact area; the
    vehicles are dealt out kind by kind, and a parcel on board goes with its vehicle."""
    points = next(iter(problem.profiles.values())).points if problem.profiles else None
    loose = [j for j in jobs if problem.jobs[j].on_vehicle is None]
    k = k or min(-(-len(loose) // SECTOR_JOBS), len(vehicles) // 2)
    if points is None or k < 2:
        return [(vehicles, jobs)]
    centre = points[problem.depots[hub].location]
    scale = math.cos(math.radians(centre.lat))

    def bearing(j: int) -> float:
        p = points[problem.jobs[j].location]
        return math.atan2(p.lat - centre.lat, (p.lng - centre.lng) * scale)

    ring = sorted(loose, key=lambda j: (bearing(j), j))
    gaps = [
        (bearing(ring[(i + 1) % len(ring)]) - bearing(ring[i])) % (2 * math.pi)
        for i in range(len(ring))
    ]
    start = max(range(len(ring)), key=lambda i: (gaps[i], -i)) + 1
    ring = ring[start:] + ring[:start]
    sector = {j: i * k // len(ring) for i, j in enumerate(ring)}
    by_kind = sorted(vehicles, key=lambda i: (_kind(problem.vehicles[i]), i))
    side = {i: n % k for n, i in enumerate(by_kind)}
    out: list[tuple[list[int], list[int]]] = []
    for s in range(k):
        vs = [i for i in vehicles if side[i] == s]
        ids = {problem.vehicles[i].id for i in vs}
        js = [j for j in jobs if sector.get(j) == s or problem.jobs[j].on_vehicle in ids]
        out.append((vs, js))
    return out


def _kind(v: Vehicle) -> tuple[str, int, bool]:
    return (v.profile, v.capacity_parcels, v.under_way)


def _alone(v: Vehicle) -> str:
    """The vehicle's id if it is on its last trip (see ``split_by_hub``), else ``""``."""
    return v.id if v.under_way and v.max_trips == 1 else ""
