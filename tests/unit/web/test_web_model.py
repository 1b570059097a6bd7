"""Pure rules of the browser side: passwords, colours, redirects, late-risk, KPIs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hubflow.core.errors import InvalidInput
from hubflow.core.geo import LatLng
from hubflow.delivery.fleet import Mode, spec_for
from hubflow.delivery.replan import Load, move_violations
from hubflow.web.model import (
    check_brand_colour,
    contrast_ratio,
    hash_password,
    safe_next,
    verify_password,
)
from hubflow.web.ops_model import Risk, Visit, hourly, late_risk, on_time_rate, vehicle_track

T = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_passwords_hash_with_a_salt_and_verify() -> None:
    a, b = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert a != b and a.startswith("scrypt$")
    assert verify_password("correct horse battery", a)
    assert not verify_password("correct horse batterz", a)
    assert not verify_password("correct horse battery", "not-a-hash")
    assert not verify_password("x", "md5$1$2$3$00$00")


def test_short_passwords_are_refused() -> None:
    with pytest.raises(InvalidInput) as e:
        hash_password("short")
    assert e.value.code == "password_too_short"


def test_contrast_ratio_matches_wcag() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    # The pages' own palette is readable on white (tests/browser check what renders).
    for colour in ("#0b5cad", "#1b1f24", "#4a5360", "#1d6b2e", "#8a5a00", "#b3261e", "#8a3b00"):
        assert contrast_ratio(colour, "#ffffff") >= 4.5, colour


def test_brand_colours_must_stay_readable() -> None:
    assert check_brand_colour("#6B1D1D") == "#6b1d1d"
    with pytest.raises(InvalidInput) as e:
        check_brand_colour("#eeeeee")
    assert e.value.code == "low_contrast"
    with pytest.raises(InvalidInput) as e:
        check_brand_colour("red")
    assert e.value.code == "invalid_colour"


@pytest.mark.parametrize(
    ("path", "safe"),
    [("/ops", "/ops"), ("/merchant/keys?x=1", "/merchant/keys?x=1"), ("//evil.test", None),
     ("https://evil.test", None), ("/\\evil.test", None), ("", None), (None, None),
     ("/ok\r\nSet-Cookie: x", None)],
)  # fmt: skip
def test_after_login_only_this_site(path: str | None, safe: str | None) -> None:
    assert safe_next(path) == safe


def test_late_risk() -> None:
    due = T + timedelta(hours=2)
    assert late_risk(T, due, T + timedelta(hours=1), "assigned") is Risk.ON_TIME
    assert late_risk(T, due, T + timedelta(hours=3), "assigned") is Risk.AT_RISK
    assert late_risk(T + timedelta(hours=3), due, None, "ready") is Risk.LATE
    assert late_risk(due - timedelta(minutes=10), due, None, "pending") is Risk.AT_RISK
    assert late_risk(T + timedelta(hours=5), due, None, "delivered") is Risk.ON_TIME


_ORDER = {Risk.ON_TIME: 0, Risk.AT_RISK: 1, Risk.LATE: 2}


@settings(max_examples=200)
@given(st.integers(-600, 600), st.integers(0, 600), st.one_of(st.none(), st.integers(-600, 600)))
def test_waiting_never_lowers_the_risk(now_min: int, later_min: int, eta_min: int | None) -> None:
    due = T
    eta = None if eta_min is None else T + timedelta(minutes=eta_min)
    now = T + timedelta(minutes=now_min)
    before = late_risk(now, due, eta, "assigned")
    after = late_risk(now + timedelta(minutes=later_min), due, eta, "assigned")
    assert _ORDER[after] >= _ORDER[before]


def test_kpi_helpers() -> None:
    assert on_time_rate([]) is None
    assert on_time_rate([(T, T), (T + timedelta(minutes=1), T)]) == 0.5
    counts = hourly([T - timedelta(minutes=10), T - timedelta(hours=2, minutes=5), T], T, 4)
    assert counts == [0, 1, 0, 2]
    assert hourly([T - timedelta(hours=30), T + timedelta(hours=1)], T, 4) == [0, 0, 0, 0]


def test_a_move_must_fit_the_vehicle() -> None:
    van = spec_for(Mode.VAN)
    empty, parcel = Load(0, 0, 0), Load(1, 800, 3600)
    assert move_violations(van, empty, parcel, 5.0) == []
    full = Load(van.capacity_parcels, 0, 0)
    assert [v.split(":")[0] for v in move_violations(van, full, parcel, 5.0)] == ["capacity"]
    drone = spec_for(Mode.DRONE)
    heavy = Load(1, 5_000, 1000)
    kinds = {v.split(":")[0] for v in move_violations(drone, empty, heavy, 50.0)}
    assert kinds >= {"parcel", "radius"}


def test_a_vehicle_track_goes_out_waits_at_doors_reloads_and_comes_back() -> None:
    t0 = datetime(2026, 11, 24, 16, tzinfo=UTC)
    hub, a, b = LatLng(47.60, -122.33), LatLng(47.62, -122.33), LatLng(47.58, -122.33)
    m = timedelta(minutes=1)
    visits = [
        Visit(2, b, t0 + 40 * m, t0 + 42 * m),  # given out of order: sorted by arrival
        Visit(1, a, t0 + 10 * m, t0 + 12 * m),
    ]
    track = vehicle_track(hub, t0, t0 + 60 * m, visits)
    assert [w for _, w in track] == [hub, a, a, hub, b, b, hub]
    times = [t for t, _ in track]
    assert times == sorted(times) and times[0] == t0 and times[-1] == t0 + 60 * m
    # Back at the hub between the trips, halfway (a and b are as far from the hub).
    assert abs((times[3] - (t0 + 26 * m)).total_seconds()) < 5
    # Not completed, no stop reached: the vehicle is only seen leaving.
    assert vehicle_track(hub, t0, None, []) == [(t0, hub)]
    # A record out of order never makes time run backwards.
    odd = vehicle_track(hub, t0, t0 - m, [Visit(1, a, t0 - 5 * m, None)])
    assert [t for t, _ in odd] == [t0, t0, t0]
