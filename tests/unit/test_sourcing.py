"""Order sourcing (pure): candidate filtering, hub choice, splits and shortfalls."""

from __future__ import annotations

from collections import defaultdict

from hubflow.core.geo import LatLng, haversine_km
from hubflow.inventory.model import StockRequest
from hubflow.network.model import Capability, Hub, HubKind, OpeningHours
from hubflow.orders.sourcing import (
    EXACT_SPLIT_MAX,
    Candidate,
    Shortfall,
    candidates_for,
    plan_sourcing,
)

DEST = LatLng(47.61, -122.33)


def cand(hub_id: str, km: float, stock: dict[str, int], *, open_now: bool = True) -> Candidate:
    return Candidate(hub_id, km, open_now, stock)


def hubs_used(plan: list[StockRequest]) -> set[str]:
    return {r.hub_id for r in plan}


def per_product(plan: list[StockRequest]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in plan:
        out[r.product_id] += r.quantity
    return dict(out)


def as_plan(result: list[StockRequest] | Shortfall) -> list[StockRequest]:
    assert not isinstance(result, Shortfall), result
    return result


# -- candidates_for ---------------------------------------------------------------


def make_hub(
    hub_id: str,
    lat: float,
    lng: float,
    *,
    radius: float = 50.0,
    kind: HubKind = HubKind.FULFILLMENT_CENTER,
    caps: frozenset[Capability] = frozenset(),
    active: bool = True,
) -> Hub:
    return Hub(
        id=hub_id,
        name=hub_id,
        kind=kind,
        location=LatLng(lat, lng),
        timezone="America/Los_Angeles",
        hours=OpeningHours.always(),
        capabilities=caps,
        service_radius_km=radius,
        active=active,
    )


def test_candidates_filter_by_service_radius() -> None:
    near = make_hub("near", 47.62, -122.33, radius=5)  # ~1 km away
    small = make_hub("small", 47.45, -122.25, radius=5)  # ~19 km away, 5 km radius
    wide = make_hub("wide", 47.45, -122.25, radius=25)  # same place, 25 km radius
    stock = {h: {"p": 1} for h in ("near", "small", "wide")}
    out = candidates_for([near, small, wide], stock, DEST, {"near", "small", "wide"})
    assert [c.hub_id for c in out] == ["near", "wide"]
    assert out[1].distance_km == haversine_km(wide.location, DEST)
    assert 15 < out[1].distance_km < 25


def test_candidates_radius_boundary_is_inclusive() -> None:
    h = make_hub("h", 47.45, -122.25)
    d = haversine_km(h.location, DEST)
    exact = make_hub("exact", 47.45, -122.25, radius=d)
    short = make_hub("short", 47.45, -122.25, radius=d - 0.01)
    out = candidates_for([exact, short], {"exact": {"p": 1}, "short": {"p": 1}}, DEST, set())
    assert [c.hub_id for c in out] == ["exact"]


def test_candidates_skip_inactive_non_shipping_stores_and_empty_hubs() -> None:
    hubs = [
        make_hub("fc", 47.6, -122.3),
        make_hub("off", 47.6, -122.3, active=False),
        make_hub("store", 47.6, -122.3, kind=HubKind.STORE),
        make_hub(
            "sfs", 47.6, -122.3, kind=HubKind.STORE, caps=frozenset({Capability.SHIP_FROM_STORE})
        ),
        make_hub("dark", 47.6, -122.3, kind=HubKind.DARK_STORE),
        make_hub("empty", 47.6, -122.3),
    ]
    stock = {h.id: {"p": 3} for h in hubs if h.id != "empty"}
    out = candidates_for(hubs, stock, DEST, {h.id for h in hubs})
    assert sorted(c.hub_id for c in out) == ["dark", "fc", "sfs"]
    assert all(c.available == {"p": 3} for c in out)


def test_candidates_ranked_open_first_then_nearest() -> None:
    hubs = [
        make_hub("closed_near", 47.611, -122.33),
        make_hub("open_far", 47.50, -122.30),
        make_hub("open_mid", 47.58, -122.32),
    ]
    stock = {h.id: {"p": 1} for h in hubs}
    out = candidates_for(hubs, stock, DEST, {"open_far", "open_mid"})
    assert [(c.hub_id, c.open_now) for c in out] == [
        ("open_mid", True),
        ("open_far", True),
        ("closed_near", False),
    ]


# -- single hub ---------------------------------------------------------------------


def test_nearest_open_hub_that_holds_everything() -> None:
    lines = {"a": 2, "b": 1}
    cands = [
        cand("far", 20, {"a": 5, "b": 5}),
        cand("near", 3, {"a": 2, "b": 1}),
        cand("nearest_partial", 1, {"a": 5}),
    ]
    plan = as_plan(plan_sourcing(lines, cands))
    assert sorted(plan, key=lambda r: r.product_id) == [
        StockRequest("near", "a", 2),
        StockRequest("near", "b", 1),
    ]


def test_open_hub_preferred_over_nearer_closed_hub() -> None:
    lines = {"a": 1}
    cands = [cand("closed", 1, {"a": 5}, open_now=False), cand("open", 30, {"a": 5})]
    assert hubs_used(as_plan(plan_sourcing(lines, cands))) == {"open"}


def test_closed_hub_is_the_fallback_when_no_open_hub_has_stock() -> None:
    lines = {"a": 3}
    cands = [
        cand("open", 1, {"a": 1}),
        cand("closed_far", 40, {"a": 3}, open_now=False),
        cand("closed_near", 10, {"a": 3}, open_now=False),
    ]
    assert as_plan(plan_sourcing(lines, cands)) == [StockRequest("closed_near", "a", 3)]


def test_split_prefers_open_hubs_among_groups_of_the_same_size() -> None:
    lines = {"a": 1, "b": 1}
    cands = [
        cand("a_open", 9, {"a": 1}),
        cand("b_closed", 1, {"b": 1}, open_now=False),
        cand("b_open", 20, {"b": 1}),
    ]
    assert hubs_used(as_plan(plan_sourcing(lines, cands))) == {"a_open", "b_open"}


# -- splits -------------------------------------------------------------------------


def test_split_across_two_hubs() -> None:
    lines = {"a": 2, "b": 3}
    cands = [cand("h1", 5, {"a": 2}), cand("h2", 6, {"b": 3})]
    plan = as_plan(plan_sourcing(lines, cands))
    assert sorted(plan, key=lambda r: r.hub_id) == [
        StockRequest("h1", "a", 2),
        StockRequest("h2", "b", 3),
    ]


def test_split_uses_fewest_hubs_even_when_more_hubs_are_nearer() -> None:
    lines = {"a": 1, "b": 1, "c": 1}
    cands = [
        cand("a", 1, {"a": 1}),
        cand("b", 2, {"b": 1}),
        cand("c", 3, {"c": 1}),
        cand("ab_far", 40, {"a": 1, "b": 1}),
    ]
    assert hubs_used(as_plan(plan_sourcing(lines, cands))) == {"ab_far", "c"}


def test_split_of_one_line_fills_from_best_ranked_hub_first() -> None:
    lines = {"a": 5}
    cands = [cand("far", 30, {"a": 4}), cand("near", 2, {"a": 3})]
    plan = as_plan(plan_sourcing(lines, cands))
    assert plan == [StockRequest("near", "a", 3), StockRequest("far", "a", 2)]


def test_exact_split_beats_what_greedy_would_choose() -> None:
    # Greedy would take "big" first (8 units) and then need two more hubs;
    # the exact search finds the two-hub cover.
    lines = {"a": 5, "b": 5}
    cands = [
        cand("big", 1, {"a": 4, "b": 4}),
        cand("only_a", 2, {"a": 5}),
        cand("only_b", 3, {"b": 5}),
    ]
    plan = as_plan(plan_sourcing(lines, cands))
    assert hubs_used(plan) == {"only_a", "only_b"}
    assert per_product(plan) == lines


def test_greedy_beyond_the_exact_limit_still_covers_everything() -> None:
    products = [f"p{i}" for i in range(EXACT_SPLIT_MAX + 2)]
    lines = dict.fromkeys(products, 2)
    cands = [cand(f"h{i}", float(i + 1), {p: 2}) for i, p in enumerate(products)]
    cands.append(cand("decoy", 0.5, {products[0]: 1}))
    plan = as_plan(plan_sourcing(lines, cands))
    assert per_product(plan) == lines
    assert hubs_used(plan) == {f"h{i}" for i in range(len(products))}


def test_greedy_prefers_the_hub_that_fills_most_then_open_then_near() -> None:
    products = [f"p{i}" for i in range(EXACT_SPLIT_MAX + 1)]
    lines = dict.fromkeys(products, 1)
    cands = [cand(f"h{i}", 10.0, {p: 1}) for i, p in enumerate(products[1:], start=1)]
    # Two hubs hold p0: the open far one beats the closed near one.
    cands += [cand("p0_closed", 1, {"p0": 1}, open_now=False), cand("p0_open", 50, {"p0": 1})]
    plan = as_plan(plan_sourcing(lines, cands))
    assert "p0_open" in hubs_used(plan)
    assert "p0_closed" not in hubs_used(plan)


def test_never_takes_more_than_a_hub_has() -> None:
    lines = {"a": 7, "b": 4}
    cands = [
        cand("h1", 1, {"a": 3, "b": 1}),
        cand("h2", 2, {"a": 3, "b": 2}),
        cand("h3", 3, {"a": 1, "b": 1}),
    ]
    plan = as_plan(plan_sourcing(lines, cands))
    stock = {c.hub_id: c.available for c in cands}
    for r in plan:
        assert 0 < r.quantity <= stock[r.hub_id][r.product_id]
    assert per_product(plan) == lines


# -- shortfall ----------------------------------------------------------------------


def test_shortfall_lists_only_short_lines_with_wanted_and_available() -> None:
    lines = {"a": 5, "b": 2, "c": 1}
    cands = [cand("h1", 1, {"a": 2, "b": 2}), cand("h2", 2, {"a": 1})]
    result = plan_sourcing(lines, cands)
    assert isinstance(result, Shortfall)
    assert result.lines == {"a": (5, 3), "c": (1, 0)}


def test_no_candidates_is_a_shortfall_of_everything() -> None:
    result = plan_sourcing({"a": 1}, [])
    assert result == Shortfall({"a": (1, 0)})


def test_exactly_enough_across_hubs_is_not_short() -> None:
    lines = {"a": 4}
    plan = as_plan(plan_sourcing(lines, [cand("h1", 1, {"a": 1}), cand("h2", 2, {"a": 3})]))
    assert per_product(plan) == lines
