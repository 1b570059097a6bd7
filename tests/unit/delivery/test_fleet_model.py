"""The pure last-mile rules: mode defaults, vehicle type settings, rate cards, proof
policies, the state machines and how an order follows its shipments."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubflow.core.errors import IllegalTransition, InvalidInput
from hubflow.delivery.carriers import cutoff_for
from hubflow.delivery.fleet import DEFAULTS, CarrierRateCard, Mode, spec_for
from hubflow.delivery.model import (
    SHIPMENT_TRANSITIONS,
    ProofPolicy,
    ShipmentStatus,
    StopStatus,
    check_shipment,
    check_stop,
)
from hubflow.delivery.orders_sync import target_status
from hubflow.orders.model import OrderStatus


def test_defaults_follow_public_figures() -> None:
    drone, robot, av = DEFAULTS[Mode.DRONE], DEFAULTS[Mode.ROBOT], DEFAULTS[Mode.AUTONOMOUS_VAN]
    assert drone.capacity_weight_g == 2_300 and drone.capacity_parcels == 1
    assert drone.radius_km == 8.0 and drone.speed_kmh == 80 and drone.straight_line
    assert robot.speed_kmh == 6 and robot.capacity_weight_g == 12_000 and robot.radius_km == 3.0
    assert av.curbside and not av.needs_driver


def test_a_drone_refuses_heavy_and_bulky_parcels() -> None:
    drone = DEFAULTS[Mode.DRONE]
    assert drone.fits(2_000, (300, 200, 100)) is None
    assert drone.fits(2_000, (100, 300, 200)) is None  # turned to fit
    assert drone.fits(2_400, None) == "too_heavy"
    assert drone.fits(1_000, (600, 100, 100)) == "too_large"


def test_overrides_are_validated() -> None:
    assert spec_for(Mode.VAN, {"speed_kmh": 25}).speed_kmh == 25
    with pytest.raises(InvalidInput) as e:
        spec_for(Mode.VAN, {"wings": 2})
    assert e.value.code == "unknown_setting"
    for bad in (
        {"speed_kmh": -1},
        {"capacity_parcels": True},
        {"max_parcel_dims_mm": [1, 2]},
        {"circuity": 9.0},
        {"radius_km": "far"},
    ):
        with pytest.raises(InvalidInput):
            spec_for(Mode.DRONE, bad)


def test_rate_card_prices_started_kilograms_and_refuses_heavy_parcels() -> None:
    card = CarrierRateCard(base=600, per_kg=90, per_km=12, max_weight_g=30_000)
    assert card.quote(1_001, 10.0) == 600 + 2 * 90 + 120
    assert card.quote(30_001, 1.0) is None


def test_cutoff_is_the_next_local_handoff() -> None:
    tz = "America/Los_Angeles"
    morning = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 09:00 local
    assert cutoff_for("18:00", tz, morning) == datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
    evening = datetime(2026, 3, 3, 3, 0, tzinfo=UTC)  # 19:00 local: tomorrow's
    assert cutoff_for("18:00", tz, evening) == datetime(2026, 3, 4, 2, 0, tzinfo=UTC)


def test_a_pin_needs_someone_at_the_door() -> None:
    with pytest.raises(InvalidInput) as e:
        ProofPolicy(pin=True, leave_at_door=True)
    assert e.value.code == "pin_with_leave_at_door"
    policy = ProofPolicy(pin=True, photo=True, min_age=21)
    assert policy.missing({"pin": "1234"}) == ["photo", "age_check"]
    assert policy.missing({"pin": "1", "photo_base64": "x", "age_verified": True}) == []


def test_out_of_order_moves_are_refused() -> None:
    with pytest.raises(IllegalTransition) as e:
        check_shipment(ShipmentStatus.READY, ShipmentStatus.DELIVERED)
    assert e.value.code == "shipment_out_of_order"
    with pytest.raises(IllegalTransition):
        check_stop(StopStatus.PLANNED, StopStatus.DELIVERED)
    check_stop(StopStatus.ARRIVED, StopStatus.DELIVERED)


@given(st.lists(st.sampled_from(list(ShipmentStatus)), max_size=12))
def test_terminal_shipments_stay_terminal(path: list[ShipmentStatus]) -> None:
    status = ShipmentStatus.PENDING
    for target in path:
        if target in SHIPMENT_TRANSITIONS[status]:
            status = target
    terminal = {s for s, nxt in SHIPMENT_TRANSITIONS.items() if not nxt}
    assert terminal == {
        ShipmentStatus.DELIVERED,
        ShipmentStatus.RETURNED_TO_HUB,
        ShipmentStatus.CANCELLED,
    }
    if status in terminal:
        assert all(t not in SHIPMENT_TRANSITIONS[status] for t in ShipmentStatus)


S, OS = ShipmentStatus, OrderStatus


@pytest.mark.parametrize(
    ("current", "ships", "packed", "expected"),
    [
        (OS.ALLOCATED, [S.READY, S.PENDING], [True, False], None),
        (OS.ALLOCATED, [S.READY, S.ASSIGNED], [True, True], OS.PACKED),
        (OS.PACKED, [S.OUT_FOR_DELIVERY, S.ASSIGNED], [True, True], OS.OUT_FOR_DELIVERY),
        (OS.OUT_FOR_DELIVERY, [S.DELIVERED, S.OUT_FOR_DELIVERY], [True, True], OS.OUT_FOR_DELIVERY),
        (OS.OUT_FOR_DELIVERY, [S.DELIVERED, S.DELIVERED], [True, True], OS.DELIVERED),
        (OS.OUT_FOR_DELIVERY, [S.FAILED], [True], OS.FAILED),
        (OS.FAILED, [S.READY], [True], None),
        (OS.FAILED, [S.RETURNED_TO_HUB], [True], OS.RETURNED),
    ],
)
def test_an_order_follows_its_shipments(
    current: OrderStatus, ships: list[ShipmentStatus], packed: list[bool], expected: OrderStatus
) -> None:
    assert target_status(current, ships, packed) == expected


def test_every_sync_path_is_a_legal_walk_of_the_order_machine() -> None:
    from hubflow.delivery.orders_sync import _PATH
    from hubflow.orders.model import check_transition

    for (start, end), steps in _PATH.items():
        here = start
        for step in steps:
            check_transition(here, step)
            here = step
        assert here is end
    # A split order whose first parcel leaves before the other is packed.
    mixed = target_status(OS.ALLOCATED, [S.OUT_FOR_DELIVERY, S.PENDING], [True, False])
    assert mixed is OS.OUT_FOR_DELIVERY and (OS.ALLOCATED, mixed) in _PATH
