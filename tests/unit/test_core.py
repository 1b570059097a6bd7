"""Money, ids, geography, the clock and the idempotency fingerprint."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from hubflow.core import ids
from hubflow.core.clock import ManualClock, ensure_utc
from hubflow.core.geo import EARTH_RADIUS_KM, LatLng, haversine_km
from hubflow.core.idempotency import body_fingerprint
from hubflow.core.ids import ID_PATTERN, is_valid_id, new_id
from hubflow.core.money import CurrencyMismatch, Money

# -- money ----------------------------------------------------------------------------


def test_money_arithmetic_in_one_currency() -> None:
    a, b = Money(1050, "USD"), Money(250, "USD")
    assert a + b == Money(1300, "USD")
    assert a - b == Money(800, "USD")
    assert b - a == Money(-800, "USD")
    assert b * 3 == Money(750, "USD")
    assert a.to_json() == {"amount": 1050, "currency": "USD"}


def test_money_refuses_mixing_currencies() -> None:
    with pytest.raises(CurrencyMismatch):
        _ = Money(1, "USD") + Money(1, "EUR")
    with pytest.raises(CurrencyMismatch):
        _ = Money(1, "USD") - Money(1, "EUR")
    assert issubclass(CurrencyMismatch, ValueError)


@pytest.mark.parametrize("amount", [1.5, 1.0, "100", None, True, False])
def test_money_amount_must_be_integer_minor_units(amount: object) -> None:
    with pytest.raises(TypeError):
        Money(amount, "USD")  # type: ignore[arg-type]


def test_money_multiplying_by_a_fraction_is_refused() -> None:
    with pytest.raises(TypeError):
        _ = Money(100, "USD") * 1.5  # type: ignore[operator]


@pytest.mark.parametrize("currency", ["usd", "US", "USDX", "", "U1D", "ÄBC", "\uff35\uff33\uff24"])
def test_money_currency_is_three_ascii_capitals(currency: str) -> None:
    with pytest.raises(ValueError):
        Money(1, currency)


def test_money_is_immutable_and_hashable() -> None:
    m = Money(5, "GBP")
    with pytest.raises(AttributeError):
        m.amount = 6  # type: ignore[misc]
    assert {m, Money(5, "GBP")} == {m}


# -- ids ------------------------------------------------------------------------------


@pytest.fixture
def id_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that pass explicit milliseconds start from a blank generator and do not
    leave a far-future timestamp behind for the rest of the run."""
    monkeypatch.setattr(ids, "_last_ms", -1)
    monkeypatch.setattr(ids, "_last_rand", 0)


def test_new_id_shape() -> None:
    i = new_id("ord")
    assert i.startswith("ord_")
    assert len(i) == 4 + 26
    assert is_valid_id(i)
    assert is_valid_id(i, "ord")
    assert not is_valid_id(i, "hub")


