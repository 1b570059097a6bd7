"""Order sourcing (pure): candidate filtering, hub choice, splits and shortfalls."""

from __future__ import annotations

from collections import defaultdict

from hubflow.core.geo import LatLng
from hubflow.inventory.model import StockRequest
from hubflow.orders.sourcing import (
    EXACT_SPLIT_MAX,
    Candidate,
    Shortfall,
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
