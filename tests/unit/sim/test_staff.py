"""Hub staff as servers: shifts, queues and rates."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hubflow.sim.scenario import Staff
from hubflow.sim.staff import HubStaff

TZ = ZoneInfo("America/Los_Angeles")
MIDNIGHT = datetime.combine(datetime(2026, 11, 24).date(), time(0), TZ).astimezone(UTC)


def _at(hour: float) -> datetime:
    return MIDNIGHT + timedelta(hours=hour)


def test_one_picker_serves_in_turn_at_the_rate() -> None:
    staff = HubStaff(Staff(1, 60, 60, ("08:00", "20:00")), TZ, MIDNIGHT)
    first = staff.assign(_at(9), lines=2)  # 2 lines at 60 an hour + 1 minute packing
    assert first == _at(9) + timedelta(minutes=3)
    second = staff.assign(_at(9), lines=1)  # waits for the first
    assert second == first + timedelta(minutes=2) if first else False


def test_work_waits_for_the_shift() -> None:
    staff = HubStaff(Staff(2, 120, 30, ("08:00", "20:00")), TZ, MIDNIGHT)
    assert staff.assign(_at(6), lines=1) == _at(8) + timedelta(seconds=60)
    late = staff.assign(_at(21), lines=1)
    assert late == _at(24 + 8) + timedelta(seconds=60)  # the next morning


def test_no_pickers_no_packing() -> None:
    staff = HubStaff(Staff(0, 60, 60, ("08:00", "20:00")), TZ, MIDNIGHT)
    assert staff.assign(_at(9), lines=1) is None
