"""Promise rules (pure): delivery modes, cart facts, fees and member benefits, settings,
and the sourcing strategies."""

from __future__ import annotations

from collections import defaultdict

import pytest

from hubflow.catalog.model import Product, Temperature
from hubflow.core.money import Money
from hubflow.inventory.model import StockRequest
from hubflow.promise.model import (
    CartFacts,
    HubPromise,
    MerchantPromise,
    OptionCode,
    PromiseConfig,
    Reason,
    cart_reason,
    furthest,
    modes_for,
)
from hubflow.promise.sourcing import (
    STRATEGIES,
    Candidate,
    LowestCost,
    Plan,
    Shortfall,
    StrategyParams,
    get_strategy,
)

OC = OptionCode
T = Temperature


def cart(
    weight_g: int = 2_000, side: int = 300, temps: tuple[Temperature, ...] = (T.AMBIENT,)
) -> CartFacts:
    return CartFacts(weight_g, side, frozenset(temps), 5_000, "USD")


# -- modes ---------------------------------------------------------------------------------


def test_cheapest_mode_first_and_range_limits() -> None:
    assert [m.name for m in modes_for(cart(), OC.EXPRESS_2H, 3.0)] == ["bike", "car"]
    assert [m.name for m in modes_for(cart(), OC.EXPRESS_2H, 10.0)] == ["car"]
    assert modes_for(cart(), OC.EXPRESS_2H, 40.0) == []
    assert [m.name for m in modes_for(cart(), OC.NEXT_DAY, 100.0)] == ["carrier"]
    assert {m.name for m in modes_for(cart(), OC.SAME_DAY, 3.0)} == {"bike", "car", "van"}


def test_weight_size_and_temperature_pick_the_mode() -> None:
    assert [m.name for m in modes_for(cart(weight_g=20_000), OC.EXPRESS_2H, 3.0)] == ["car"]
    assert [m.name for m in modes_for(cart(weight_g=100_000), OC.SAME_DAY, 3.0)] == ["van"]
    assert [m.name for m in modes_for(cart(side=1_000), OC.EXPRESS_2H, 3.0)] == ["car"]
    frozen = cart(temps=(T.AMBIENT, T.FROZEN))
    assert [m.name for m in modes_for(frozen, OC.SAME_DAY, 3.0)] == ["van"]
    assert modes_for(frozen, OC.EXPRESS_2H, 3.0) == []
    chilled = cart(temps=(T.CHILLED,))
    assert [m.name for m in modes_for(chilled, OC.NEXT_DAY, 100.0)] == []  # carrier: ambient


def test_cart_reasons() -> None:
    assert cart_reason(cart(), OC.EXPRESS_2H) is None
    assert cart_reason(cart(weight_g=900_000), OC.SAME_DAY) is Reason.CART_TOO_HEAVY
    assert cart_reason(cart(weight_g=100_000), OC.EXPRESS_2H) is Reason.CART_TOO_HEAVY
    assert cart_reason(cart(side=3_000), OC.NEXT_DAY) is Reason.CART_TOO_LARGE
    assert cart_reason(cart(temps=(T.FROZEN,)), OC.EXPRESS_2H) is (Reason.TEMPERATURE_NOT_SUPPORTED)
    assert cart_reason(cart(temps=(T.FROZEN,)), OC.NEXT_DAY) is None  # vans are refrigerated


def test_travel_time_and_cost_grow_with_distance() -> None:
    bike = modes_for(cart(), OC.EXPRESS_2H, 1.0)[0]
    assert bike.travel_s(4.0) > bike.travel_s(2.0) > 0
    assert bike.cost(4.0) > bike.cost(2.0) > 0
    # 3 km by bike: 3 x 1.25 / 15 km/h = 15 min, plus a 5-minute handover.
    assert bike.travel_s(3.0) == pytest.approx(20 * 60)


