"""Dispatch policies on tiny synthetic epochs: what they send, and that they answer in time."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hubflow.delivery.policy import (
    POLICIES,
    EpochState,
    GreedyPolicy,
    LazyPolicy,
    Request,
    SamplingParams,
    SamplingPolicy,
    make_policy,
    plan_routes,
)

START = 7200
EPOCH = 3600


def _matrix(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    xy = rng.integers(0, 1200, size=(n, 2))
    d: np.ndarray = np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2).astype(np.int64)
    return d


class RandomSampler:
    """Future requests at random customers, released at each coming epoch's start."""

    def __init__(self, n_locations: int, per_epoch: int = 6) -> None:
        self.n = n_locations
        self.per_epoch = per_epoch

    def sample(self, planning_start_s: int, epochs: int, rng: np.random.Generator) -> list[Request]:
        out: list[Request] = []
        for k in range(1, epochs + 1):
            start = planning_start_s + k * EPOCH
            for loc in rng.integers(1, self.n, size=self.per_epoch):
                out.append(
                    Request(
                        id=-(len(out) + 1),
                        location=int(loc),
                        demand=1,
                        tw_early=start,
                        tw_late=start + 4 * EPOCH,
                        service_s=60,
                        release_s=start,
                    )
                )
        return out


def _state(n: int = 12, *, last: bool = False, sampler: bool = True) -> EpochState:
    d = _matrix(n + 1)
    requests = tuple(
        Request(
            id=10 + i,
            location=i,
            demand=1 + i % 3,
            tw_early=START,
            # The first three close before the next epoch could reach them: must go now.
            tw_late=START + (3000 if i <= 3 else 5 * EPOCH),
            service_s=60,
            must_dispatch=i <= 3,
            release_s=START,
        )
        for i in range(1, n + 1)
    )
    return EpochState(
        requests=requests,
        durations=d,
        depot=0,
        capacity=10,
        planning_start_s=START,
        horizon_end_s=START + 8 * EPOCH,
        is_last_epoch=last,
        sampler=RandomSampler(n + 1) if sampler else None,
    )


def test_greedy_sends_everything_and_lazy_only_what_must_go() -> None:
    state = _state()
    rng = np.random.default_rng(0)
    assert GreedyPolicy().select(state, time_limit_s=1, rng=rng) == state.ids
    assert LazyPolicy().select(state, time_limit_s=1, rng=rng) == frozenset({11, 12, 13})


def test_last_epoch_makes_everything_must_go() -> None:
    state = _state(last=True)
    assert state.must_dispatch_ids == state.ids
    assert LazyPolicy().select(state, time_limit_s=1, rng=np.random.default_rng(0)) == state.ids


@pytest.mark.parametrize("limit", [0.3, 1.0])
def test_sampling_includes_must_dispatch_and_answers_in_time(limit: float) -> None:
    state = _state()
    policy = SamplingPolicy(SamplingParams(scenarios=3, cycles=2, lookahead_epochs=2))
    t0 = time.monotonic()
    chosen = policy.select(state, time_limit_s=limit, rng=np.random.default_rng(1))
    assert time.monotonic() - t0 <= limit + 0.1
    assert state.must_dispatch_ids <= chosen <= state.ids


def test_sampling_without_time_or_sampler_falls_back_to_everything() -> None:
    policy = SamplingPolicy()
    rng = np.random.default_rng(0)
    assert policy.select(_state(sampler=False), time_limit_s=1, rng=rng) == _state().ids
    assert policy.select(_state(), time_limit_s=0.0, rng=rng) == _state().ids


