"""Order batching: nothing lost, carts never overfull, every cart's route valid."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubflow.fulfillment.batching import Batching, Cart, Order, batch_orders
from hubflow.fulfillment.layout import Aisle, CrossAisle, Layout, Location, generate
from hubflow.fulfillment.pickroute import check_route

FAST = settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])

THREE_AISLES = Layout(
    name="three aisles",
    aisles=(Aisle(0, 1_000), Aisle(5_000, 1_000), Aisle(10_000, 1_000)),
    cross_aisles=(CrossAisle(0, 1_000), CrossAisle(10_000, 1_000)),
)


def at(aisle: int, y: int) -> Location:
    return Location(aisle, y, "left")


def assert_sound(layout: Layout, orders: list[Order], cart: Cart, result: Batching) -> None:
    by_id = {o.id: o for o in orders}
    placed = [oid for b in result.batches for oid in b.order_ids]
    assert sorted(placed) == sorted(by_id)  # every order exactly once
    for b in result.batches:
        members = [by_id[oid] for oid in b.order_ids]
        assert b.totes == sum(o.totes for o in members) <= cart.totes
        assert b.weight_g == sum(o.weight_g for o in members) <= cart.max_weight_g
        picks = [p for o in members for p in o.picks]
        assert check_route(layout, picks, b.route) == []
    assert result.distance_mm == sum(b.route.distance_mm for b in result.batches)
    assert result.saved_mm >= 0


def test_orders_in_the_same_aisle_share_a_cart() -> None:
    orders = [
        Order("a", (at(2, 8_000),)),
        Order("b", (at(2, 9_000),)),
        Order("c", (at(0, 1_000),)),
    ]
    cart = Cart(totes=2, max_weight_g=10_000)
    result = batch_orders(THREE_AISLES, orders, cart)
    assert_sound(THREE_AISLES, orders, cart, result)
    assert sorted(b.order_ids for b in result.batches) == [("a", "b"), ("c",)]
    assert result.alone_mm == 36_000 + 38_000 + 2_000
    assert result.saved_mm == 36_000  # one trip to aisle 2 instead of two


def test_a_one_tote_cart_takes_one_order() -> None:
    orders = [Order("a", (at(2, 8_000),)), Order("b", (at(2, 9_000),))]
    result = batch_orders(THREE_AISLES, orders, Cart(totes=1, max_weight_g=10_000))
    assert len(result.batches) == 2
    assert result.saved_mm == 0 and result.saved_share == 0.0


def test_weight_keeps_heavy_orders_apart() -> None:
    orders = [Order("a", (at(2, 8_000),), weight_g=6_000), Order("b", (at(2, 9_000),), 1, 6_000)]
    result = batch_orders(THREE_AISLES, orders, Cart(totes=4, max_weight_g=10_000))
    assert len(result.batches) == 2


def test_bad_input_is_a_value_error() -> None:
    cart = Cart(totes=2, max_weight_g=1_000)
    with pytest.raises(ValueError, match="unique"):
        batch_orders(THREE_AISLES, [Order("a", (at(0, 1),)), Order("a", (at(0, 2),))], cart)
    with pytest.raises(ValueError, match="does not fit"):
        batch_orders(THREE_AISLES, [Order("a", (at(0, 1),), totes=3)], cart)
    with pytest.raises(ValueError):
        Order("empty", ())
    with pytest.raises(ValueError):
        Cart(totes=0, max_weight_g=1)


@settings(FAST)
@given(
    st.integers(1, 2),
    st.integers(0, 10_000),
    st.integers(1, 12),
    st.integers(1, 5),
    st.integers(2_000, 30_000),
)
def test_batching_loses_nothing_and_respects_the_cart(
    blocks: int, seed: int, n_orders: int, totes: int, max_weight: int
) -> None:
    layout = generate(blocks=blocks, aisles=5, bins_per_side=4, levels=1)
    rng = random.Random(seed)
    orders = [
        Order(
            f"o{i}",
            tuple(layout.location(rng.choice(layout.bins).id) for _ in range(rng.randint(1, 3))),
            totes=rng.randint(1, totes),
            weight_g=rng.randint(0, max_weight),
        )
        for i in range(n_orders)
    ]
    cart = Cart(totes=totes, max_weight_g=max_weight)
    result = batch_orders(layout, orders, cart)
    assert_sound(layout, orders, cart, result)
    assert batch_orders(layout, orders, cart) == result