def test_cart_facts_of_products() -> None:
    def product(pid: str, w: int, dims: tuple[int, int, int], temp: Temperature, v: int,
                cur: str = "USD") -> Product:  # fmt: skip
        return Product(pid, "m", pid, pid, dims, w, Money(v, cur), temp, False)

    products = {
        "a": product("a", 800, (300, 120, 100), T.AMBIENT, 650),
        "b": product("b", 1_000, (200, 700, 50), T.CHILLED, 300),
        "c": product("c", 100, (10, 10, 10), T.AMBIENT, 999, "EUR"),
    }
    facts = CartFacts.of(products, {"a": 2, "b": 1, "c": 3}, "USD")
    assert facts.weight_g == 2 * 800 + 1_000 + 300
    assert facts.longest_side_mm == 700
    assert facts.temperatures == {T.AMBIENT, T.CHILLED}
    assert facts.value == 2 * 650 + 300  # only lines priced in the fee currency count


# -- fees and membership -------------------------------------------------------------------


def test_member_free_delivery_from_a_threshold() -> None:
    m = PromiseConfig().merchant_defaults()
    assert m.fee(OC.SAME_DAY, 10_000, member=False) == (699, False)
    assert m.fee(OC.SAME_DAY, 3_499, member=True) == (699, False)
    assert m.fee(OC.SAME_DAY, 3_500, member=True) == (0, True)
    assert m.fee(OC.STANDARD_2D, 1, member=True) == (0, True)
    assert m.fee(OC.PICKUP_IN_STORE, 1, member=True) == (0, False)  # free anyway


def test_members_only_and_not_offered() -> None:
    m = MerchantPromise.from_json(
        {"offered": ["same_day", "express_2h"], "members_only": ["express_2h"]}, PromiseConfig()
    )
    assert m.refusal(OC.EXPRESS_2H, member=False) is Reason.MEMBERS_ONLY
    assert m.refusal(OC.EXPRESS_2H, member=True) is None
    assert m.refusal(OC.NEXT_DAY, member=True) is Reason.NOT_OFFERED
    assert m.refusal(OC.SAME_DAY, member=False) is None


def test_merchant_fee_table_overrides_defaults() -> None:
    m = MerchantPromise.from_json(
        {"currency": "EUR", "fees": {"next_day": 250}, "member_free_threshold": {"next_day": 0}},
        PromiseConfig(),
    )
    assert m.currency == "EUR"
    assert m.fee(OC.NEXT_DAY, 0, member=True) == (0, True)
    assert m.fee(OC.SAME_DAY, 10**6, member=True) == (699, False)  # no threshold given
    assert m.fee(OC.EXPRESS_2H, 0, member=False) == (999, False)
    assert MerchantPromise.from_json(m.to_json(), PromiseConfig()) == m


def test_hub_promise_json_round_trip_and_validation() -> None:
    p = HubPromise.from_json(
        {
            "pick_pack_minutes": 45,
            "same_day_cutoff": "15:30",
            "same_day_window": ["18:00", "24:00"],
            "safety_stock": 2,
            "options": ["pickup_in_store"],
            "capacity": {"pickup_in_store": 7},
        }
    )
    assert p.same_day_window == (18 * 60, 1440)
    assert p.offers(OC.PICKUP_IN_STORE) and not p.offers(OC.SAME_DAY)
    assert p.capacity_for(OC.PICKUP_IN_STORE, {}) == 7
    assert p.capacity_for(OC.SAME_DAY, {OC.SAME_DAY: 3}) == 3
    assert HubPromise.from_json(p.to_json()) == p
    for bad in (
        {"same_day_window": ["21:00", "17:00"]},
        {"pick_pack_minutes": -1},
        {"next_day_cutoff": "24:00"},
        {"same_day_cutoff": "9:00"},
    ):
        with pytest.raises(ValueError):
            HubPromise.from_json(bad)


def test_furthest_reason() -> None:
    assert furthest([Reason.TOO_FAR, Reason.CUTOFF_PASSED], Reason.NO_STOCK) is (
        Reason.CUTOFF_PASSED
    )
    assert furthest([], Reason.NO_STOCK) is Reason.NO_STOCK


