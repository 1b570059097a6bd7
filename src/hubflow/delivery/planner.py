"""Plan delivery routes: the planning problem as one PyVRP model, solved by PyVRP.

Who may carry which parcel (its hub, drone weight and size limits, robot radius, parcels already
on board) is encoded as extra load dimensions rather than extra distance matrices: a job that a
vehicle type may not carry weighs 1 in a dimension where that type has capacity 0. Jobs no
vehicle can serve are reported before solving and kept out of the model.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import pyvrp
from pyvrp import Activity, ActivityType, ProblemData, Solution
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.stop import (
    MaxIterations,
    MaxRuntime,
    MultipleCriteria,
    NoImprovement,
    StoppingCriterion,
)

from hubflow.delivery.decompose import split_by_hub
from hubflow.delivery.parallel import solve_parts
from hubflow.delivery.problem import FOREVER, Job, PlanningProblem, Vehicle

__all__ = [
    "AUTO_PRIZE_FACTOR",
    "Encoding",
    "Plan",
    "PlannedRoute",
    "PlannedStop",
    "Reason",
    "Unassigned",
    "build_data",
    "plan",
    "precheck",
]

Reason = Literal[
    "no_vehicle_at_hub",
    "too_heavy",
    "too_large",
    "out_of_range",
    "window_unreachable",
    "fleet_full",
]
# Checks run in this order; a job no vehicle can serve gets the reason of the vehicle that got
# furthest, which is the most useful thing to tell a dispatcher (the drone is out, the van's
# window is the problem).
_STAGES: tuple[Reason, ...] = (
    "no_vehicle_at_hub",
    "too_heavy",
    "too_large",
    "out_of_range",
    "window_unreachable",
)
# An optional job with prize 0 is worth this many times the dearest one-stop round trip, so the
# solver drops a job only when no vehicle can fit it in; jobs are optional rather than required
# so that an over-full day still yields a feasible plan instead of an infeasible one.
AUTO_PRIZE_FACTOR = 10
# A job a vehicle type may not carry weighs this much in that type's eligibility dimension:
# a violation then costs at least as much as a long detour, so the search leaves it quickly.
_INELIGIBLE = 1_000


@dataclass(frozen=True, slots=True)
class PlannedStop:
    job_id: str
    trip: int
    arrival_s: int
    start_s: int
    departure_s: int


@dataclass(frozen=True, slots=True)
class PlannedRoute:
    vehicle_id: str
    stops: list[PlannedStop]
    start_s: int
    end_s: int
    distance_m: int
    duration_s: int
    cost: int


@dataclass(frozen=True, slots=True)
class Unassigned:
    job_id: str
    reason: Reason


@dataclass(frozen=True, slots=True)
class Plan:
    routes: list[PlannedRoute]
    unassigned: list[Unassigned]
    cost: int
    feasible: bool
    runtime_s: float


@dataclass(frozen=True, slots=True)
class Encoding:
    """How a :class:`PlanningProblem` maps onto a :class:`pyvrp.ProblemData`."""

    client_jobs: list[int]  # PyVRP client index -> job index
    type_vehicles: list[list[int]]  # PyVRP vehicle type -> vehicle indices
    dimensions: list[str]  # what each load dimension means
    unassigned: list[Unassigned]  # jobs kept out of the model
    cost_scale: float  # objective units per minor currency unit


def _fits(dims: tuple[int, int, int] | None, limit: tuple[int, int, int] | None) -> bool:
    # Parcels may be turned any way, so compare sorted edge lengths.
    return (
        dims is None
        or limit is None
        or all(a <= b for a, b in zip(sorted(dims), sorted(limit), strict=True))
    )


def _stage(problem: PlanningProblem, job: Job, v: Vehicle) -> int:
    """How many of the :data:`_STAGES` checks ``v`` passes for ``job`` (5 = can serve it)."""
    on_board = job.on_board
    if job.on_vehicle is not None and job.on_vehicle != v.id:
        return 0
    if not on_board and (
        (job.depot is not None and job.depot != v.depot) or (v.under_way and v.max_trips == 1)
    ):
        return 0
    if (v.max_parcel_weight_g is not None and job.weight_g > v.max_parcel_weight_g) or (
        job.weight_g > v.capacity_weight_g
    ):
        return 1
    if (
        not _fits(job.dims_mm, v.max_parcel_dims_mm)
        or job.volume_cm3 > v.capacity_volume_cm3
        or job.parcels > v.capacity_parcels
    ):
        return 2
    prof = problem.profiles[v.profile]
    hub = problem.depots[v.depot]
    home = problem.depots[v.home]
    start = v.start_location if on_board and v.start_location is not None else hub.location
    out = int(prof.distance[start, job.location])
    back = int(prof.distance[job.location, home.location])
    if not on_board and v.radius_m is not None and out > v.radius_m:
        return 3
    if v.max_distance_m is not None and out + back > v.max_distance_m:
        return 3
    leave = max(v.shift_early, v.available_from, hub.tw_early)
    if on_board:
        leave = max(v.shift_early, v.available_from)
    elif v.start_location is not None:  # first back to the hub to load it
        leave = max(leave, v.available_from + int(prof.duration[v.start_location, hub.location]))
    leave = max(leave, 0 if on_board else job.release_s)
    arrive = leave + int(prof.duration[start, job.location])
    done = max(arrive, job.tw_early) + job.service_s
    home_at = done + int(prof.duration[job.location, home.location])
    if arrive > job.tw_late or home_at > min(v.shift_late, home.tw_late):
        return 4
    bare = home_at - max(arrive, job.tw_early) + arrive - leave
    if v.max_duration_s is not None and bare > v.max_duration_s:
        return 4
    return 5


def precheck(problem: PlanningProblem) -> tuple[list[list[int]], list[Unassigned]]:
    """Per job the vehicles that could serve it on its own, and the jobs none can serve."""
    eligible: list[list[int]] = []
    out: list[Unassigned] = []
    vs = problem.vehicles
    # Vehicles alike but for their id pass the same checks (but for a parcel on board one
    # of them): check one of each kind, a hub's ten vans once.
    kinds: dict[tuple[object, ...], int] = {}
    kind_of = [kinds.setdefault(_type_key(v, False), i) for i, v in enumerate(vs)]
    for job in problem.jobs:
        if job.on_vehicle is not None:
            stages = [_stage(problem, job, v) for v in vs]
        else:
            first = {i: _stage(problem, job, vs[i]) for i in kinds.values()}
            stages = [first[k] for k in kind_of]
        ok = [i for i, s in enumerate(stages) if s == len(_STAGES)]
        eligible.append(ok)
        if not ok:
            out.append(Unassigned(job.id, _STAGES[max(stages, default=0)]))
    return eligible, out


def _type_key(v: Vehicle, unique: bool) -> tuple[object, ...]:
    # Identical vehicles share one PyVRP vehicle type; a vehicle under way or with parcels on
    # board is one of a kind.
    fields = tuple(getattr(v, f) for f in Vehicle.__slots__ if f != "id")
    return (v.id, *fields) if unique else fields


def _cost_units(vehicles: Sequence[Vehicle]) -> tuple[float, list[tuple[int, int]]]:
    """Objective units per minor unit, and per vehicle integer (per metre, per second) costs.

    Exact where the rates allow it with small integers, so a distance-only instance keeps
    distance as its objective (PyVRP's penalties are tuned for that scale); otherwise the
    dearest rate is about 1000 units and the others rounded."""
    per_m = [v.cost_per_km / 1000 for v in vehicles]
    per_s = [v.cost_per_hour / 3600 for v in vehicles]
    rates = [r for r in per_m + per_s if r > 0]
    if not rates:
        return 1.0, [(1, 0)] * len(vehicles)
    exact = [v.cost_per_km * 18 for v in vehicles] + [v.cost_per_hour * 5 for v in vehicles]
    g = math.gcd(*exact)
    scale = 18_000 / g if max(exact) // g <= 1000 else 1000 / max(rates)
    units = [
        (round(m * scale) if m else 0, round(s * scale) if s else 0)
        for m, s in zip(per_m, per_s, strict=True)
    ]
    return scale, [
        (max(a, 1 if m else 0), max(b, 1 if s else 0))
        for (a, b), m, s in zip(units, per_m, per_s, strict=True)
    ]


def build_data(problem: PlanningProblem) -> tuple[ProblemData, Encoding]:
    """The PyVRP model of ``problem`` and how to read its solutions back."""
    eligible, unassigned = precheck(problem)
    jobs = [j for j, ok in enumerate(eligible) if ok]
    vs = problem.vehicles
    on_board = {problem.jobs[j].on_vehicle for j in jobs} - {None}

    groups: dict[tuple[object, ...], list[int]] = {}
    for i, v in enumerate(vs):
        groups.setdefault(_type_key(v, v.under_way or v.id in on_board), []).append(i)
    types = list(groups.values())
    type_of = {i: t for t, members in enumerate(types) for i in members}
    allowed = [{type_of[i] for i in eligible[j]} for j in range(len(problem.jobs))]

    # Load dimensions: weight, volume, parcels only where some vehicle could be short of room.
    amounts: list[list[int]] = []
    caps: list[list[int]] = []
    names: list[str] = []
    for name, job_attr, cap_attr in (
        ("weight_g", "weight_g", "capacity_weight_g"),
        ("volume_cm3", "volume_cm3", "capacity_volume_cm3"),
        ("parcels", "parcels", "capacity_parcels"),
    ):
        amount = [int(getattr(problem.jobs[j], job_attr)) for j in jobs]
        cap = [min(int(getattr(vs[m[0]], cap_attr)), FOREVER) for m in types]
        if sum(amount) > min(cap, default=0):
            names.append(name)
            amounts.append(amount)
            caps.append(cap)
    n_load = len(names)  # the dimensions above are room on board; the rest eligibility

    # Eligibility. First one dimension per hub (parcels of other hubs weigh in it, that hub's
    # vehicles have no room), then dimensions for what remains (drone limits, robot radius,
    # parcels on board), shared by types whenever that bars no job a type could serve: the
    # robots of two hubs share one dimension, not one per (hub, kind) pair.
    barred = [{c for c, j in enumerate(jobs) if t not in allowed[j]} for t in range(len(types))]
    covered: list[set[int]] = [set() for _ in types]
    bars: list[tuple[list[int], set[int]]] = []  # (types with capacity 0, jobs weighing in it)
    for h in sorted({vs[m[0]].depot for m in types}):
        at_h = [t for t, m in enumerate(types) if vs[m[0]].depot == h]
        away = {
            c
            for c, j in enumerate(jobs)
            if not problem.jobs[j].on_board and problem.jobs[j].depot not in (None, h)
        }
        if away:
            bars.append((at_h, away))
            for t in at_h:
                covered[t] |= away
    shared: list[tuple[list[int], set[int]]] = []
    for t in range(len(types)):
        need = barred[t] - covered[t]
        if not need:
            continue
        for members, heavy in shared:
            if all(need <= barred[s] for s in members) and heavy <= barred[t]:
                members.append(t)
                heavy |= need
                break
        else:
            shared.append(([t], need))
    for k, (members, heavy) in enumerate(bars + shared):
        names.append(
            f"hub_{problem.depots[vs[types[members[0]][0]].depot].id}"
            if k < len(bars)
            else f"eligible_{k - len(bars)}"
        )
        amounts.append([_INELIGIBLE if c in heavy else 0 for c in range(len(jobs))])
        caps.append([0 if t in members else _INELIGIBLE * len(heavy) for t in range(len(types))])

    # A vehicle under way carries only its on-board parcels until it has been back to its hub:
    # its first trip starts full in this dimension, and reloading empties it.
    fresh: list[int] = []
    if any(vs[m[0]].under_way and vs[m[0]].max_trips > 1 for m in types):
        fresh = [0 if problem.jobs[j].on_board else _INELIGIBLE for j in jobs]
        names.append("from_hub")
        amounts.append(fresh)
        caps.append([max(sum(fresh), 1)] * len(types))

    depots = [
        pyvrp.Depot(location=d.location, tw_early=d.tw_early, tw_late=d.tw_late, name=d.id)
        for d in problem.depots
    ]
    starts: dict[int, int] = {}
    for m in types:
        loc = vs[m[0]].start_location
        if loc is not None and loc not in starts:
            starts[loc] = len(depots)
            depots.append(pyvrp.Depot(location=loc, name=f"at:{loc}"))

    profile_names = sorted({v.profile for v in vs})
    profile_index = {p: i for i, p in enumerate(profile_names)}
    scale, unit_costs = _cost_units(vs)

    vehicle_types = []
    for t, m in enumerate(types):
        v = vs[m[0]]
        hub, home = problem.depots[v.depot], problem.depots[v.home]
        if v.start_location is not None:
            begin = max(v.shift_early, v.available_from)
            start_depot, start_late = starts[v.start_location], begin
        else:
            begin = max(v.shift_early, v.available_from, hub.tw_early)
            start_depot, start_late = v.depot, None
        initial = [0] * len(names)
        if fresh and v.under_way:
            initial[-1] = caps[-1][t]
        per_m, per_s = unit_costs[m[0]]
        vehicle_types.append(
            pyvrp.VehicleType(
                num_available=len(m),
                capacity=[c[t] for c in caps],
                start_depot=start_depot,
                end_depot=v.home,
                fixed_cost=round(v.fixed_cost * scale),
                tw_early=begin,
                tw_late=min(v.shift_late, home.tw_late),
                shift_duration=FOREVER if v.max_duration_s is None else v.max_duration_s,
                max_distance=FOREVER if v.max_distance_m is None else v.max_distance_m,
                unit_distance_cost=per_m,
                unit_duration_cost=per_s,
                profile=profile_index[v.profile],
                start_late=start_late,
                initial_load=initial,
                reload_depots=[v.depot] if v.max_trips > 1 else [],
                max_reloads=v.max_trips - 1,
                name=",".join(vs[i].id for i in m),
            )
        )

    prize = _auto_prize(problem, jobs, eligible, unit_costs, scale)
    clients = []
    for c, j in enumerate(jobs):
        job = problem.jobs[j]
        amount = [a[c] for a in amounts]
        back = [0] * len(amounts)
        if job.pickup:  # room is taken from this stop back to the hub
            back[:n_load], amount[:n_load] = amount[:n_load], [0] * n_load
        clients.append(
            pyvrp.Client(
                location=job.location,
                delivery=amount,
                pickup=back,
                service_duration=job.service_s,
                tw_early=job.tw_early,
                tw_late=job.tw_late,
                release_time=0 if job.on_board else job.release_s,
                prize=0 if job.required else (round(job.prize * scale) or prize),
                required=job.required,
                name=job.id,
            )
        )

    # PyVRP's stubs type matrices as ``ndarray[int]``, which no real array satisfies.
    distances: list[Any] = [problem.profiles[p].distance for p in profile_names]
    durations: list[Any] = [problem.profiles[p].duration for p in profile_names]
    data = ProblemData(
        locations=[pyvrp.Location(0.0, 0.0) for _ in range(problem.num_locations)],
        clients=clients,
        depots=depots,
        vehicle_types=vehicle_types,
        distance_matrices=distances,
        duration_matrices=durations,
    )
    return data, Encoding(jobs, types, names, unassigned, scale)


def _auto_prize(
    problem: PlanningProblem,
    jobs: list[int],
    eligible: list[list[int]],
    unit_costs: list[tuple[int, int]],
    scale: float,
) -> int:
    dearest = 0
    for j in jobs:
        job = problem.jobs[j]
        for i in eligible[j]:
            v = problem.vehicles[i]
            prof = problem.profiles[v.profile]
            hub, home = problem.depots[v.depot].location, problem.depots[v.home].location
            dist = int(prof.distance[hub, job.location]) + int(prof.distance[job.location, home])
            wait = max(0, job.tw_early - v.shift_early)
            dur = int(prof.duration[hub, job.location]) + int(prof.duration[job.location, home])
            per_m, per_s = unit_costs[i]
            cost = per_m * dist + per_s * (dur + wait + job.service_s)
            dearest = max(dearest, round(v.fixed_cost * scale) + cost)
    return AUTO_PRIZE_FACTOR * max(dearest, 1)


class _Progress(pyvrp.IteratedLocalSearchCallbacks):
    def __init__(self, on_progress: Callable[[float], None], limit: float) -> None:
        self._report = on_progress
        self._limit = max(limit, 1e-9)
        self._t0 = self._last = time.perf_counter()

    def on_iteration(self, *_: object) -> None:
        now = time.perf_counter()
        if now - self._last >= 0.1:
            self._last = now
            self._report(min(1.0, (now - self._t0) / self._limit))


def _violation(route: pyvrp.Route) -> int:
    return sum(route.excess_load()) + route.time_warp() + route.excess_distance()


def _repair(data: ProblemData, solution: Solution) -> Solution:
    """Drop clients from infeasible routes, worst first, until every route is feasible.

    Only a safety net for a search that ran out of time before reaching feasibility."""
    routes: list[pyvrp.Route] = []
    for route in solution.routes():
        acts = [Activity(a.type, a.idx) for a in route.schedule()[1:-1]]
        current = route
        while not current.is_feasible():
            best: tuple[int, pyvrp.Route] | None = None
            for k, a in enumerate(acts):
                if a.type != ActivityType.CLIENT:
                    continue
                trial = pyvrp.Route(data, acts[:k] + acts[k + 1 :], route.vehicle_type())
                if best is None or _violation(trial) < best[0]:
                    best = (_violation(trial), trial)
            if best is None:
                break
            current = best[1]
            acts = [Activity(a.type, a.idx) for a in current.schedule()[1:-1]]
        if current.is_feasible() and current.num_clients():
            routes.append(current)
    return Solution(data, routes)


def _route_cost(v: Vehicle, distance: int, duration: int, stops: int) -> int:
    return round(
        v.fixed_cost
        + distance * v.cost_per_km / 1000
        + duration * v.cost_per_hour / 3600
        + stops * v.cost_per_stop
    )


def plan(
    problem: PlanningProblem,
    *,
    time_limit_s: float,
    seed: int = 0,
    max_iterations: int | None = None,
    on_progress: Callable[[float], None] = lambda _fraction: None,
    workers: int = 1,
) -> Plan:
    """Routes for ``problem`` found by PyVRP in about ``time_limit_s`` seconds.

    With ``max_iterations`` the search also stops after that many iterations: a plan that
    depends only on the problem and the seed (the twin's determinism) as long as the time
    limit, then only a ceiling, is not reached first. Every job ends up either in a route
    or in ``unassigned`` with a reason; the plan returned is always feasible.
    ``on_progress`` receives the fraction of the time limit used. With ``workers`` > 1
    a problem that splits by hub has its hubs solved in that many processes at once (the
    same plans: each hub's search is the same wherever it runs)."""
    if time_limit_s <= 0:
        raise ValueError("time_limit_s must be positive")
    if max_iterations is not None and max_iterations <= 0:
        raise ValueError("max_iterations must be positive")
    parts = split_by_hub(problem)
    if parts is None:
        return _plan_one(problem, time_limit_s, seed, max_iterations, on_progress)
    # Independent hubs, each with its share of the time (and all the iterations); parts
    # solved side by side share the time of their hand, not of the whole epoch.
    t0 = time.perf_counter()
    total = sum(len(p.jobs) + 1 for p in parts) / max(1, min(workers, len(parts)))
    solve = partial(_plan_part, time_limit_s=time_limit_s, total=total, seed=seed,
                    max_iterations=max_iterations)  # fmt: skip
    plans = solve_parts(solve, parts, workers)
    on_progress(1.0)
    return Plan(
        routes=[r for p in plans for r in p.routes],
        unassigned=[u for p in plans for u in p.unassigned],
        cost=sum(p.cost for p in plans),
        feasible=all(p.feasible for p in plans),
        runtime_s=time.perf_counter() - t0,
    )


def _plan_part(
    part: PlanningProblem,
    *,
    time_limit_s: float,
    total: float,
    seed: int,
    max_iterations: int | None,
) -> Plan:
    share = min(time_limit_s, max(time_limit_s * (len(part.jobs) + 1) / total, 0.01))
    return _plan_one(part, share, seed, max_iterations, _no_progress)


def _no_progress(_fraction: float) -> None:
    pass


def _plan_one(
    problem: PlanningProblem,
    time_limit_s: float,
    seed: int,
    max_iterations: int | None,
    on_progress: Callable[[float], None],
) -> Plan:
    t0 = time.perf_counter()
    if not problem.vehicles:  # a hub without vehicles (only when split): nothing to model
        unplaced = [Unassigned(j.id, _STAGES[0]) for j in problem.jobs]
        return Plan([], unplaced, 0, True, time.perf_counter() - t0)
    data, enc = build_data(problem)
    unassigned = list(enc.unassigned)
    routes: list[PlannedRoute] = []
    if enc.client_jobs:
        # A unit of excess load or lateness must cost more than the prize of the client it
        # squeezes in, or the search settles on an overloaded route and a feasible plan
        # that drops a parcel a second vehicle could have taken.
        prize = max((c.prize for c in data.clients()), default=0)
        penalty = pyvrp.PenaltyParams(max_penalty=max(pyvrp.PenaltyParams().max_penalty, 2 * prize))
        params = pyvrp.SolveParams(
            ils=pyvrp.IteratedLocalSearchParams(callbacks=_Progress(on_progress, time_limit_s)),
            penalty=penalty,
        )
        with warnings.catch_warnings():
            # PyVRP warns when it struggles to reach feasibility; we repair that below.
            warnings.simplefilter("ignore", PenaltyBoundWarning)
            result = pyvrp.solve(
                data,
                _stop(time_limit_s, max_iterations),
                seed=seed,
                collect_stats=False,
                params=params,
            )
        best = result.best
        if not all(r.is_feasible() for r in best.routes()):
            best = _repair(data, best)
        routes = _read_routes(problem, enc, best)
    on_progress(1.0)
    served = {s.job_id for r in routes for s in r.stops}
    known = {u.job_id for u in unassigned}
    unassigned += [
        Unassigned(job.id, "fleet_full")
        for job in problem.jobs
        if job.id not in served and job.id not in known
    ]
    return Plan(
        routes=routes,
        unassigned=unassigned,
        cost=sum(r.cost for r in routes),
        feasible=True,
        runtime_s=time.perf_counter() - t0,
    )


def _stop(time_limit_s: float, max_iterations: int | None) -> StoppingCriterion:
    if max_iterations is None:
        return MaxRuntime(time_limit_s)
    # Counted in iterations, so still deterministic: a small problem that stopped improving
    # does not spend the whole budget.
    stale = NoImprovement(max(20, max_iterations // 4))
    return MultipleCriteria([MaxIterations(max_iterations), stale, MaxRuntime(time_limit_s)])


def _read_routes(problem: PlanningProblem, enc: Encoding, best: Solution) -> list[PlannedRoute]:
    free = [list(m) for m in enc.type_vehicles]
    out: list[PlannedRoute] = []
    for route in best.routes():
        v = problem.vehicles[free[route.vehicle_type()].pop(0)]
        sched = route.schedule()
        stops = [
            PlannedStop(
                job_id=problem.jobs[enc.client_jobs[a.idx]].id,
                trip=a.trip,
                arrival_s=a.start_time - a.wait_duration,
                start_s=a.start_time,
                departure_s=a.end_time,
            )
            for a in sched
            if a.type == ActivityType.CLIENT
        ]
        out.append(
            PlannedRoute(
                vehicle_id=v.id,
                stops=stops,
                start_s=sched[0].end_time,
                end_s=sched[-1].start_time,
                distance_m=route.distance(),
                duration_s=route.duration(),
                cost=_route_cost(v, route.distance(), route.duration(), len(stops)),
            )
        )
    return out
