"""Hub staff as servers: each picker takes the next shipment when free, within the
shift, and picks and packs it at the scenario's rates (simulated durations)."""

from __future__ import annotations

import heapq
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from hubflow.sim.scenario import Staff

__all__ = ["HubStaff", "clock_time"]


def clock_time(hhmm: str) -> timedelta:
    """A local ``HH:MM`` as the time since midnight."""
    h, m = hhmm.split(":")
    return timedelta(hours=int(h), minutes=int(m))


class HubStaff:
    """Pickers of one hub; ``assign`` answers when a shipment will be packed."""

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

    def _on_shift(self, when: datetime) -> datetime:
        """``when`` if staff work then, else the start of the next shift."""
        start, end = self._shift(when)
        if when < start:
            return start
        if when >= end:
            nxt = self._shift(when + timedelta(days=1))[0]
            return nxt
        return when

    def duration(self, lines: int) -> timedelta:
        s = self.staff
        return timedelta(seconds=lines * 3600 / s.pick_lines_per_hour + s.pack_seconds)

    def assign(self, now: datetime, lines: int) -> datetime | None:
        return self.occupy(now, self.duration(lines))

    def receiving(self, units: int) -> timedelta:
        return timedelta(hours=units / self.staff.receive_units_per_hour)

    def occupy(self, now: datetime, took: timedelta) -> datetime | None:
        """The next free picker does ``took`` of work; when it is done (``None``: no staff)."""
        if not self.free:
            return None
        free = heapq.heappop(self.free)
        begin = self._on_shift(max(now, free))
        done = begin + took
        self.busy_s += took.total_seconds()
        heapq.heappush(self.free, done)
        return done
