"""Promise time maths: opening intervals, ready times, cutoffs and windows, exactly at the
cutoff instant, across midnight, on both 2026 DST change days in Los Angeles, and for
hubs in two time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from hubflow.catalog.model import Temperature
from hubflow.network.model import DAYS
from hubflow.promise.model import (
    CartFacts,
    HubCalendar,
    HubPromise,
    Offer,
    OptionCode,
    Reason,
    hour_slot,
    latest_order,
    local_at,
    local_date,
    modes_for,
    offer_for,
    open_intervals,
    ready_at,
    slot_for,
    week_minutes,
)

LA = ZoneInfo("America/Los_Angeles")
DENVER = ZoneInfo("America/Denver")
KOLKATA = ZoneInfo("Asia/Kolkata")
H = 3600.0
ALWAYS = {d: [["00:00", "24:00"]] for d in DAYS}
STORE = {d: [["07:00", "22:00"]] for d in DAYS}
DARK = {d: [["06:00", "02:00"]] for d in DAYS}  # closes after midnight
LIGHT = CartFacts(2_000, 300, frozenset({Temperature.AMBIENT}), 1_000, "USD")
OC = OptionCode


def local(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def offer(
    option: OptionCode,
    at: datetime,
    *,
    hours: dict[str, list[list[str]]] = ALWAYS,
    tz: ZoneInfo = LA,
    p: HubPromise | None = None,
    km: float = 3.0,
    cart: CartFacts = LIGHT,
) -> Offer | Reason:
    now = at.timestamp()
    cal = HubCalendar.build(week_minutes(hours), tz, local_date(now, tz))
    return offer_for(option, cal, p or HubPromise(), km, modes_for(cart, option, km), now)


def ok(result: Offer | Reason) -> Offer:
    assert isinstance(result, Offer), result
    return result


def ts(dt: datetime) -> float:
    return dt.timestamp()


# -- local time to UTC ---------------------------------------------------------------------


def test_local_days_are_23_and_25_hours_on_the_dst_change_days() -> None:
    spring, fall = date(2026, 3, 8), date(2026, 11, 1)
    assert local_at(spring, 1440, LA) - local_at(spring, 0, LA) == 23 * H
    assert local_at(fall, 1440, LA) - local_at(fall, 0, LA) == 25 * H
    assert local_at(date(2026, 3, 9), 1440, LA) - local_at(date(2026, 3, 9), 0, LA) == 24 * H


def test_a_skipped_wall_time_maps_past_the_gap() -> None:
    # 02:30 does not exist on 8 March 2026 in Los Angeles: it is read as 03:30 PDT.
    d = date(2026, 3, 8)
    assert local_at(d, 150, LA) == local_at(d, 210, LA) == ts(utc(2026, 3, 8, 10, 30))


def test_twenty_four_hundred_is_the_next_midnight() -> None:
    d = date(2026, 3, 2)
    assert local_at(d, 1440, LA) == local_at(date(2026, 3, 3), 0, LA) == ts(utc(2026, 3, 3, 8))


# -- opening intervals ---------------------------------------------------------------------


def test_always_open_days_merge_into_one_interval() -> None:
    ivs = open_intervals(week_minutes(ALWAYS), LA, date(2026, 3, 2), 3)
    assert ivs == ((ts(utc(2026, 3, 2, 8)), ts(utc(2026, 3, 5, 8))),)


def test_an_interval_may_close_after_midnight() -> None:
    ivs = open_intervals(week_minutes(DARK), LA, date(2026, 3, 2), 2)
    assert ivs[0] == (ts(local(LA, 2026, 3, 2, 6)), ts(local(LA, 2026, 3, 3, 2)))
    assert ivs[1][0] == ts(local(LA, 2026, 3, 3, 6))


def test_store_hours_on_the_spring_forward_day() -> None:
    ivs = open_intervals(week_minutes(STORE), LA, date(2026, 3, 7), 2)
    assert ivs[0] == (ts(utc(2026, 3, 7, 15)), ts(utc(2026, 3, 8, 6)))  # PST
    assert ivs[1] == (ts(utc(2026, 3, 8, 14)), ts(utc(2026, 3, 9, 5)))  # PDT


def test_ready_at_waits_for_the_next_opening_when_the_lead_does_not_fit() -> None:
    ivs = open_intervals(week_minutes(STORE), LA, date(2026, 3, 1), 4)
    at = ts(local(LA, 2026, 3, 2, 21, 45))
    ready = ready_at(ivs, at, 30 * 60)
    assert ready == (ts(local(LA, 2026, 3, 3, 7, 30)), ts(local(LA, 2026, 3, 3, 22)))
    early = ready_at(ivs, ts(local(LA, 2026, 3, 2, 21, 0)), 30 * 60)
    assert early is not None and early[0] == ts(local(LA, 2026, 3, 2, 21, 30))


def test_latest_order_for_a_ready_by_time() -> None:
    ivs = open_intervals(week_minutes(STORE), LA, date(2026, 3, 1), 4)
    by = ts(local(LA, 2026, 3, 3, 9))  # ready by 09:00 Tuesday
    assert latest_order(ivs, 30 * 60, by) == ts(local(LA, 2026, 3, 3, 8, 30))
    by = ts(local(LA, 2026, 3, 3, 7, 15))  # before Tuesday's opening + lead: Monday's close
    assert latest_order(ivs, 30 * 60, by) == ts(local(LA, 2026, 3, 2, 21, 30))


# -- cutoffs at the exact instant ----------------------------------------------------------


def test_same_day_one_second_before_and_at_the_cutoff() -> None:
    o = ok(offer(OC.SAME_DAY, local(LA, 2026, 3, 2, 13, 59, 59)))
    assert o.cutoff == ts(local(LA, 2026, 3, 2, 14))
    assert (o.window_from, o.window_to) == (
        ts(local(LA, 2026, 3, 2, 17)),
        ts(local(LA, 2026, 3, 2, 21)),
    )
    assert offer(OC.SAME_DAY, local(LA, 2026, 3, 2, 14)) is Reason.CUTOFF_PASSED


def test_next_day_before_and_at_the_cutoff() -> None:
    o = ok(offer(OC.NEXT_DAY, local(LA, 2026, 3, 2, 19, 59)))
    assert o.cutoff == ts(local(LA, 2026, 3, 2, 20))
    assert o.window_from == ts(local(LA, 2026, 3, 3, 9))
    assert o.window_to == ts(local(LA, 2026, 3, 3, 21))
    assert offer(OC.NEXT_DAY, local(LA, 2026, 3, 2, 20)) is Reason.CUTOFF_PASSED


def test_standard_leaves_a_day_later_once_the_cutoff_passed() -> None:
    before = ok(offer(OC.STANDARD_2D, local(LA, 2026, 3, 2, 19, 59)))
    assert before.window_from == ts(local(LA, 2026, 3, 4, 9))
    assert before.cutoff == ts(local(LA, 2026, 3, 2, 20))
    after = ok(offer(OC.STANDARD_2D, local(LA, 2026, 3, 2, 20)))
    assert after.window_from == ts(local(LA, 2026, 3, 5, 9))
    assert after.cutoff == ts(local(LA, 2026, 3, 3, 20))


def test_express_cutoff_is_closing_less_pick_pack() -> None:
    o = ok(offer(OC.EXPRESS_2H, local(LA, 2026, 3, 2, 21, 29), hours=STORE))
    assert o.cutoff == ts(local(LA, 2026, 3, 2, 21, 30))
    assert o.window_to - o.window_from == 2 * H
    assert o.arrive_to < o.window_to
    assert offer(OC.EXPRESS_2H, local(LA, 2026, 3, 2, 21, 30), hours=STORE) in (
        Reason.CUTOFF_PASSED,
        Reason.HUB_CLOSED,
    )


def test_express_before_opening_if_it_still_arrives_within_two_hours() -> None:
    # Opens 07:00, ready 07:30, a 3 km bike ride (20 min) arrives 07:50 < 08:00.
    o = ok(offer(OC.EXPRESS_2H, local(LA, 2026, 3, 2, 6, 0), hours=STORE))
    assert o.ready_at == ts(local(LA, 2026, 3, 2, 7, 30))
    # ...and the cutoff is the last order that still arrives before 08:00.
    assert o.cutoff == ts(local(LA, 2026, 3, 2, 7, 10))
    assert offer(OC.EXPRESS_2H, local(LA, 2026, 3, 2, 4, 0), hours=STORE) is Reason.HUB_CLOSED


def test_express_too_far_for_every_express_mode() -> None:
    assert offer(OC.EXPRESS_2H, local(LA, 2026, 3, 2, 12), km=50) is Reason.TOO_FAR
    assert isinstance(offer(OC.NEXT_DAY, local(LA, 2026, 3, 2, 12), km=50), Offer)


def test_cutoffs_are_whole_minutes() -> None:
    o = ok(offer(OC.EXPRESS_2H, local(LA, 2026, 3, 2, 12, 0, 13), km=4.2))
    assert o.cutoff % 60 == 0
    assert o.cutoff > ts(local(LA, 2026, 3, 2, 12, 0, 13))


# -- midnight ------------------------------------------------------------------------------


def test_express_after_midnight_from_an_interval_that_opened_yesterday() -> None:
    p = HubPromise(pick_pack_minutes=20)
    o = ok(offer(OC.EXPRESS_2H, local(LA, 2026, 3, 3, 1, 0), hours=DARK, p=p))
    assert o.cutoff == ts(local(LA, 2026, 3, 3, 1, 40))
    assert offer(OC.EXPRESS_2H, local(LA, 2026, 3, 3, 1, 40), hours=DARK, p=p) in (
        Reason.CUTOFF_PASSED,
        Reason.HUB_CLOSED,
    )


def test_pickup_after_the_last_order_time_is_ready_next_opening() -> None:
    p = HubPromise(pick_pack_minutes=20)
    o = ok(offer(OC.PICKUP_IN_STORE, local(LA, 2026, 3, 3, 1, 50), hours=DARK, p=p))
    assert o.ready_at == ts(local(LA, 2026, 3, 3, 6, 20))
    assert o.window_to == ts(local(LA, 2026, 3, 4, 2))
    assert o.cutoff == ts(local(LA, 2026, 3, 4, 1, 40))
    # The slot is the local day the order is ready on.
    assert (o.slot_start, o.slot_end) == (
        ts(local(LA, 2026, 3, 3)),
        ts(local(LA, 2026, 3, 4)),
    )


def test_same_day_window_to_midnight() -> None:
    p = HubPromise(same_day_cutoff=22 * 60, same_day_window=(18 * 60, 1440))
    o = ok(offer(OC.SAME_DAY, local(LA, 2026, 3, 2, 21, 0), p=p))
    assert o.window_to == ts(local(LA, 2026, 3, 3, 0, 0))
    assert o.cutoff == ts(local(LA, 2026, 3, 2, 22))


def test_next_day_from_just_after_midnight_is_tomorrow_of_the_new_day() -> None:
    o = ok(offer(OC.NEXT_DAY, local(LA, 2026, 3, 3, 0, 5)))
    assert o.window_from == ts(local(LA, 2026, 3, 4, 9))
    assert o.cutoff == ts(local(LA, 2026, 3, 3, 20))


# -- DST -----------------------------------------------------------------------------------


def test_same_day_cutoff_on_the_spring_forward_day_is_in_pdt() -> None:
    o = ok(offer(OC.SAME_DAY, utc(2026, 3, 8, 20, 0)))  # 13:00 PDT
    assert o.cutoff == ts(utc(2026, 3, 8, 21, 0))  # 14:00 PDT, not 22:00 UTC
    assert o.window_from == ts(utc(2026, 3, 9, 0, 0))  # 17:00 PDT
    assert offer(OC.SAME_DAY, utc(2026, 3, 8, 21, 0)) is Reason.CUTOFF_PASSED


def test_next_day_window_across_the_spring_forward_night() -> None:
    o = ok(offer(OC.NEXT_DAY, local(LA, 2026, 3, 7, 19, 0)))  # Saturday 19:00 PST
    assert o.cutoff == ts(utc(2026, 3, 8, 4, 0))  # 20:00 PST
    assert o.window_from == ts(utc(2026, 3, 8, 16, 0))  # 09:00 PDT
    assert o.window_to == ts(utc(2026, 3, 9, 4, 0))  # 21:00 PDT


def test_next_day_window_across_the_fall_back_night() -> None:
    o = ok(offer(OC.NEXT_DAY, local(LA, 2026, 10, 31, 19, 0)))  # Saturday 19:00 PDT
    assert o.cutoff == ts(utc(2026, 11, 1, 3, 0))  # 20:00 PDT
    assert o.window_from == ts(utc(2026, 11, 1, 17, 0))  # 09:00 PST
    assert o.window_to == ts(utc(2026, 11, 2, 5, 0))  # 21:00 PST
    same = ok(offer(OC.SAME_DAY, utc(2026, 11, 1, 20, 0)))  # 12:00 PST on the fall-back day
    assert same.cutoff == ts(utc(2026, 11, 1, 22, 0))


def test_the_repeated_hour_is_two_express_slots() -> None:
    first = hour_slot(LA, ts(utc(2026, 11, 1, 8, 30)))  # 01:30 PDT
    second = hour_slot(LA, ts(utc(2026, 11, 1, 9, 30)))  # 01:30 PST
    assert first == (ts(utc(2026, 11, 1, 8)), ts(utc(2026, 11, 1, 9)))
    assert second == (ts(utc(2026, 11, 1, 9)), ts(utc(2026, 11, 1, 10)))


def test_express_through_the_skipped_hour() -> None:
    # 01:50 PST on 8 March: ready 30 min later, which is 03:20 PDT.
    o = ok(offer(OC.EXPRESS_2H, utc(2026, 3, 8, 9, 50)))
    assert o.ready_at == ts(utc(2026, 3, 8, 10, 20))
    assert o.window_to == ts(utc(2026, 3, 8, 11, 50))
    assert hour_slot(LA, o.ready_at) == (ts(utc(2026, 3, 8, 10)), ts(utc(2026, 3, 8, 11)))


def test_half_hour_zone_express_slots_start_at_local_hours() -> None:
    start, end = hour_slot(KOLKATA, ts(utc(2026, 3, 2, 6, 45)))  # 12:15 IST
    assert (start, end) == (ts(utc(2026, 3, 2, 6, 30)), ts(utc(2026, 3, 2, 7, 30)))


# -- two time zones ------------------------------------------------------------------------


def test_same_instant_two_hubs_two_cutoffs() -> None:
    now = utc(2026, 3, 2, 21, 30)  # 13:30 PST in Los Angeles, 14:30 MST in Denver
    la = ok(offer(OC.SAME_DAY, now, tz=LA))
    assert la.cutoff == ts(utc(2026, 3, 2, 22, 0))
    assert offer(OC.SAME_DAY, now, tz=DENVER) is Reason.CUTOFF_PASSED
    den = ok(offer(OC.NEXT_DAY, now, tz=DENVER))
    assert den.window_from == ts(local(DENVER, 2026, 3, 3, 9))
    assert den.window_from == ts(utc(2026, 3, 3, 16, 0))
    assert ok(offer(OC.NEXT_DAY, now, tz=LA)).window_from == ts(utc(2026, 3, 3, 17, 0))


def test_local_date_differs_across_zones_near_midnight() -> None:
    now = utc(2026, 3, 3, 7, 30)  # 23:30 PST Monday, 00:30 MST Tuesday
    la = ok(offer(OC.NEXT_DAY, now, tz=LA, p=HubPromise(next_day_cutoff=23 * 60 + 45)))
    den = ok(offer(OC.NEXT_DAY, now, tz=DENVER))
    assert la.window_from == ts(local(LA, 2026, 3, 3, 9))  # Tuesday
    assert den.window_from == ts(local(DENVER, 2026, 3, 4, 9))  # Wednesday


# -- slots ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (OC.EXPRESS_2H, ((2026, 3, 2, 13), (2026, 3, 2, 14))),
        (OC.SAME_DAY, ((2026, 3, 2, 17), (2026, 3, 2, 21))),
        (OC.NEXT_DAY, ((2026, 3, 2, 9), (2026, 3, 2, 21))),
        (OC.STANDARD_2D, ((2026, 3, 2, 9), (2026, 3, 2, 21))),
        (OC.PICKUP_IN_STORE, ((2026, 3, 2), (2026, 3, 3))),
    ],
)
def test_slot_for_an_instant(
    option: OptionCode, expected: tuple[tuple[int, ...], tuple[int, ...]]
) -> None:
    at = ts(local(LA, 2026, 3, 2, 13, 20))
    start, end = slot_for(option, LA, HubPromise(), at)
    assert (start, end) == (ts(local(LA, *expected[0])), ts(local(LA, *expected[1])))
