"""What the operator's dashboard computes (pure): late-risk flags and KPI figures."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum

__all__ = ["Risk", "hourly", "late_risk", "on_time_rate"]

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
