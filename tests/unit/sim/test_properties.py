"""Hypothesis: the generator's exact split and the staff model's timing rules."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from hubflow.sim.generate import spread
from hubflow.sim.scenario import Staff
from hubflow.sim.staff import HubStaff

TZ = ZoneInfo("America/Los_Angeles")
MIDNIGHT = datetime.combine(datetime(2026, 11, 24).date(), time(0), TZ).astimezone(UTC)


@given(
    st.integers(0, 100_000),
    st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=30).filter(
        lambda w: sum(w) > 0
    ),
)
def test_spread_is_exact_and_within_one_of_the_share(total: int, weights: list[float]) -> None:
    out = spread(total, weights)
    assert sum(out) == total and min(out) >= 0
    for n, w in zip(out, weights, strict=True):
        assert abs(n - total * w / sum(weights)) < 1 + 1e-9


@given(
    st.integers(1, 5),
    st.lists(st.tuples(st.integers(0, 47 * 60), st.integers(1, 6)), min_size=1, max_size=40),
)
def test_staff_finish_after_the_work_within_shifts(
    pickers: int, jobs: list[tuple[int, int]]
) -> None:
    staff = HubStaff(Staff(pickers, 60, 30, ("07:00", "22:00")), TZ, MIDNIGHT)
    for minute, lines in sorted(jobs):
        at = MIDNIGHT + timedelta(minutes=minute)
        took = staff.picking(lines * 20_000, lines) + staff.packing(1)
        span = staff.start(at, took)
        assert span is not None
        begin, done = span
        assert begin >= at and done - begin == took
        local = begin.astimezone(TZ)
        assert time(7) <= local.time() < time(22)  # work starts within a shift
