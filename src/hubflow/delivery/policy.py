"""Dispatch policies: each epoch, which of the known requests leave now and which wait.

Planning runs in epochs. At the start of an epoch the dispatcher knows some requests; the
vehicles of this epoch leave at the planning start, and whatever is not put on one of them
waits for the next epoch, when new requests will have arrived and may make a better route.
A request flagged ``must_dispatch`` cannot wait (it could not be served from the next
planning start), so every policy sends it now.

- ``greedy`` sends everything known: no waiting, the routes of each epoch are cheap to
  build but short on the density that waiting would bring.
- ``lazy`` sends only what must go: dense routes later, but the must-go requests often end
  up alone on long routes.
- ``sampling`` estimates the value of waiting the way the strongest EURO-NeurIPS 2022
  entries did: it draws several scenarios of future requests (with release times, from a
  :class:`FutureSampler`), solves each one with PyVRP as a single problem over now and the
  next epochs, and dispatches a request when, in enough scenarios, it rides on a route
  that must leave now (one that holds a request that has to go now). Over a few cycles it
  fixes the clear cases and re-samples for the rest.

All times are integer seconds on one clock (the caller's); the travel matrix is in seconds
too and indexed by ``Request.location``. Route optimisation is PyVRP's.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pyvrp
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.stop import MaxRuntime

from hubflow.delivery import planner
from hubflow.delivery.problem import Depot as PlanDepot
from hubflow.delivery.problem import Job, PlanningProblem, Profile, Vehicle

__all__ = [
    "POLICIES",
    "DispatchPolicy",
    "EpochState",
    "FutureSampler",
    "GreedyPolicy",
    "LazyPolicy",
    "Request",
    "Routes",
    "SamplingParams",
    "SamplingPolicy",
    "epoch_problem",
    "make_policy",
    "plan_routes",
    "scenario_data",
]

IntMatrix = npt.NDArray[np.int64]
# Routes as request ids in visiting order, depot left out.
Routes = tuple[tuple[int, ...], ...]


@dataclass(frozen=True, slots=True)
class Request:
    """One delivery: where, how much, when it may be served (absolute seconds).

    ``release_s`` is when the request becomes known (and a vehicle may take it): the
    planning start for a request known now, a later epoch's start for a sampled one."""

    id: int
    location: int
    demand: int
    tw_early: int
    tw_late: int
    service_s: int = 0
    must_dispatch: bool = False
    release_s: int = 0

    def __post_init__(self) -> None:
        if self.location < 0:
            raise ValueError(f"request {self.id}: location must be >= 0")
        if self.demand < 0 or self.service_s < 0:
            raise ValueError(f"request {self.id}: demand and service time must be >= 0")
        if self.tw_early > self.tw_late:
            raise ValueError(f"request {self.id}: time window ends before it starts")


class FutureSampler(Protocol):
    """Draws plausible requests that will become known in the coming epochs."""

    def sample(self, planning_start_s: int, epochs: int, rng: np.random.Generator) -> list[Request]:
        """Requests revealed over the ``epochs`` epochs after the one whose vehicles leave
        at ``planning_start_s``; each with ``release_s`` = the planning start of the epoch
        it appears in. Ids are ignored (the policy numbers scenarios itself)."""
        ...


@dataclass(frozen=True, eq=False)
class EpochState:
    """What the dispatcher knows at one epoch.

    ``durations`` is a square matrix of travel seconds over every location a request
    (known or sampled) may have; ``horizon_end_s`` is when vehicles must be back."""

    requests: tuple[Request, ...]
    durations: IntMatrix
    depot: int
    capacity: int
    planning_start_s: int
    horizon_end_s: int
    epoch_s: int = 3600
    is_last_epoch: bool = False
    sampler: FutureSampler | None = None
    ids: frozenset[int] = field(init=False)
    must_dispatch_ids: frozenset[int] = field(init=False)

    def __post_init__(self) -> None:
        d = self.durations
        if d.ndim != 2 or d.shape[0] != d.shape[1]:
            raise ValueError("durations must be a square matrix")
        if not 0 <= self.depot < d.shape[0]:
            raise ValueError("depot is outside the travel matrix")
        if self.capacity <= 0 or self.epoch_s <= 0:
            raise ValueError("capacity and epoch length must be positive")
        if self.horizon_end_s < self.planning_start_s:
            raise ValueError("the horizon ends before the planning start")
        ids = [r.id for r in self.requests]
        if len(set(ids)) != len(ids):
            raise ValueError("request ids must be unique")
        for r in self.requests:
            if r.location >= d.shape[0]:
                raise ValueError(f"request {r.id}: location is outside the travel matrix")
            if r.demand > self.capacity:
                raise ValueError(f"request {r.id}: demand exceeds the vehicle capacity")
        object.__setattr__(self, "ids", frozenset(ids))
        # In the last epoch nothing can wait, whatever the flags say.
        must = ids if self.is_last_epoch else [r.id for r in self.requests if r.must_dispatch]
        object.__setattr__(self, "must_dispatch_ids", frozenset(must))


