"""An agent for the EURO-NeurIPS 2022 dynamic VRPTW, built on hubflow's dispatch policies.

It speaks the competition's controller protocol: one JSON object per line on stdout,
first ``{"action": "reset"}``, then ``{"action": "step", "data": routes}`` once per epoch;
after each it reads one JSON line on stdin holding ``observation`` and ``info`` (and, after
a step, ``reward`` and ``done``), and it stops once ``done`` is true. Each epoch a policy
picks the requests that leave now (``sampling`` draws future requests the way the
environment does, from the static instance in ``info["dynamic_context"]``), then PyVRP
routes them in what is left of ``epoch_tlim``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import orjson

from hubflow.delivery.euro.environment import (
    DISPATCH_MARGIN_S,
    EPOCH_S,
    MAX_REQUESTS_PER_EPOCH,
    Environment,
    dumps,
)
from hubflow.delivery.euro.instance import EuroInstance
from hubflow.delivery.policy import (
    DispatchPolicy,
    EpochState,
    Request,
    make_policy,
    plan_routes,
)

__all__ = [
    "AgentSettings",
    "DispatchAgent",
    "EpisodeResult",
    "EuroSampler",
    "epoch_state",
    "main",
    "play",
]


@dataclass(frozen=True)
class EuroSampler:
    """Future requests drawn as the environment draws them: up to ``max_requests`` per
    epoch from the static instance's customers, attributes independently, unreachable
    ones dropped, none after ``end_epoch``."""

    instance: EuroInstance
    end_epoch: int
    max_requests: int = MAX_REQUESTS_PER_EPOCH

    def sample(self, planning_start_s: int, epochs: int, rng: np.random.Generator) -> list[Request]:
        inst = self.instance
        n = inst.num_customers
        out: list[Request] = []
        for k in range(1, epochs + 1):
            start = planning_start_s + k * EPOCH_S
            if (start - DISPATCH_MARGIN_S) // EPOCH_S > self.end_epoch:
                break
            cust, tw_idx, dem_idx, svc_idx = (
                rng.integers(n, size=self.max_requests) + 1 for _ in range(4)
            )
            tw = inst.time_windows[tw_idx]
            keep = start + inst.duration_matrix[0, cust] <= tw[:, 1]
            for j in np.flatnonzero(keep):
                out.append(
                    Request(
                        id=-(len(out) + 1),
                        location=int(cust[j]),
                        demand=int(inst.demands[dem_idx[j]]),
                        tw_early=int(tw[j, 0]),
                        tw_late=int(tw[j, 1]),
                        service_s=int(inst.service_times[svc_idx[j]]),
                        release_s=start,
                    )
                )
        return out


def epoch_state(
    observation: Mapping[str, Any],
    instance: EuroInstance,
    *,
    end_epoch: int,
    sampler: EuroSampler | None,
) -> EpochState:
    """The policy's view of one observation: absolute times, the static matrix."""
    ei = observation["epoch_instance"]
    start = int(observation["planning_starttime"])
    is_depot = np.asarray(ei["is_depot"], dtype=bool)
    req = np.asarray(ei["request_idx"], dtype=np.int64)
    cust = np.asarray(ei["customer_idx"], dtype=np.int64)
    demands = np.asarray(ei["demands"], dtype=np.int64)
    tw = np.asarray(ei["time_windows"], dtype=np.int64).reshape(-1, 2)
    service = np.asarray(ei["service_times"], dtype=np.int64)
    must = np.asarray(ei["must_dispatch"], dtype=bool)
    requests = tuple(
        Request(
            id=int(req[i]),
            location=int(cust[i]),
            demand=int(demands[i]),
            tw_early=int(tw[i, 0]) + start,
            tw_late=int(tw[i, 1]) + start,
            service_s=int(service[i]),
            must_dispatch=bool(must[i]),
            release_s=start,
        )
        for i in range(len(req))
        if not is_depot[i]
    )
    return EpochState(
        requests=requests,
        durations=instance.duration_matrix,
        depot=0,
        capacity=int(ei["capacity"]),
        planning_start_s=start,
        horizon_end_s=max(start, int(instance.time_windows[0, 1])),
        epoch_s=EPOCH_S,
        is_last_epoch=int(observation["current_epoch"]) >= end_epoch,
        sampler=sampler,
    )


