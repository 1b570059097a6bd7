"""The dynamic environment of EURO Meets NeurIPS 2022, from its published rules.

The day is cut into epochs of 3,600 s. Epoch ``e`` starts at ``current_time = e * 3600``
and its vehicles leave an hour later, at ``planning_starttime``. Each epoch draws 100
candidate requests from the static instance's customers, with location, time window,
demand and service time drawn independently (numpy ``default_rng(seed)``, in that order,
each ``integers(num_customers, size=100) + 1``); a candidate that a vehicle leaving at the
planning start could not reach before its window closes is dropped. A request is
must-dispatch when a vehicle leaving at the next epoch's planning start could no longer
reach it in time; in the last epoch every request must go. The epochs run from the one
whose vehicles leave by the earliest customer window opening to the one whose vehicles
leave by the latest opening (``(tw_early - 3600) // 3600``, at least 0).

The agent answers each epoch with routes of request indices; dispatched routes are final
and the rest carries over. An answer is valid when every request is known and not yet
dispatched, none appears twice, every must-dispatch request is in, each route fits the
capacity and keeps every time window, waiting allowed, leaving at the planning start and
back at the depot before it closes (times in the observation are relative to the
planning start). Reward = minus the routes' driving duration (waiting and service not
counted). An invalid answer, or one later than ``epoch_tlim`` (plus a small grace), ends
the run as failed. The static variant is one epoch with every customer, leaving at 0.

:func:`run_controller` plays the environment against an agent process over pipes, with the
competition's line protocol (see :mod:`hubflow.delivery.euro.agent`).
"""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from hubflow.delivery.euro.instance import EuroInstance

__all__ = [
    "DISPATCH_MARGIN_S",
    "EPOCH_S",
    "MAX_REQUESTS_PER_EPOCH",
    "ControllerResult",
    "Environment",
    "InvalidSolution",
    "dumps",
    "epoch_bounds",
    "run_controller",
    "validate",
]

EPOCH_S = 3600
DISPATCH_MARGIN_S = 3600
MAX_REQUESTS_PER_EPOCH = 100

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Observation = dict[str, Any]
Info = dict[str, Any]


class InvalidSolution(ValueError):
    """An epoch's routes break a rule; the message says which."""


