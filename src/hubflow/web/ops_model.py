"""What the operator's pages compute (pure): late-risk flags, KPI figures, and where a
vehicle was over a replayed day."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from hubflow.core.geo import LatLng, haversine_km

__all__ = ["Risk", "Visit", "hourly", "late_risk", "on_time_rate", "vehicle_track"]

AT_RISK_MARGIN = timedelta(minutes=30)
DONE = frozenset({"delivered", "cancelled", "returned_to_hub", "in_locker", "awaiting_pickup"})


class Risk(StrEnum):
    ON_TIME = "on_time"
    AT_RISK = "at_risk"
    LATE = "late"


def late_risk(now: datetime, deadline: datetime, eta: datetime | None, status: str) -> Risk:
    """Late when the deadline has passed undelivered; at risk when the ETA misses it,
    or when no ETA exists and less than the margin is left."""
    if status in DONE:
        return Risk.ON_TIME
    if now > deadline:
        return Risk.LATE
    if eta is not None:
        return Risk.AT_RISK if eta > deadline else Risk.ON_TIME
    return Risk.AT_RISK if deadline - now < AT_RISK_MARGIN else Risk.ON_TIME


def on_time_rate(deliveries: Iterable[tuple[datetime, datetime]]) -> float | None:
    """Share of (delivered at, deadline) pairs on time; ``None`` with nothing delivered."""
    pairs = list(deliveries)
    if not pairs:
        return None
    return sum(1 for at, deadline in pairs if at <= deadline) / len(pairs)


def hourly(times: Iterable[datetime], now: datetime, hours: int = 12) -> list[int]:
    """Counts per hour over the last ``hours`` hours, oldest first."""
    counts = [0] * hours
    for t in times:
        age = int((now - t).total_seconds() // 3600)
        if 0 <= age < hours:
            counts[hours - 1 - age] += 1
    return counts


@dataclass(frozen=True)
class Visit:
    """A stop a route reached: where, on which trip, when it arrived and left."""

    trip: int
    at: LatLng
    arrived_at: datetime
    done_at: datetime | None


Waypoint = tuple[datetime, LatLng]


def vehicle_track(
    hub: LatLng, started_at: datetime, completed_at: datetime | None, visits: Sequence[Visit]
) -> list[Waypoint]:
    """Where a route's vehicle was, as waypoints to interpolate between: it leaves the hub
    when the route starts, waits at each stop from arrival until the parcel is done, goes
    back to the hub between trips (at the time the two legs' lengths suggest: the data
    records no reload time) and ends at the hub when the route is completed. Times never
    go back, whatever the records say."""
    track: list[Waypoint] = [(started_at, hub)]

    def add(at: datetime, where: LatLng) -> None:
        track.append((max(at, track[-1][0]), where))

    ordered = sorted(visits, key=lambda x: x.arrived_at)
    trip = ordered[0].trip if ordered else 0
    for v in ordered:
        if v.trip != trip:
            t0, here = track[-1]
            out, back = haversine_km(here, hub), haversine_km(hub, v.at)
            share = out / (out + back) if out + back > 0 else 0.5
            add(t0 + (max(v.arrived_at, t0) - t0) * share, hub)
            trip = v.trip
        add(v.arrived_at, v.at)
        if v.done_at is not None and v.done_at > v.arrived_at:
            add(v.done_at, v.at)
    if completed_at is not None:
        add(completed_at, hub)
    return track
