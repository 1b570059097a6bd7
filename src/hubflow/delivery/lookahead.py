"""The ``sampling`` dispatch policy on a live region: each hub's parcels become an epoch
state for :class:`hubflow.delivery.policy.SamplingPolicy`, whose futures are drawn from
the hub's own recent parcels (where they went, how their windows looked, how many came
per epoch). The policy then says which parcels leave now; the rest wait an epoch."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from hubflow.delivery.policy import EpochState, Request, SamplingPolicy
from hubflow.delivery.snapshot import Free, Parcel, Recent, Snapshot
from hubflow.delivery.travel import TravelProfile, TravelProvider

__all__ = ["HistorySampler", "select_by_sampling"]


@dataclass(frozen=True)
class HistorySampler:
    """Future parcels at the recent rate (Poisson per epoch), each like a recent one.

    ``pool[i]`` sits at matrix location ``first_location + i``."""

    pool: Sequence[Recent]
    first_location: int
    per_epoch: float
    epoch_s: int
    service_s: int

    def sample(self, planning_start_s: int, epochs: int, rng: np.random.Generator) -> list[Request]:
        out: list[Request] = []
        if not self.pool or self.per_epoch <= 0:
            return out
        for e in range(1, epochs + 1):
            release = planning_start_s + e * self.epoch_s
            for k in rng.integers(0, len(self.pool), size=int(rng.poisson(self.per_epoch))):
                r = self.pool[int(k)]
                early = release + r.opens_after_s
                out.append(
                    Request(
                        id=0,
                        location=self.first_location + int(k),
                        demand=1,
                        tw_early=early,
                        tw_late=early + r.window_s,
                        service_s=self.service_s,
                        release_s=release,
                    )
                )
        return out


def _hub_state(
    snap: Snapshot,
    hub_id: str,
    parcels: list[Parcel],
    frees: list[Free],
    travel: TravelProvider,
    epoch_s: int,
    service_s: int,
    must: Callable[[Parcel], bool],
) -> EpochState:
    now = snap.now
    # The hub's biggest ground vehicle stands for the fleet in the scenarios.
    ground = [f for f in frees if f.spec.capacity_parcels > 1] or frees
    lead = max(ground, key=lambda f: f.spec.capacity_parcels)
    pool = snap.recent.get(hub_id, [])
    points = [snap.hubs[hub_id].point, *(p.point for p in parcels), *(r.point for r in pool)]
    s = lead.spec
    _, durations = travel.matrices(
        points, TravelProfile(s.mode.value, s.speed_kmh, s.circuity, s.straight_line)
    )

    def secs(at: datetime) -> int:
        return max(0, math.ceil((at - now).total_seconds()))

    requests = tuple(
        Request(
            id=i,
            location=i + 1,
            demand=1,
            tw_early=min(secs(p.window[0]), secs(p.window[1])),
            tw_late=max(secs(p.window[1]), 1),
            service_s=service_s + p.service_extra_s,
            must_dispatch=must(p),
            release_s=secs(p.ready_at),
        )
        for i, p in enumerate(parcels)
    )
    horizon = max(secs(f.end) for f in frees)
    sampler = HistorySampler(
        pool, 1 + len(parcels), snap.rate.get(hub_id, 0.0) * epoch_s, epoch_s, service_s
    )
    return EpochState(
        requests=requests,
        durations=durations,
        depot=0,
        capacity=s.capacity_parcels,
        planning_start_s=0,
        horizon_end_s=max(horizon, 1),
        epoch_s=epoch_s,
        sampler=sampler,
    )


def select_by_sampling(
    snap: Snapshot,
    parcels: list[Parcel],
    travel: TravelProvider,
    *,
    epoch_s: int,
    time_limit_s: float,
    seed: int,
    service_s: int,
    must: Callable[[Parcel], bool],
) -> set[str]:
    """The parcels that leave now, hub by hub; a hub without free vehicles sends all
    (the cascade decides), and the time limit is shared among the hubs."""
    by_hub: dict[str, list[Parcel]] = {}
    for p in parcels:
        by_hub.setdefault(p.hub_id, []).append(p)
    frees: dict[str, list[Free]] = {}
    for f in [*snap.free, *(u.free for u in snap.under_way)]:
        frees.setdefault(f.hub_id, []).append(f)
    policy = SamplingPolicy()
    rng = np.random.default_rng(seed)
    chosen: set[str] = set()
    share = time_limit_s / max(1, len(by_hub))
    for hub_id, mine in sorted(by_hub.items()):
        if not frees.get(hub_id):
            chosen.update(p.id for p in mine)
            continue
        state = _hub_state(snap, hub_id, mine, frees[hub_id], travel, epoch_s, service_s, must)
        picked = policy.select(state, time_limit_s=share, rng=rng)
        chosen.update(mine[i].id for i in picked)
    return chosen
