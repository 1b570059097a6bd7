"""Check a plan against its problem, independently of the solver that made it.

Each violation is one string starting with its kind (``capacity:``, ``late:``...), so tests can
assert on kinds and people can read the rest. It shares no code with the planner on purpose: a
bug in the model must not hide the same bug here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from itertools import pairwise

from hubflow.delivery.decompose import split_by_hub
from hubflow.delivery.planner import Plan, PlannedRoute, PlannedStop
from hubflow.delivery.problem import Job, PlanningProblem, Vehicle

__all__ = ["KINDS", "check"]

KINDS = (
    "coverage",
    "unknown",
    "capacity",
    "parcel",
    "radius",
    "hub",
    "late",
    "release",
    "shift",
    "max_duration",
    "max_distance",
    "max_trips",
    "times",
    "distance",
)


def check(problem: PlanningProblem, plan: Plan) -> list[str]:
    """Every violation of ``problem``'s rules in ``plan``; empty when the plan is feasible."""
    jobs = {j.id: j for j in problem.jobs}
    vehicles = {v.id: v for v in problem.vehicles}
    out: list[str] = []
    seen = Counter([s.job_id for r in plan.routes for s in r.stops])
    seen.update(u.job_id for u in plan.unassigned)
    for job_id, n in seen.items():
        if job_id not in jobs:
            out.append(f"unknown: job {job_id} is not in the problem")
        elif n > 1:
            out.append(f"coverage: job {job_id} appears {n} times")
    out += [f"coverage: job {j} is neither routed nor unassigned" for j in jobs if j not in seen]
    used = Counter(r.vehicle_id for r in plan.routes)
    out += [f"unknown: vehicle {v} has {n} routes" for v, n in used.items() if n > 1]
    # A route is checked within its hub's part of the problem when all its stops are there
    # (the same rules, on that hub's matrices only: a region's whole matrices can take
    # gigabytes); a route that strays to another hub's parcels is checked on the whole.
    parts = {v.id: part for part in split_by_hub(problem) or [] for v in part.vehicles}
    for route in plan.routes:
        if route.vehicle_id not in vehicles:
            out.append(f"unknown: vehicle {route.vehicle_id} is not in the problem")
            continue
        stops = [s for s in route.stops if s.job_id in jobs]
        where, known = problem, jobs
        part = parts.get(route.vehicle_id)
        if part is not None:
            own = {j.id: j for j in part.jobs}
            if all(s.job_id in own for s in stops):
                where, known = part, own
        v = where.vehicles[where.vehicle_index[route.vehicle_id]]
        for m in _route(where, v, route, stops, known):
            kind, _, rest = m.partition(": ")
            out.append(f"{kind}: vehicle {v.id}: {rest}")
    return out


def _trips(stops: list[PlannedStop]) -> list[list[PlannedStop]]:
    trips: list[list[PlannedStop]] = []
    for k, s in enumerate(stops):
        if k == 0 or s.trip != stops[k - 1].trip:
            trips.append([])
        trips[-1].append(s)
    return trips


def _fits(dims: tuple[int, int, int] | None, limit: tuple[int, int, int] | None) -> bool:
    if dims is None or limit is None:
        return True
    return all(a <= b for a, b in zip(sorted(dims), sorted(limit), strict=True))


def _parcel(problem: PlanningProblem, v: Vehicle, job: Job) -> Iterator[str]:
    if v.max_parcel_weight_g is not None and job.weight_g > v.max_parcel_weight_g:
        yield f"parcel: {job.id} weighs {job.weight_g} g > {v.max_parcel_weight_g} g"
    if not _fits(job.dims_mm, v.max_parcel_dims_mm):
        yield f"parcel: {job.id} measures {job.dims_mm} > {v.max_parcel_dims_mm}"
    if job.on_vehicle is not None and job.on_vehicle != v.id:
        yield f"hub: {job.id} is kept for {job.on_vehicle}"
        return
    if job.on_board:
        return
    if job.depot is not None and job.depot != v.depot:
        yield f"hub: {job.id} waits at depot {job.depot}, vehicle leaves from {v.depot}"
    hub = problem.depots[v.depot].location
    out = int(problem.profiles[v.profile].distance[hub, job.location])
    if v.radius_m is not None and out > v.radius_m:
        yield f"radius: {job.id} is {out} m from the hub > {v.radius_m} m"


def _peak(loaded: list[Job], visits: list[Job]) -> tuple[int, int, int]:
    """The most a trip has on board at once (weight, volume, parcels): it leaves with
    ``loaded``, drops deliveries and takes pickups (returns) on at each of ``visits``."""

    def size(j: Job) -> tuple[int, int, int]:
        return j.weight_g, j.volume_cm3, j.parcels

    now = [sum(x) for x in zip(*map(size, loaded), strict=True)] if loaded else [0, 0, 0]
    peak = list(now)
    for j in visits:
        sign = 1 if j.pickup else -1
        now = [a + sign * b for a, b in zip(now, size(j), strict=True)]
        peak = [max(a, b) for a, b in zip(peak, now, strict=True)]
    return peak[0], peak[1], peak[2]