@dataclass(frozen=True)
class AgentSettings:
    """``select_share`` of an epoch's budget goes to the policy, the rest to routing; the
    budget is ``epoch_tlim`` less ``margin_s`` (default: 10 % of it, capped at 1 s, plus
    0.3 s) so that the answer, serialised and sent, is never late. With ``trim_routes``,
    the ``sampling`` policy's routes that hold no must-dispatch request wait for the next
    epoch after all (they can still leave then, with more company); with ``fill_factor``
    the requests it leaves to wait are offered to the routing anyway, worth that share of
    their depot round trip, so the routes that leave are filled with cheap detours. The
    baselines keep their competition definitions."""

    policy: str = "sampling"
    seed: int = 0
    select_share: float = 0.6
    margin_s: float | None = None
    trim_routes: bool = True
    fill_factor: float = 0.25
    policy_params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.select_share < 1.0:
            raise ValueError("select_share must be within [0, 1)")
        if self.margin_s is not None and self.margin_s < 0:
            raise ValueError("margin_s must be >= 0")
        if self.fill_factor < 0:
            raise ValueError("fill_factor must be >= 0")
        make_policy(self.policy, **self.policy_params)  # fails early on a bad name

    def margin_for(self, epoch_tlim: float) -> float:
        if self.margin_s is not None:
            return self.margin_s
        return min(1.0, 0.1 * epoch_tlim) + 0.3


class DispatchAgent:
    """Plays one run: built from the reset ``info``, answers each observation."""

    def __init__(self, info: Mapping[str, Any], settings: AgentSettings) -> None:
        ctx = info["dynamic_context"]
        self.instance = ctx if isinstance(ctx, EuroInstance) else EuroInstance.from_dict(dict(ctx))
        self.settings = settings
        self.epoch_tlim = float(info["epoch_tlim"])
        self.end_epoch = int(info["end_epoch"])
        self.policy: DispatchPolicy = make_policy(settings.policy, **settings.policy_params)
        self.rng = np.random.default_rng(settings.seed)
        self.sampler = EuroSampler(self.instance, self.end_epoch)

    def act(self, observation: Mapping[str, Any], received_at: float) -> list[list[int]]:
        """Routes for this epoch, within ``epoch_tlim`` counted from ``received_at``
        (a ``time.monotonic()`` reading)."""
        deadline = received_at + self.epoch_tlim - self.settings.margin_for(self.epoch_tlim)
        state = epoch_state(
            observation, self.instance, end_epoch=self.end_epoch, sampler=self.sampler
        )
        left = max(0.0, deadline - time.monotonic())
        chosen = self.policy.select(
            state, time_limit_s=left * self.settings.select_share, rng=self.rng
        )
        left = max(0.05, deadline - time.monotonic())
        seed = int(self.rng.integers(0, 2**31 - 1))
        prizes: dict[int, int] = {}
        if self.settings.fill_factor > 0 and self.policy.name == "sampling":
            # Requests left to wait may still ride along when the detour is small next to
            # the round trip a later route would make to them.
            d = self.instance.duration_matrix
            prizes = {
                # At least 1: the planner reads a prize of 0 as "serve whenever possible".
                r.id: max(1, int(self.settings.fill_factor * (d[0, r.location] + d[r.location, 0])))
                for r in state.requests
                if r.id not in chosen
            }
        routes = plan_routes(state, chosen, time_limit_s=left, seed=seed, prizes=prizes)
        if self.settings.trim_routes and self.policy.name == "sampling":
            must = state.must_dispatch_ids
            routes = tuple(r for r in routes if must.intersection(r))
        return [list(r) for r in routes]


@dataclass(frozen=True)
class EpisodeResult:
    cost: int
    rewards: tuple[int, ...]
    requests: int
    error: str | None


def play(env: Environment, settings: AgentSettings) -> EpisodeResult:
    """One in-process run of ``env`` (no pipes; the benchmark's fast path)."""
    obs, info = env.reset()
    agent = DispatchAgent({**info, "dynamic_context": env.instance}, settings)
    rewards: list[int] = []
    observation: dict[str, Any] | None = obs
    while observation is not None:
        routes = agent.act(observation, time.monotonic())
        observation, reward, done, step_info = env.step(routes)
        if step_info["error"]:
            break
        rewards.append(reward)
        if done:
            break
    return EpisodeResult(
        cost=-env.total_reward, rewards=tuple(rewards), requests=env.num_requests, error=env.error
    )


def main(
    stdin: IO[bytes],
    stdout: IO[bytes],
    *,
    policy: str = "sampling",
    seed: int = 0,
    settings: AgentSettings | None = None,
) -> int:
    """Run the protocol over ``stdin``/``stdout``; 0 once the controller says done,
    1 if the controller went away or reported an error."""
    settings = settings or AgentSettings(policy=policy, seed=seed)

    def send(msg: Mapping[str, Any]) -> None:
        stdout.write(dumps(msg))
        stdout.flush()

    def receive() -> tuple[dict[str, Any] | None, float]:
        line = stdin.readline()
        received = time.monotonic()
        return (orjson.loads(line) if line.strip() else None), received

    send({"action": "reset"})
    msg, received = receive()
    if msg is None:
        return 1
    agent = DispatchAgent(msg["info"], settings)
    while True:
        routes = agent.act(msg["observation"], received)
        send({"action": "step", "data": routes})
        msg, received = receive()
        if msg is None:
            return 1
        if msg.get("info", {}).get("error"):
            return 1
        if msg.get("done"):
            return 0
