"""Hub staff as servers: shifts, queues, and the time a cart's route and its parcels take."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hubflow.sim.scenario import Staff
from hubflow.sim.staff import HubStaff

TZ = ZoneInfo("America/Los_Angeles")
MIDNIGHT = datetime.combine(datetime(2026, 11, 24).date(), time(0), TZ).astimezone(UTC)


def _at(hour: float) -> datetime:
    return MIDNIGHT + timedelta(hours=hour)


def test_a_cart_takes_its_walk_and_its_lines() -> None:
    staff = HubStaff(Staff(1, 60, 30, ("08:00", "20:00"), walk_m_per_s=1.0), TZ, MIDNIGHT)
    # 120 m at 1 m/s and two lines at 60 an hour: four minutes; two parcels one more.
    assert staff.picking(120_000, 2) == timedelta(minutes=4)
    assert staff.packing(2) == timedelta(minutes=1)


def test_one_picker_serves_in_turn() -> None:
    staff = HubStaff(Staff(1, 60, 60, ("08:00", "20:00")), TZ, MIDNIGHT)
    assert staff.free_at(_at(9)) == 1
    first = staff.start(_at(9), timedelta(minutes=3))
    assert first == (_at(9), _at(9) + timedelta(minutes=3))
    assert staff.free_at(_at(9)) == 0
    assert staff.next_free(_at(9)) == _at(9) + timedelta(minutes=3)
    second = staff.occupy(_at(9), timedelta(minutes=2))  # waits for the first
    assert second == _at(9) + timedelta(minutes=5)


def test_work_waits_for_the_shift() -> None:
    staff = HubStaff(Staff(2, 120, 30, ("08:00", "20:00")), TZ, MIDNIGHT)
    assert staff.free_at(_at(6)) == 0 and staff.next_free(_at(6)) == _at(8)
    assert staff.occupy(_at(6), timedelta(minutes=1)) == _at(8) + timedelta(minutes=1)
    late = staff.occupy(_at(21), timedelta(minutes=1))
    assert late == _at(24 + 8) + timedelta(minutes=1)  # the next morning


def test_no_pickers_no_work() -> None:
    staff = HubStaff(Staff(0, 60, 60, ("08:00", "20:00")), TZ, MIDNIGHT)
    assert staff.start(_at(9), timedelta(minutes=1)) is None
    assert staff.next_free(_at(9)) is None and staff.free_at(_at(9)) == 0