# -- strategies ----------------------------------------------------------------------------


def cand(hub: str, cost: float, stock: dict[str, int], km: float = 1.0) -> Candidate:
    return Candidate(hub, km, cost, stock)


def as_plan(result: Plan | Shortfall) -> Plan:
    assert isinstance(result, Plan), result
    return result


def per_product(plan: Plan) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in plan.requests:
        out[r.product_id] += r.quantity
    return dict(out)


PARAMS = StrategyParams(split_penalty=500, exact_split_max=3, exact_search_hubs=16)


def test_registry() -> None:
    assert set(STRATEGIES) >= {"lowest_cost", "nearest_first"}
    assert isinstance(get_strategy("lowest_cost"), LowestCost)
    with pytest.raises(ValueError, match="unknown sourcing strategy"):
        get_strategy("cheapest_ever")


def test_one_hub_even_when_a_split_would_be_cheaper() -> None:
    lines = {"a": 2, "b": 1}
    cands = [
        cand("cheap_a", 100, {"a": 5}),
        cand("cheap_b", 100, {"b": 5}),
        cand("whole", 900, {"a": 2, "b": 1}),
    ]
    plan = as_plan(LowestCost().plan(lines, cands, PARAMS))
    assert plan.hubs == ("whole",)
    assert plan.cost == 900


def test_cheapest_single_hub() -> None:
    lines = {"a": 1}
    cands = [cand("far", 800, {"a": 1}, km=20), cand("near", 400, {"a": 3}, km=2)]
    plan = as_plan(LowestCost().plan(lines, cands, PARAMS))
    assert plan.requests == [StockRequest("near", "a", 1)]


def test_split_across_fewest_then_cheapest() -> None:
    lines = {"a": 1, "b": 1, "c": 1}
    cands = [
        cand("a", 100, {"a": 1}),
        cand("b", 100, {"b": 1}),
        cand("c", 100, {"c": 1}),
        cand("bc_dear", 700, {"b": 1, "c": 1}),
        cand("bc_cheap", 300, {"b": 1, "c": 1}),
    ]
    plan = as_plan(LowestCost().plan(lines, cands, PARAMS))
    assert set(plan.hubs) == {"a", "bc_cheap"}
    assert plan.cost == 100 + 300 + 500  # shipments plus one split penalty
    assert per_product(plan) == lines


def test_one_line_split_when_no_hub_has_enough() -> None:
    plan = as_plan(
        LowestCost().plan({"a": 5}, [cand("h1", 1, {"a": 3}), cand("h2", 2, {"a": 3})], PARAMS)
    )
    assert per_product(plan) == {"a": 5}
    assert plan.requests[0] == StockRequest("h1", "a", 3)  # cheapest hub first


def test_shortfall_reports_wanted_and_available() -> None:
    result = LowestCost().plan({"a": 5, "b": 1}, [cand("h", 1, {"a": 2, "b": 1})], PARAMS)
    assert isinstance(result, Shortfall)
    assert result.lines == {"a": (5, 2)}
    assert isinstance(LowestCost().plan({"a": 1}, [], PARAMS), Shortfall)


def test_greedy_beyond_the_exact_search() -> None:
    lines = {p: 1 for p in "abcde"}
    cands = [cand(p, 100, {p: 1}) for p in "abcde"]
    plan = as_plan(LowestCost().plan(lines, cands, PARAMS))
    assert len(plan.hubs) == 5
    assert per_product(plan) == lines


def test_nearest_first_ranks_by_distance() -> None:
    cands = [cand("cheap_far", 100, {"a": 1}, km=30), cand("dear_near", 900, {"a": 1}, km=1)]
    plan = as_plan(get_strategy("nearest_first").plan({"a": 1}, cands, PARAMS))
    assert plan.hubs == ("dear_near",)
    assert plan.cost == 900
    assert as_plan(LowestCost().plan({"a": 1}, cands, PARAMS)).hubs == ("cheap_far",)