def _route(
    problem: PlanningProblem,
    v: Vehicle,
    route: PlannedRoute,
    stops: list[PlannedStop],
    jobs: dict[str, Job],
) -> Iterator[str]:
    dist, dur = problem.profiles[v.profile].distance, problem.profiles[v.profile].duration
    hub, home = problem.depots[v.depot], problem.depots[v.home]
    trips = _trips(stops)
    if any(b.trip < a.trip for a, b in pairwise(stops)):
        yield "times: trip numbers go backwards"
    # Trip numbers count every departure, including an empty run back to the hub.
    if stops and stops[-1].trip >= v.max_trips:
        yield f"max_trips: {stops[-1].trip + 1} trips > {v.max_trips}"
    for s in stops:
        yield from _parcel(problem, v, jobs[s.job_id])

    # Parcels on board were loaded before the plan: they take room until they are delivered.
    on_board = [jobs[s.job_id] for s in stops if jobs[s.job_id].on_board]
    delivered: set[str] = set()
    for trip in trips:
        load = [jobs[s.job_id] for s in trip if not jobs[s.job_id].on_board]
        load = [j for j in load if not j.pickup]
        load += [j for j in on_board if j.id not in delivered]
        delivered |= {s.job_id for s in trip}
        peak = _peak(load, [jobs[s.job_id] for s in trip])
        for label, used, cap in (
            ("weight", peak[0], v.capacity_weight_g),
            ("volume", peak[1], v.capacity_volume_cm3),
            ("parcels", peak[2], v.capacity_parcels),
        ):
            if used > cap:
                yield f"capacity: trip {trip[0].trip} {label} {used} > {cap}"
        # Trip 0 is the one under way (it may have no stops left: the vehicle drives back to
        # reload and delivers its on-board parcels on a later trip).
        if (
            v.under_way
            and trip[0].trip == 0
            and any(not j.on_board for j in (jobs[s.job_id] for s in trip))
        ):
            yield "hub: first trip of a vehicle under way carries parcels from the hub"

    start_early = max(v.shift_early, v.available_from)
    if not v.under_way:
        start_early = max(start_early, hub.tw_early)
    if route.start_s < start_early:
        yield f"shift: starts at {route.start_s} < {start_early}"
    pos = v.start_location if v.start_location is not None else hub.location
    clock, metres = route.start_s, 0
    for k, trip in enumerate(trips):
        if trip[0].trip > (trips[k - 1][0].trip if k else 0):  # back to the hub to load
            metres += int(dist[pos, hub.location])
            clock += int(dur[pos, hub.location])
            if clock > hub.tw_late:
                yield f"shift: back at the hub at {clock} > {hub.tw_late}"
            clock = max(clock, hub.tw_early)
            pos = hub.location
        first = jobs[trip[0].job_id]
        leave = trip[0].arrival_s - int(dur[pos, first.location])
        release = max(
            (jobs[s.job_id].release_s for s in trip if not jobs[s.job_id].on_board), default=0
        )
        if leave < release:
            yield f"release: trip {k} leaves at {leave} before release {release}"
        for s in trip:
            job = jobs[s.job_id]
            metres += int(dist[pos, job.location])
            clock += int(dur[pos, job.location])
            if s.arrival_s < clock:
                yield f"times: {s.job_id} arrives at {s.arrival_s}, {clock} at the earliest"
            if s.start_s < max(s.arrival_s, job.tw_early):
                yield f"times: {s.job_id} starts at {s.start_s} before arrival or window"
            if s.start_s > job.tw_late:
                yield f"late: {s.job_id} starts at {s.start_s} > {job.tw_late}"
            if s.departure_s < s.start_s + job.service_s:
                yield f"times: {s.job_id} leaves at {s.departure_s} before service ends"
            clock, pos = max(clock, s.departure_s), job.location
    metres += int(dist[pos, home.location])
    clock += int(dur[pos, home.location])
    if route.end_s < clock:
        yield f"times: ends at {route.end_s}, {clock} at the earliest"
    if route.end_s > min(v.shift_late, home.tw_late):
        yield f"shift: ends at {route.end_s} > {min(v.shift_late, home.tw_late)}"
    if route.duration_s != route.end_s - route.start_s:
        yield f"times: duration {route.duration_s} != end - start"
    if v.max_duration_s is not None and route.end_s - route.start_s > v.max_duration_s:
        yield f"max_duration: {route.end_s - route.start_s} s > {v.max_duration_s} s"
    if route.distance_m != metres:
        yield f"distance: reported {route.distance_m} m, matrices give {metres} m"
    if v.max_distance_m is not None and metres > v.max_distance_m:
        yield f"max_distance: {metres} m > {v.max_distance_m} m"
