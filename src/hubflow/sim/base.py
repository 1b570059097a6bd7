"""The twin's shared state and what every part of it uses: the simulated clock, the
event heap, the seeded random stream, the recorder, and one unit of work per step."""

from __future__ import annotations

import heapq
import itertools
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from hubflow.core.clock import ManualClock
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import HubflowError
from hubflow.delivery.dispatch import DispatchConfig
from hubflow.promise.model import PromiseConfig
from hubflow.sim.recorder import Recorder
from hubflow.sim.scenario import Scenario
from hubflow.sim.staff import HubStaff, PickQueue
from hubflow.sim.world import Customer, World

__all__ = ["P_EPOCH", "P_FIRST", "P_WORLD", "Drive", "Handler", "TwinBase"]

Handler = Callable[..., None]

# Event priorities at one instant: routes leave and stops happen before the planner runs.
P_FIRST, P_WORLD, P_EPOCH = -1, 0, 5


@dataclass
class Drive:
    """A route on the road: where the vehicle is and how it moves."""

    rid: str
    hub: tuple[float, float]
    pos: tuple[float, float]
    speed_kmh: float
    circuity: float
    service_s: float
    retries: int = 0


@dataclass
class TwinBase:
    engine: Engine
    sc: Scenario
    seed: int
    on_progress: Callable[[float], None] = lambda _f: None
    rec: Recorder = field(default_factory=Recorder)

    def __post_init__(self) -> None:
        sc = self.sc
        self.rng = random.Random(f"hubflow-twin-{self.seed}")
        self.tz = ZoneInfo(sc.timezone)
        self.midnight = datetime.combine(sc.date, time(0), self.tz).astimezone(UTC)
        self.start = self.midnight + timedelta(hours=sc.start_hour)
        self.horizon = self.midnight + timedelta(days=sc.days)
        self.clock = ManualClock(self.start - timedelta(hours=1))
        self.queue: list[tuple[datetime, int, int, Handler, tuple[Any, ...]]] = []
        self.seq = itertools.count()
        self.dcfg = DispatchConfig(
            epoch_s=sc.delivery.epoch_minutes * 60,
            time_limit_s=sc.delivery.planner_time_limit_s,
            policy=sc.delivery.policy,
            seed=self.seed,
            max_iterations=sc.delivery.planner_iterations,
            planner_workers=sc.delivery.planner_workers or os.cpu_count() or 1,
            horizon_s=round(sc.delivery.horizon_hours * 3600),
        )
        self.pcfg = PromiseConfig()
        self.world = World()
        self.customers: list[Customer] = []
        self.reach: dict[int, list[str]] = {}  # customer -> hub keys that deliver there
        self.staff: dict[str, HubStaff] = {}
        self.queues: dict[str, PickQueue] = {}  # hub id -> shipments waiting for a wave
        self.drives: dict[str, Drive] = {}
        self.starting: set[str] = set()
        self.carrier_booked: set[str] = set()
        self.offers_seen: set[str] = set()

    def at(self, when: datetime, fn: Handler, *args: Any, prio: int = P_WORLD) -> None:
        heapq.heappush(self.queue, (when, prio, next(self.seq), fn, args))

    @property
    def now(self) -> datetime:
        return self.clock.now()

    def hour(self, when: datetime | None = None) -> int:
        """Hours since local midnight of day one (the KPIs' hourly buckets)."""
        return int(((when or self.now) - self.midnight).total_seconds() // 3600)

    def _try(self, what: str, fn: Callable[[UnitOfWork], Any]) -> Any:
        """One unit of work; a refusal (a race, a changed state) is counted as
        ``what:error_code`` and answers ``None``."""
        try:
            with UnitOfWork(self.engine) as uow:
                out = fn(uow)
        except HubflowError as exc:
            self.rec.conflicts[f"{what}:{exc.code}"] += 1
            return None
        return out if out is not None else True
