"""Hub staff as servers: each picker takes the next piece of work when free, within the
shift. The work itself comes from the hub's real tasks: a cart's pick route (walked at the
scenario's pace, plus the time at the shelf per line) and packing its parcels, or putting
a truck away."""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from hubflow.fulfillment.outbound import Planner
from hubflow.sim.scenario import Staff

__all__ = ["HubStaff", "PickQueue", "clock_time"]


@dataclass
class PickQueue:
    """A hub's shipments waiting for a wave, by when they are due packed, and the next
    time the hub means to release one."""

    waiting: list[tuple[datetime, str]] = field(default_factory=list)  # (due, shipment id)
    tick: datetime | None = None
    planner: Planner | None = None  # the hub's layout read once


def clock_time(hhmm: str) -> timedelta:
    """A local ``HH:MM`` as the time since midnight."""
    h, m = hhmm.split(":")
    return timedelta(hours=int(h), minutes=int(m))


class HubStaff:
    """Pickers of one hub: who is free when, and how long the hub's work takes them."""

    def __init__(self, staff: Staff, tz: ZoneInfo, midnight: datetime) -> None:
        self.staff = staff
        self.tz = tz
        self.free: list[datetime] = [midnight] * staff.pickers
        heapq.heapify(self.free)
        self.busy_s = 0.0

    def _shift(self, when: datetime) -> tuple[datetime, datetime]:
        local = when.astimezone(self.tz)
        day = datetime.combine(local.date(), time(0), self.tz)
        return day + clock_time(self.staff.shift[0]), day + clock_time(self.staff.shift[1])

    def on_shift(self, when: datetime) -> datetime:
        """``when`` if staff work then, else the start of the next shift."""
        start, end = self._shift(when)
        if when < start:
            return start
        if when >= end:
            return self._shift(when + timedelta(days=1))[0]
        return when

    def picking(self, walk_mm: int, lines: int) -> timedelta:
        """A cart's round: the route walked at the staff's pace and each line at the shelf."""
        s = self.staff
        return timedelta(
            seconds=walk_mm / 1000 / s.walk_m_per_s + lines * 3600 / s.pick_lines_per_hour
        )

    def packing(self, parcels: int) -> timedelta:
        return timedelta(seconds=parcels * self.staff.pack_seconds)

    def receiving(self, units: int) -> timedelta:
        return timedelta(hours=units / self.staff.receive_units_per_hour)

    def free_at(self, now: datetime) -> int:
        """Pickers free to start now (none off shift)."""
        if self.on_shift(now) != now:
            return 0
        return sum(1 for f in self.free if f <= now)

    def next_free(self, now: datetime) -> datetime | None:
        """When a picker is next free to start work (``None``: the hub has no staff)."""
        if not self.free:
            return None
        return self.on_shift(max(now, self.free[0]))

    def start(self, now: datetime, took: timedelta) -> tuple[datetime, datetime] | None:
        """The next free picker does ``took`` of work: when it begins and when it is done
        (``None``: no staff)."""
        if not self.free:
            return None
        free = heapq.heappop(self.free)
        begin = self.on_shift(max(now, free))
        done = begin + took
        self.busy_s += took.total_seconds()
        heapq.heappush(self.free, done)
        return begin, done

    def occupy(self, now: datetime, took: timedelta) -> datetime | None:
        """Like :meth:`start`, answering only when the work is done."""
        span = self.start(now, took)
        return None if span is None else span[1]