def epoch_bounds(instance: EuroInstance) -> tuple[int, int]:
    """First and last epoch of a dynamic run on ``instance``."""
    early = instance.time_windows[1:, 0]
    start = max(int((early.min() - DISPATCH_MARGIN_S) // EPOCH_S), 0)
    end = max(int((early.max() - DISPATCH_MARGIN_S) // EPOCH_S), 0)
    return start, end


def validate(epoch_instance: Mapping[str, Any], routes: Sequence[Sequence[int]]) -> int:
    """The driving duration of ``routes`` (request indices) for one epoch; raises
    :class:`InvalidSolution` when they break a rule."""
    request_idx = np.asarray(epoch_instance["request_idx"], dtype=np.int64)
    is_depot = np.asarray(epoch_instance["is_depot"], dtype=bool)
    must = np.asarray(epoch_instance["must_dispatch"], dtype=bool)
    demands = np.asarray(epoch_instance["demands"], dtype=np.int64)
    tw = np.asarray(epoch_instance["time_windows"], dtype=np.int64).reshape(-1, 2)
    service = np.asarray(epoch_instance["service_times"], dtype=np.int64)
    dist = np.asarray(epoch_instance["duration_matrix"], dtype=np.int64)
    capacity = int(epoch_instance["capacity"])
    position = {int(r): i for i, r in enumerate(request_idx) if not is_depot[i]}
    depot = int(np.flatnonzero(is_depot)[0])

    if not isinstance(routes, list | tuple):
        raise InvalidSolution("the solution must be a list of routes")
    seen: set[int] = set()
    driving = 0
    for n, route in enumerate(routes):
        if not isinstance(route, list | tuple) or not route:
            raise InvalidSolution(f"route {n} must be a non-empty list of request indices")
        stops: list[int] = []
        for req in route:
            if isinstance(req, bool) or not isinstance(req, int | np.integer):
                raise InvalidSolution(f"route {n}: {req!r} is not a request index")
            if int(req) not in position:
                raise InvalidSolution(f"route {n}: request {req} is not open in this epoch")
            if int(req) in seen:
                raise InvalidSolution(f"request {req} is dispatched twice")
            seen.add(int(req))
            stops.append(position[int(req)])
        load = int(demands[stops].sum())
        if load > capacity:
            raise InvalidSolution(f"route {n} carries {load} > capacity {capacity}")
        clock = int(tw[depot, 0])
        prev = depot
        for stop in stops:
            driving += int(dist[prev, stop])
            clock = max(clock + int(dist[prev, stop]), int(tw[stop, 0]))
            if clock > tw[stop, 1]:
                raise InvalidSolution(
                    f"route {n}: request {int(request_idx[stop])} reached at {clock} "
                    f"> {int(tw[stop, 1])}"
                )
            clock += int(service[stop])
            prev = stop
        driving += int(dist[prev, depot])
        clock += int(dist[prev, depot])
        if clock > tw[depot, 1]:
            raise InvalidSolution(f"route {n} returns at {clock} > depot close {tw[depot, 1]}")
    missing = [int(request_idx[i]) for i in np.flatnonzero(must) if int(request_idx[i]) not in seen]
    if missing:
        raise InvalidSolution(f"must-dispatch requests left out: {missing[:10]}")
    return driving


@dataclass
class Environment:
    """One run of the competition's environment on ``instance`` with ``seed``.

    ``reset()`` then ``step(routes)`` once per epoch, as in the competition (gym-like
    tuples). ``clock`` is injectable so tests need not wait."""

    instance: EuroInstance
    seed: int
    epoch_tlim: float
    is_static: bool = False
    grace_s: float = 1.0
    max_requests_per_epoch: int = MAX_REQUESTS_PER_EPOCH
    clock: Callable[[], float] = time.monotonic
    start_epoch: int = field(init=False, default=0)
    end_epoch: int = field(init=False, default=0)
    current_epoch: int = field(init=False, default=0)
    total_reward: int = field(init=False, default=0)
    done: bool = field(init=False, default=True)
    error: str | None = field(init=False, default=None)
    solutions: dict[int, list[list[int]]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.epoch_tlim <= 0 or self.grace_s < 0 or self.max_requests_per_epoch < 1:
            raise ValueError("epoch_tlim and max_requests_per_epoch must be positive")

    # -- the protocol ------------------------------------------------------------------------

    def reset(self) -> tuple[Observation, Info]:
        inst = self.instance
        self._rng = np.random.default_rng(self.seed)
        self.total_reward = 0
        self.error = None
        self.solutions = {}
        if self.is_static:
            self.start_epoch = self.end_epoch = 0
        else:
            self.start_epoch, self.end_epoch = epoch_bounds(inst)
        self.current_epoch = self.start_epoch
        # Request 0 is the depot, as in the competition: it rides along in every epoch.
        self._customer = np.zeros(1, dtype=np.int64)
        self._tw = inst.time_windows[:1].copy()
        self._demand = inst.demands[:1].copy()
        self._service = inst.service_times[:1].copy()
        self._dispatched = np.zeros(1, dtype=bool)
        self._epoch_of = np.zeros(1, dtype=np.int64)
        self.done = False
        obs = self._observe()
        info = {
            "dynamic_context": inst.to_dict(),
            "is_static": self.is_static,
            "start_epoch": self.start_epoch,
            "end_epoch": self.end_epoch,
            "num_epochs": self.end_epoch - self.start_epoch + 1,
            "epoch_tlim": self.epoch_tlim,
        }
        return obs, info

    def step(self, routes: Any) -> tuple[Observation | None, int, bool, Info]:
        if self.done:
            raise RuntimeError("the run is over: reset() first")
        elapsed = self.clock() - self._epoch_started
        try:
            if elapsed > self.epoch_tlim + self.grace_s:
                raise InvalidSolution(
                    f"answered after {elapsed:.2f} s > epoch_tlim {self.epoch_tlim} s"
                )
            driving = validate(self.epoch_instance, routes)
        except InvalidSolution as exc:
            self.done = True
            self.error = str(exc)
            return None, 0, True, {"error": self.error}
        self.solutions[self.current_epoch] = [[int(r) for r in route] for route in routes]
        for route in routes:
            self._dispatched[np.asarray(route, dtype=np.int64)] = True
        self.total_reward -= driving
        self.current_epoch += 1
        self.done = self.current_epoch > self.end_epoch
        obs = None if self.done else self._observe()
        return obs, -driving, self.done, {"error": None}

    @property
    def planning_starttime(self) -> int:
        if self.is_static:
            return 0
        return self.current_epoch * EPOCH_S + DISPATCH_MARGIN_S

    @property
    def num_requests(self) -> int:
        """Requests revealed so far (the depot not counted)."""
        return len(self._customer) - 1

    # -- the mechanics ------------------------------------------------------------------------

    def _observe(self) -> Observation:
        self._reveal()
        inst = self.instance
        start = self.planning_starttime
        idx = np.flatnonzero(~self._dispatched)  # the depot (0) is never dispatched
        cust = self._customer[idx]
        # Times relative to the planning start; windows already open become 0.
        tw = np.clip(self._tw[idx] - start, 0, None)
        self.epoch_instance = {
            "is_depot": idx == 0,
            "customer_idx": cust,
            "request_idx": idx.astype(np.int64),
            "coords": inst.coords[cust],
            "demands": self._demand[idx],
            "capacity": inst.capacity,
            "time_windows": tw,
            "service_times": self._service[idx],
            "duration_matrix": inst.duration_matrix[np.ix_(cust, cust)],
            "must_dispatch": self._must_dispatch()[idx],
        }
        self._epoch_started = self.clock()
        return {
            "current_epoch": self.current_epoch,
            "current_time": 0 if self.is_static else self.current_epoch * EPOCH_S,
            "planning_starttime": start,
            "epoch_instance": self.epoch_instance,
        }

    def _reveal(self) -> None:
        inst = self.instance
        if self.is_static:
            cust = np.arange(1, inst.num_customers + 1, dtype=np.int64)
            self._append(cust, cust, cust, cust)
            return
        n = inst.num_customers
        k = self.max_requests_per_epoch
        cust = self._rng.integers(n, size=k) + 1
        tw_idx = self._rng.integers(n, size=k) + 1
        demand_idx = self._rng.integers(n, size=k) + 1
        service_idx = self._rng.integers(n, size=k) + 1
        reachable = (
            self.planning_starttime + inst.duration_matrix[0, cust] <= inst.time_windows[tw_idx, 1]
        )
        self._append(
            cust[reachable], tw_idx[reachable], demand_idx[reachable], service_idx[reachable]
        )

    def _append(
        self, cust: IntArray, tw_idx: IntArray, demand_idx: IntArray, svc: IntArray
    ) -> None:
        inst = self.instance
        self._customer = np.concatenate((self._customer, cust))
        self._tw = np.concatenate((self._tw, inst.time_windows[tw_idx]))
        self._demand = np.concatenate((self._demand, inst.demands[demand_idx]))
        self._service = np.concatenate((self._service, inst.service_times[svc]))
        self._dispatched = np.concatenate((self._dispatched, np.zeros(len(cust), dtype=bool)))
        epoch = np.full(len(cust), self.current_epoch, dtype=np.int64)
        self._epoch_of = np.concatenate((self._epoch_of, epoch))

    def _must_dispatch(self) -> BoolArray:
        if self.current_epoch >= self.end_epoch:
            must = ~self._dispatched
        else:
            next_start = self.planning_starttime + EPOCH_S
            reach = next_start + self.instance.duration_matrix[0, self._customer]
            must = (reach > self._tw[:, 1]) & ~self._dispatched
        must[0] = False
        return must


# -- the controller -----------------------------------------------------------------------------


def dumps(obj: Any) -> bytes:
    """One protocol line: JSON with numpy arrays as lists, newline-terminated."""
    return orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_APPEND_NEWLINE)


@dataclass(frozen=True)
class ControllerResult:
    """How a controlled run ended: ``cost`` is the total driving duration."""

    cost: int
    rewards: tuple[int, ...]
    epochs: int
    error: str | None
    returncode: int | None

    @property
    def ok(self) -> bool:
        return self.error is None and self.returncode == 0


def run_controller(
    env: Environment,
    command: Sequence[str],
    *,
    startup_timeout_s: float = 120.0,
    env_vars: Mapping[str, str] | None = None,
) -> ControllerResult:
    """Run ``env`` against the agent started by ``command``: the agent writes one JSON
    request per line on its stdout and reads each answer on its stdin."""
    proc = subprocess.Popen(
        list(command),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=dict(env_vars) if env_vars is not None else None,
    )
    assert proc.stdin is not None and proc.stdout is not None
    lines: queue.Queue[bytes] = queue.Queue()
    out = proc.stdout

    def pump() -> None:
        # A thread, so a silent agent cannot block the controller past its deadline.
        for line in out:
            lines.put(line)
        lines.put(b"")

    threading.Thread(target=pump, daemon=True).start()
    rewards: list[int] = []
    error: str | None = None
    timeout = startup_timeout_s
    try:
        while True:
            try:
                raw = lines.get(timeout=timeout)
            except queue.Empty:
                error = "the agent did not answer in time"
                break
            if not raw:
                error = None if env.done and not env.error else "the agent exited early"
                break
            try:
                msg = orjson.loads(raw)
                action = msg["action"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                error = f"unreadable request: {raw[:200]!r}"
                break
            if action == "reset":
                obs, info = env.reset()
                reply: dict[str, Any] = {"observation": obs, "info": info}
            elif action == "step" and not env.done:
                obs_or_none, reward, done, info = env.step(msg.get("data"))
                rewards.append(reward)
                reply = {"observation": obs_or_none, "reward": reward, "done": done, "info": info}
            else:
                error = f"unexpected action {action!r}"
                break
            proc.stdin.write(dumps(reply))
            proc.stdin.flush()
            if env.error:
                error = env.error
                break
            timeout = env.epoch_tlim + env.grace_s + 5.0
            if env.done:
                timeout = 30.0  # only the agent's exit is left
    finally:
        with contextlib.suppress(BrokenPipeError, OSError):
            proc.stdin.close()
        try:
            returncode: int | None = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            returncode = None
    return ControllerResult(
        cost=-env.total_reward,
        rewards=tuple(rewards),
        epochs=len(rewards),
        error=error,
        returncode=returncode,
    )