def test_sampling_postpones_when_the_future_is_dense() -> None:
    # Nothing must go, and every scenario brings many requests next epoch: with no route
    # forced to leave now, nothing should.
    base = _state()
    relaxed = tuple(
        Request(r.id, r.location, r.demand, r.tw_early, START + 5 * EPOCH, r.service_s)
        for r in base.requests
    )
    state = EpochState(
        requests=relaxed,
        durations=base.durations,
        depot=0,
        capacity=10,
        planning_start_s=START,
        horizon_end_s=base.horizon_end_s,
        sampler=base.sampler,
    )
    policy = SamplingPolicy(SamplingParams(scenarios=2, cycles=1))
    assert policy.select(state, time_limit_s=0.5, rng=np.random.default_rng(2)) == frozenset()


def test_plan_routes_serves_each_request_once_within_capacity() -> None:
    state = _state()
    ids = sorted(state.ids)[:8]
    routes = plan_routes(state, ids, time_limit_s=0.2, seed=3)
    flat = [i for r in routes for i in r]
    assert sorted(flat) == ids
    demand = {r.id: r.demand for r in state.requests}
    assert all(sum(demand[i] for i in r) <= state.capacity for r in routes)
    assert plan_routes(state, [], time_limit_s=0.1) == ()
    with pytest.raises(ValueError, match="unknown"):
        plan_routes(state, [999], time_limit_s=0.1)


def test_plan_routes_takes_optional_requests_along_when_worth_it() -> None:
    state = _state()
    must = state.must_dispatch_ids
    others = state.ids - must
    cheap = plan_routes(state, must, time_limit_s=0.2, prizes=dict.fromkeys(others, 1))
    # A prize of 1 s buys only detours of (about) nothing: some, not all.
    assert must <= {i for r in cheap for i in r} < state.ids
    dear = plan_routes(state, must, time_limit_s=0.2, prizes=dict.fromkeys(others, 10**6))
    assert {i for r in dear for i in r} == state.ids
    with pytest.raises(ValueError, match="positive"):
        plan_routes(state, must, time_limit_s=0.1, prizes=dict.fromkeys(others, 0))


def test_registry_and_parameter_validation() -> None:
    assert set(POLICIES) == {"greedy", "lazy", "sampling"}
    assert make_policy("sampling", scenarios=3).name == "sampling"
    assert make_policy("greedy").name == "greedy"
    with pytest.raises(ValueError, match="unknown policy"):
        make_policy("oracle")
    with pytest.raises(ValueError, match="takes no parameters"):
        make_policy("lazy", scenarios=2)
    for bad in (
        {"scenarios": 0},
        {"threshold": 1.5},
        {"fix_postpone": 0.9, "fix_dispatch": 0.5},
        {"safety": 1.0},
    ):
        with pytest.raises(ValueError):
            SamplingParams(**bad)


def test_state_and_request_validation() -> None:
    d = _matrix(3)
    with pytest.raises(ValueError, match="time window"):
        Request(id=1, location=1, demand=1, tw_early=10, tw_late=5)
    r = Request(id=1, location=1, demand=1, tw_early=0, tw_late=10_000)
    with pytest.raises(ValueError, match="unique"):
        EpochState((r, r), d, 0, 5, 0, 10_000)
    with pytest.raises(ValueError, match="outside"):
        EpochState((Request(2, 7, 1, 0, 10),), d, 0, 5, 0, 10_000)
    with pytest.raises(ValueError, match="capacity"):
        EpochState((Request(2, 1, 9, 0, 10),), d, 0, 5, 0, 10_000)
    with pytest.raises(ValueError, match="square"):
        EpochState((), d[:2], 0, 5, 0, 10)


def test_window_aware_ride_along_is_within_a_kilometre_of_an_anchor() -> None:
    from hubflow.core.geo import LatLng, haversine_km
    from hubflow.delivery.dispatch import _within_km

    anchors = [LatLng(47.60, -122.33), LatLng(47.70, -122.30)]
    points = [LatLng(47.605, -122.33), LatLng(47.65, -122.33), LatLng(47.7085, -122.30)]
    want = [any(haversine_km(p, a) < 1.0 for a in anchors) for p in points]
    assert _within_km(anchors, points, 1.0) == want == [True, False, True]