@pytest.mark.usefixtures("id_state")
def test_ids_sort_by_creation_time() -> None:
    early = new_id("evt", now_ms=1_700_000_000_000 + 10**9)
    # A later millisecond gives a larger id whatever the random part.
    later = new_id("evt", now_ms=1_700_000_000_000 + 10**9 + 1)
    assert early < later
    ids = [new_id("evt") for _ in range(2000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


@pytest.mark.usefixtures("id_state")
def test_ids_are_monotonic_within_one_millisecond() -> None:
    ms = 1_800_000_000_000
    ids = [new_id("mov", now_ms=ms + 10**6) for _ in range(50)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 50


@pytest.mark.usefixtures("id_state")
def test_ids_stay_monotonic_when_the_clock_goes_back() -> None:
    first = new_id("res", now_ms=1_900_000_000_000)
    second = new_id("res", now_ms=1_000_000_000_000)
    assert second > first


@pytest.mark.usefixtures("id_state")
def test_id_timestamp_prefix_encodes_the_millisecond() -> None:
    ms = 2_000_000_000_000
    i = new_id("hub", now_ms=ms)
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    decoded = 0
    for ch in i[4:14]:
        decoded = decoded * 32 + alphabet.index(ch)
    assert decoded == ms


GOOD_BODY = "01J" + "0" * 23  # 26 Crockford base32 characters


@pytest.mark.parametrize(
    "value",
    [
        "",
        "ord_",
        "ord_" + GOOD_BODY[:-1],  # 25 characters
        "ord_" + GOOD_BODY + "0",  # 27 characters
        "ORD_" + GOOD_BODY,  # upper-case prefix
        "o_" + GOOD_BODY,  # prefix too short
        "orders_" + GOOD_BODY,  # prefix too long
        "ord_" + GOOD_BODY[:-1] + "I",  # I is not Crockford base32
        "ord_" + GOOD_BODY[:-1] + "U",  # nor is U
        "ord_" + GOOD_BODY.lower(),  # lower-case body
        "ord-" + GOOD_BODY,
        "ord_" + GOOD_BODY + "\n",
        " ord_" + GOOD_BODY,
    ],
)
def test_is_valid_id_rejects_malformed(value: str) -> None:
    assert not is_valid_id(value)


def test_is_valid_id_accepts_well_formed() -> None:
    assert ID_PATTERN.startswith("^") and ID_PATTERN.endswith("$")
    assert is_valid_id("ord_" + GOOD_BODY)
    assert is_valid_id("ab_" + GOOD_BODY)
    assert is_valid_id("abcde_" + GOOD_BODY)
    assert is_valid_id("ord_" + GOOD_BODY, "ord")
    assert not is_valid_id("ord_" + GOOD_BODY, "or")  # prefix must match whole


# -- geo ------------------------------------------------------------------------------


def test_haversine_known_distances() -> None:
    seattle, portland = LatLng(47.6062, -122.3321), LatLng(45.5152, -122.6784)
    assert haversine_km(seattle, portland) == pytest.approx(233.5, abs=1.5)
    london, paris = LatLng(51.5074, -0.1278), LatLng(48.8566, 2.3522)
    assert haversine_km(london, paris) == pytest.approx(343.5, abs=1.5)
    one_degree = haversine_km(LatLng(0, 0), LatLng(0, 1))
    assert one_degree == pytest.approx(2 * math.pi * EARTH_RADIUS_KM / 360)


def test_haversine_is_a_metric_on_samples() -> None:
    pts = [LatLng(0, 0), LatLng(47.6, -122.3), LatLng(-33.9, 151.2), LatLng(89.9, 10)]
    for a in pts:
        assert haversine_km(a, a) == 0.0
        for b in pts:
            assert haversine_km(a, b) == pytest.approx(haversine_km(b, a))
            for c in pts:
                assert haversine_km(a, c) <= haversine_km(a, b) + haversine_km(b, c) + 1e-9


def test_haversine_antipodes_and_date_line() -> None:
    assert haversine_km(LatLng(0, 0), LatLng(0, 180)) == pytest.approx(math.pi * EARTH_RADIUS_KM)
    assert haversine_km(LatLng(90, 0), LatLng(-90, 0)) == pytest.approx(math.pi * EARTH_RADIUS_KM)
    # Across the date line the short way round, not the long way.
    assert haversine_km(LatLng(0, 179.5), LatLng(0, -179.5)) == pytest.approx(111.2, abs=0.2)


@pytest.mark.parametrize(
    ("lat", "lng"), [(90.01, 0), (-90.01, 0), (0, 180.01), (0, -180.01), (math.nan, 0)]
)
def test_latlng_out_of_range(lat: float, lng: float) -> None:
    with pytest.raises(ValueError):
        LatLng(lat, lng)


def test_latlng_edges_are_valid() -> None:
    for lat, lng in ((90, 180), (-90, -180), (0, 0)):
        LatLng(lat, lng)


# -- clock ----------------------------------------------------------------------------


def test_manual_clock_moves_only_when_told() -> None:
    t0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    c = ManualClock(t0)
    assert c.now() == t0
    assert c.now() == t0
    assert c.advance(timedelta(minutes=5)) == t0 + timedelta(minutes=5)
    c.set(datetime(2026, 3, 2, 8, 0, tzinfo=timezone(timedelta(hours=-8))))
    assert c.now() == datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    assert c.now().utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        ensure_utc(datetime(2026, 3, 2, 15, 0))
    with pytest.raises(ValueError):
        ManualClock(datetime(2026, 3, 2, 15, 0))


# -- idempotency fingerprint ----------------------------------------------------------


def test_fingerprint_ignores_key_order_at_every_level() -> None:
    a = {"lines": [{"product_id": "p", "quantity": 1}], "address": {"city": "S", "lat": 1.0}}
    b = {"address": {"lat": 1.0, "city": "S"}, "lines": [{"quantity": 1, "product_id": "p"}]}
    assert body_fingerprint("POST", "/v1/orders", a) == body_fingerprint("POST", "/v1/orders", b)
    assert len(body_fingerprint("POST", "/v1/orders", a)) == 64


def test_fingerprint_changes_with_method_path_and_body() -> None:
    body = {"lines": [{"product_id": "p", "quantity": 1}]}
    base = body_fingerprint("POST", "/v1/orders", body)
    assert body_fingerprint("PUT", "/v1/orders", body) != base
    assert body_fingerprint("POST", "/v1/holds", body) != base
    assert (
        body_fingerprint("POST", "/v1/orders", {"lines": [{"product_id": "p", "quantity": 2}]})
        != base
    )
    # List order is meaningful (line order is part of the order).
    two = {"lines": [{"product_id": "a", "quantity": 1}, {"product_id": "b", "quantity": 1}]}
    owt = {"lines": [{"product_id": "b", "quantity": 1}, {"product_id": "a", "quantity": 1}]}
    assert body_fingerprint("POST", "/v1/orders", two) != body_fingerprint(
        "POST", "/v1/orders", owt
    )
    # Types matter: 1 and "1" are different requests.
    assert body_fingerprint("POST", "/x", {"q": 1}) != body_fingerprint("POST", "/x", {"q": "1"})