class DispatchPolicy(Protocol):
    """Chooses the requests that leave this epoch; always a superset of the must-dispatch
    requests, and answers within ``time_limit_s``."""

    @property
    def name(self) -> str: ...

    def select(
        self, state: EpochState, *, time_limit_s: float, rng: np.random.Generator
    ) -> frozenset[int]: ...


@dataclass(frozen=True)
class GreedyPolicy:
    """Dispatch everything known: the competition's baseline."""

    name: str = "greedy"

    def select(
        self, state: EpochState, *, time_limit_s: float, rng: np.random.Generator
    ) -> frozenset[int]:
        return state.ids


@dataclass(frozen=True)
class LazyPolicy:
    """Dispatch only what cannot wait."""

    name: str = "lazy"

    def select(
        self, state: EpochState, *, time_limit_s: float, rng: np.random.Generator
    ) -> frozenset[int]:
        return state.must_dispatch_ids


@dataclass(frozen=True)
class SamplingParams:
    """Knobs of the scenario-based policy.

    Per cycle ``scenarios`` scenarios of ``lookahead_epochs`` epochs of future requests are
    solved, each with an equal share of the time left. A request's score is the share of
    scenarios in which it rides a route that leaves now. Before the last cycle, a score at
    or above ``fix_dispatch`` fixes it to go now and one at or below ``fix_postpone`` fixes
    it to wait (the next scenarios then hold it back); after the last cycle it goes when
    its score is at least ``threshold``. ``safety`` is the share of the time limit kept
    free so the answer is never late; a scenario gets at least ``min_scenario_s``.
    """

    scenarios: int = 6
    cycles: int = 2
    lookahead_epochs: int = 1
    threshold: float = 0.5
    fix_dispatch: float = 0.85
    fix_postpone: float = 0.15
    safety: float = 0.1
    min_scenario_s: float = 0.05

    def __post_init__(self) -> None:
        if self.scenarios < 1 or self.cycles < 1 or self.lookahead_epochs < 1:
            raise ValueError("scenarios, cycles and lookahead_epochs must be >= 1")
        for name in ("threshold", "fix_dispatch", "fix_postpone", "safety"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")
        if self.fix_postpone >= self.fix_dispatch:
            raise ValueError("fix_postpone must be below fix_dispatch")
        if self.safety >= 1.0 or self.min_scenario_s <= 0:
            raise ValueError("safety must be below 1 and min_scenario_s positive")


@dataclass(frozen=True)
class SamplingPolicy:
    """Postpone what the sampled futures say is worth waiting for (see the module doc)."""

    params: SamplingParams = SamplingParams()
    name: str = "sampling"

    def select(
        self, state: EpochState, *, time_limit_s: float, rng: np.random.Generator
    ) -> frozenset[int]:
        deadline = time.monotonic() + max(0.0, time_limit_s) * (1.0 - self.params.safety)
        must = state.must_dispatch_ids
        open_ids = [r.id for r in state.requests if r.id not in must]
        if not open_ids:
            return state.ids
        if state.sampler is None:
            # Without a view of the future, dispatching everything is the safer bet: the
            # competition's greedy baseline beat the lazy one by a wide margin.
            return state.ids
        p = self.params
        dispatch: set[int] = set()
        postpone: set[int] = set()
        scores: dict[int, float] = {}
        for cycle in range(p.cycles):
            undecided = [i for i in open_ids if i not in dispatch and i not in postpone]
            if not undecided:
                break
            counts = dict.fromkeys(undecided, 0)
            solved = 0
            for k in range(p.scenarios):
                left = deadline - time.monotonic()
                runs_left = (p.cycles - cycle) * p.scenarios - k
                budget = left / runs_left
                if budget < p.min_scenario_s:
                    break
                leaving = _leaving_now(
                    state, must | dispatch, postpone, p.lookahead_epochs, budget, rng
                )
                for i in leaving:
                    if i in counts:
                        counts[i] += 1
                solved += 1
            if solved == 0:
                break
            scores = {i: c / solved for i, c in counts.items()}
            if cycle < p.cycles - 1:
                dispatch.update(i for i, s in scores.items() if s >= p.fix_dispatch)
                postpone.update(i for i, s in scores.items() if s <= p.fix_postpone)
        if not scores and not dispatch and not postpone:
            return state.ids  # no scenario fitted in the time: see the no-sampler case
        chosen = {i for i, s in scores.items() if s >= p.threshold and i not in postpone}
        return frozenset(must | dispatch | chosen)


def _leaving_now(
    state: EpochState,
    dispatch: set[int] | frozenset[int],
    postpone: set[int],
    lookahead_epochs: int,
    time_limit_s: float,
    rng: np.random.Generator,
) -> set[int]:
    """Solve one scenario; the known requests that ride a route leaving now."""
    assert state.sampler is not None
    start = state.planning_start_s
    epochs = min(lookahead_epochs, _epochs_left(state))
    future = state.sampler.sample(start, epochs, rng) if epochs else []
    stops: list[Request] = []
    for r in state.requests:
        # Holding a request back = it cannot ride before the next epoch's vehicles.
        release = start + state.epoch_s if r.id in postpone else start
        stops.append(_with_release(r, min(release, r.tw_late)))
    stops.extend(_with_release(f, min(max(f.release_s, start), f.tw_late)) for f in future)
    data = scenario_data(stops, state)
    seed = int(rng.integers(0, 2**31 - 1))
    with warnings.catch_warnings():
        # Short scenario solves may end infeasible; their routes still carry the signal.
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        stop = MaxRuntime(max(time_limit_s, 0.01))
        result = pyvrp.solve(data, stop, seed=seed, collect_stats=False)
    n_known = len(state.requests)
    leaving: set[int] = set()
    for route in result.best.routes():
        members = [a.idx for a in route if a.is_client()]
        known = [state.requests[i].id for i in members if i < n_known]
        if any(i in dispatch for i in known):
            leaving.update(known)
    return leaving


def _epochs_left(state: EpochState) -> int:
    # A bound only: the sampler knows when its day ends and stops there itself.
    return max(0, math.ceil((state.horizon_end_s - state.planning_start_s) / state.epoch_s))


def _with_release(r: Request, release_s: int) -> Request:
    return Request(
        id=r.id,
        location=r.location,
        demand=r.demand,
        tw_early=r.tw_early,
        tw_late=r.tw_late,
        service_s=r.service_s,
        must_dispatch=r.must_dispatch,
        release_s=release_s,
    )


# -- the PyVRP models ---------------------------------------------------------------------------


def scenario_data(stops: Sequence[Request], state: EpochState) -> pyvrp.ProblemData:
    """A PyVRP problem over ``stops`` (client i = stops[i]) with times relative to the
    planning start: vehicles leave the depot at or after it (and after the release of
    what they carry), without a fleet limit, and the cost is the driving duration.

    Built here rather than through :func:`hubflow.delivery.planner.build_data`: a policy
    builds it many times per epoch, and the planner's per-vehicle eligibility checks
    (jobs x vehicles) cost more than the short scenario solves themselves."""
    start = state.planning_start_s
    horizon = state.horizon_end_s - start
    locs = np.fromiter(
        (state.depot, *(s.location for s in stops)), dtype=np.int64, count=len(stops) + 1
    )
    # PyVRP's stubs type matrices loosely (np.ndarray[int]); any int64 2-D array will do.
    matrix: Any = np.ascontiguousarray(state.durations[np.ix_(locs, locs)], dtype=np.int64)
    clients = []
    for i, s in enumerate(stops, start=1):
        late = max(0, s.tw_late - start)
        clients.append(
            pyvrp.Client(
                location=i,
                delivery=[s.demand],
                service_duration=s.service_s,
                tw_early=min(max(0, s.tw_early - start), late),
                tw_late=late,
                release_time=min(max(0, s.release_s - start), late),
            )
        )
    return pyvrp.ProblemData(
        locations=[pyvrp.Location(0.0, 0.0) for _ in range(len(stops) + 1)],
        clients=clients,
        depots=[pyvrp.Depot(location=0, tw_early=0, tw_late=horizon)],
        vehicle_types=[
            pyvrp.VehicleType(
                num_available=max(1, len(stops)),
                capacity=[state.capacity],
                tw_early=0,
                tw_late=horizon,
                unit_distance_cost=1,
                unit_duration_cost=0,
            )
        ],
        distance_matrices=[matrix],
        duration_matrices=[matrix],
    )


def epoch_problem(
    state: EpochState, ids: Iterable[int], prizes: Mapping[int, int] | None = None
) -> PlanningProblem:
    """The requests ``ids`` as the product's planning problem: one depot, times relative
    to the planning start, demand as weight, driving seconds as the distance to minimise.

    The fleet is bounded (a few times what the load needs) to keep the planner's model
    small; whatever it cannot fit rides alone (see :func:`plan_routes`). Requests in
    ``prizes`` but not in ``ids`` are optional, worth their prize (driving seconds, > 0)."""
    wanted = set(ids)
    optional = {i: p for i, p in (prizes or {}).items() if i not in wanted}
    if any(p <= 0 for p in optional.values()):
        raise ValueError("prizes must be positive")
    stops = [r for r in state.requests if r.id in wanted or r.id in optional]
    if len(stops) != len(wanted) + len(optional):
        raise ValueError("unknown request ids")
    start = state.planning_start_s
    horizon = state.horizon_end_s - start
    jobs = [
        Job(
            id=str(r.id),
            location=r.location,
            depot=None,
            weight_g=r.demand,
            volume_cm3=0,
            parcels=0,
            service_s=r.service_s,
            tw_early=min(max(0, r.tw_early - start), max(0, r.tw_late - start)),
            tw_late=max(0, r.tw_late - start),
            required=r.id in wanted,
            prize=optional.get(r.id, 0),
        )
        for r in stops
    ]
    load = sum(r.demand for r in stops if r.id in wanted)
    fleet = min(len(stops), 3 * math.ceil(load / state.capacity) + 10)
    vehicles = [
        Vehicle(
            id=f"v{k}",
            profile="drive",
            depot=0,
            capacity_weight_g=state.capacity,
            shift_early=0,
            shift_late=horizon,
        )
        for k in range(max(fleet, 1))
    ]
    return PlanningProblem(
        depots=[PlanDepot("depot", state.depot, 0, horizon)],
        jobs=jobs,
        vehicles=vehicles,
        profiles={"drive": Profile("drive", state.durations, state.durations)},
        num_locations=state.durations.shape[0],
    )


def plan_routes(
    state: EpochState,
    ids: Iterable[int],
    *,
    time_limit_s: float,
    seed: int = 0,
    prizes: Mapping[int, int] | None = None,
) -> Routes:
    """Routes for the requests ``ids`` leaving at the planning start, planned by the
    product's planner (PyVRP) within about ``time_limit_s``; requests in ``prizes`` come
    along when their detour costs less than their prize. A request of ``ids`` the plan
    leaves out rides alone: feasible for any request the epoch may still serve."""
    ids = set(ids)
    problem = epoch_problem(state, ids, prizes)
    if not problem.jobs:
        return ()
    # The planner's time limit is the search's; building its model (eligibility checks
    # over jobs x vehicles) comes on top: about 0.15 s for 300 jobs and 52 vehicles.
    build_s = 0.05 + 1e-5 * len(problem.jobs) * len(problem.vehicles)
    plan = planner.plan(problem, time_limit_s=max(0.01, time_limit_s - build_s), seed=seed)
    routes = [tuple(int(s.job_id) for s in r.stops) for r in plan.routes if r.stops]
    served = {i for r in routes for i in r}
    routes.extend((i,) for i in sorted(ids - served))
    return tuple(routes)


POLICIES: Mapping[str, Callable[..., DispatchPolicy]] = MappingProxyType(
    {
        "greedy": GreedyPolicy,
        "lazy": LazyPolicy,
        "sampling": lambda **kw: SamplingPolicy(SamplingParams(**kw)),
    }
)


def make_policy(name: str, **params: Any) -> DispatchPolicy:
    """The policy registered as ``name``; ``params`` go to its parameters (``sampling``
    only)."""
    try:
        factory = POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; known: {', '.join(sorted(POLICIES))}") from None
    if params and name != "sampling":
        raise ValueError(f"policy {name!r} takes no parameters")
    return factory(**params)
