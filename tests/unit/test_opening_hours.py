"""Opening hours: plain intervals, intervals across midnight, 24:00, DST change days
and hubs in different time zones."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from hubflow.core.geo import LatLng
from hubflow.network.model import DAYS, Hub, HubKind, OpeningHours, parse_hhmm

LA = ZoneInfo("America/Los_Angeles")


def local(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=LA)


def utc(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def hub(hours: OpeningHours, tz: str = "America/Los_Angeles") -> Hub:
    return Hub(
        id="hub_x",
        name="x",
        kind=HubKind.STORE,
        location=LatLng(47.6, -122.3),
        timezone=tz,
        hours=hours,
        capabilities=frozenset(),
        service_radius_km=10,
    )


# 2026-03-02 is a Monday.
MON = (2026, 3, 2)


def test_parse_hhmm() -> None:
    assert parse_hhmm("08:30") == time(8, 30)
    assert parse_hhmm("00:00") == time(0, 0)
    assert parse_hhmm("24:00") == time.max
    for bad in ("24:01", "25:00", "8", "ab:cd", "12:60"):
        with pytest.raises(ValueError):
            parse_hhmm(bad)


def test_plain_interval_start_inclusive_end_exclusive() -> None:
    h = OpeningHours({"mon": [("09:00", "17:00")]})
    assert not h.is_open(local(*MON, 8, 59, 59))
    assert h.is_open(local(*MON, 9, 0))
    assert h.is_open(local(*MON, 16, 59, 59))
    assert not h.is_open(local(*MON, 17, 0))
    assert not h.is_open(local(2026, 3, 3, 10))  # Tuesday has no hours


def test_several_intervals_in_a_day() -> None:
    h = OpeningHours({"mon": [("08:00", "12:00"), ("13:00", "18:00")]})
    assert h.is_open(local(*MON, 11, 59))
    assert not h.is_open(local(*MON, 12, 30))
    assert h.is_open(local(*MON, 13, 0))


def test_empty_week_is_never_open() -> None:
    h = OpeningHours()
    assert not any(h.is_open(local(*MON, hour)) for hour in range(24))


def test_interval_across_midnight() -> None:
    h = OpeningHours({"fri": [("22:00", "02:00")]})
    fri, sat = (2026, 3, 6), (2026, 3, 7)
    assert not h.is_open(local(*fri, 21, 59))
    assert h.is_open(local(*fri, 22, 0))
    assert h.is_open(local(*fri, 23, 59))
    assert h.is_open(local(*sat, 0, 0))  # Saturday has no hours of its own
    assert h.is_open(local(*sat, 1, 59))
    assert not h.is_open(local(*sat, 2, 0))
    assert not h.is_open(local(*sat, 22, 30))  # Saturday night is not Friday night
    assert not h.is_open(local(2026, 3, 6, 1, 0))  # Friday early hours come from Thursday


def test_sunday_night_runs_into_monday() -> None:
    h = OpeningHours({"sun": [("20:00", "03:00")]})
    assert h.is_open(local(*MON, 2, 59))
    assert not h.is_open(local(*MON, 3, 0))


def test_closing_at_24_00_covers_the_last_minute_of_the_day() -> None:
    h = OpeningHours({"mon": [("18:00", "24:00")]})
    assert h.is_open(local(*MON, 23, 59))
    assert h.is_open(local(*MON, 23, 59, 59, 999_999))
    assert not h.is_open(local(2026, 3, 3, 0, 0))  # Tuesday midnight: closed


def test_always_open() -> None:
    h = OpeningHours.always()
    assert set(h.week) == set(DAYS)
    for day in range(2, 9):
        for t in ((0, 0, 0, 0), (12, 0, 0, 0), (23, 59, 59, 999_999)):
            assert h.is_open(local(2026, 3, day, *t))


# -- Hub.is_open: UTC instants against local hours ------------------------------------


def test_hub_is_open_converts_utc_to_local_time() -> None:
    h = hub(OpeningHours({d: [("08:00", "20:00")] for d in DAYS}))
    # Winter: PST, UTC-8.
    assert not h.is_open(utc(2026, 3, 2, 15, 59))
    assert h.is_open(utc(2026, 3, 2, 16, 0))
    assert h.is_open(utc(2026, 3, 3, 3, 59))  # Monday 19:59 local, Tuesday in UTC
    assert not h.is_open(utc(2026, 3, 3, 4, 0))


def test_spring_forward_day_los_angeles() -> None:
    # 2026-03-08 02:00 PST jumps to 03:00 PDT.
    h = hub(OpeningHours({d: [("08:00", "20:00")] for d in DAYS}))
    assert not h.is_open(utc(2026, 3, 7, 15, 59))  # Sat 07:59 PST
    assert h.is_open(utc(2026, 3, 7, 16, 0))  # Sat 08:00 PST
    assert not h.is_open(utc(2026, 3, 8, 14, 59))  # Sun 07:59 PDT
    assert h.is_open(utc(2026, 3, 8, 15, 0))  # Sun 08:00 PDT
    assert h.is_open(utc(2026, 3, 9, 2, 59))  # Sun 19:59 PDT
    assert not h.is_open(utc(2026, 3, 9, 3, 0))  # Sun 20:00 PDT


def test_overnight_interval_across_the_spring_forward_gap() -> None:
    h = hub(OpeningHours({"sat": [("22:00", "04:00")]}))
    assert h.is_open(utc(2026, 3, 8, 6, 0))  # Sat 22:00 PST
    assert h.is_open(utc(2026, 3, 8, 9, 59))  # Sun 01:59 PST
    assert h.is_open(utc(2026, 3, 8, 10, 0))  # Sun 03:00 PDT (02:xx does not exist)
    assert h.is_open(utc(2026, 3, 8, 10, 59))  # Sun 03:59 PDT
    assert not h.is_open(utc(2026, 3, 8, 11, 0))  # Sun 04:00 PDT


def test_fall_back_day_los_angeles() -> None:
    # 2026-11-01 02:00 PDT falls back to 01:00 PST; 01:xx happens twice.
    twice = hub(OpeningHours({"sun": [("01:00", "02:00")]}))
    assert not twice.is_open(utc(2026, 11, 1, 7, 59))  # 00:59 PDT
    assert twice.is_open(utc(2026, 11, 1, 8, 30))  # 01:30 PDT
    assert twice.is_open(utc(2026, 11, 1, 9, 30))  # 01:30 PST, an hour later
    assert not twice.is_open(utc(2026, 11, 1, 10, 0))  # 02:00 PST

    overnight = hub(OpeningHours({"sat": [("22:00", "01:00")]}))
    assert overnight.is_open(utc(2026, 11, 1, 7, 59))  # Sun 00:59 PDT
    assert not overnight.is_open(utc(2026, 11, 1, 8, 0))  # Sun 01:00 PDT
    assert not overnight.is_open(utc(2026, 11, 1, 9, 0))  # Sun 01:00 PST

    daily = hub(OpeningHours({d: [("08:00", "20:00")] for d in DAYS}))
    assert not daily.is_open(utc(2026, 11, 1, 15, 59))  # Sun 07:59 PST
    assert daily.is_open(utc(2026, 11, 1, 16, 0))  # Sun 08:00 PST
    assert daily.is_open(utc(2026, 10, 31, 15, 0))  # Sat 08:00 PDT


def test_hubs_in_different_time_zones_at_the_same_instant() -> None:
    hours = OpeningHours({d: [("09:00", "17:00")] for d in DAYS})
    seattle = hub(hours, "America/Los_Angeles")
    new_york = hub(hours, "America/New_York")
    tokyo = hub(hours, "Asia/Tokyo")
    at = utc(2026, 3, 2, 15, 0)  # 07:00 Seattle, 10:00 New York, 00:00 Tuesday in Tokyo
    assert (seattle.is_open(at), new_york.is_open(at), tokyo.is_open(at)) == (
        False,
        True,
        False,
    )
    at = utc(2026, 3, 2, 23, 30)  # 15:30 Seattle, 18:30 New York, 08:30 Tuesday in Tokyo
    assert (seattle.is_open(at), new_york.is_open(at), tokyo.is_open(at)) == (
        True,
        False,
        False,
    )
    at = utc(2026, 3, 3, 0, 0)  # 16:00 Seattle, 19:00 New York, 09:00 Tuesday in Tokyo
    assert (seattle.is_open(at), new_york.is_open(at), tokyo.is_open(at)) == (
        True,
        False,
        True,
    )


def test_local_weekday_decides_not_utc_weekday() -> None:
    # Open only on Mondays; Monday 20:00 in Seattle is Tuesday 04:00 UTC.
    h = hub(OpeningHours({"mon": [("19:00", "21:00")]}))
    assert h.is_open(utc(2026, 3, 3, 4, 0))
    assert not h.is_open(utc(2026, 3, 2, 20, 0))  # Monday 12:00 local


def test_same_instant_in_any_offset_gives_the_same_answer() -> None:
    h = hub(OpeningHours({"mon": [("09:00", "17:00")]}))
    at = utc(2026, 3, 2, 18, 0)
    assert h.is_open(at)
    assert h.is_open(at.astimezone(ZoneInfo("Asia/Kolkata")))
    assert h.is_open(at.astimezone(LA))
