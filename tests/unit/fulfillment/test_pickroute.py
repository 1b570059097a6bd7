"""Picker routes on tiny named layouts and random small ones; every route goes through the
independent checker, and exact routes must equal brute force over walking distances."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubflow.fulfillment import pickroute
from hubflow.fulfillment.layout import Aisle, CrossAisle, Layout, Location, Point, generate
from hubflow.fulfillment.pickroute import (
    METHODS,
    Method,
    PickRoute,
    check_route,
    route,
    route_distance,
)

BASELINES: tuple[Method, ...] = ("s_shape", "largest_gap")
FAST = settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])


def grid(aisles: int, blocks: int, depot_aisle: int = 0) -> Layout:
    """Aisles every 5 m, blocks 10 m deep."""
    return Layout(
        name=f"{aisles}x{blocks}",
        aisles=tuple(Aisle(5_000 * i, 1_000) for i in range(aisles)),
        cross_aisles=tuple(CrossAisle(10_000 * k, 1_000) for k in range(blocks + 1)),
        depot_aisle=depot_aisle,
    )


ONE_AISLE = grid(1, 1)
THREE_AISLES = grid(3, 1)
TWO_BLOCKS = grid(3, 2)


def at(aisle: int, y: int) -> Location:
    return Location(aisle, y, "left")


def routed(layout: Layout, picks: list[Location], method: Method) -> PickRoute:
    r = route(layout, picks, method)
    assert check_route(layout, picks, r) == []
    return r


def brute_force(layout: Layout, picks: list[Location]) -> int:
    """Shortest tour by trying every order, over Dijkstra distances in the walking graph."""
    stops = sorted({Point(layout.aisles[p.aisle].x_mm, p.position_mm) for p in picks})
    nodes = [layout.depot, *stops]
    graph = layout.graph(stops)
    dist = []
    for s in nodes:
        best = {s: 0}
        queue = [(0, s)]
        while queue:
            d, u = heapq.heappop(queue)
            if d == best[u]:
                for v, w in graph[u].items():
                    if d + w < best.get(v, d + w + 1):
                        best[v] = d + w
                        heapq.heappush(queue, (d + w, v))
        dist.append([best[t] for t in nodes])
    return min(
        sum(dist[a][b] for a, b in itertools.pairwise((0, *order, 0)))
        for order in itertools.permutations(range(1, len(nodes)))
    )


# -- tiny named layouts ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_one_aisle_goes_to_the_farthest_pick_and_back(method: Method) -> None:
    picks = [at(0, 7_000), at(0, 3_000)]
    r = routed(ONE_AISLE, picks, method)
    assert r.distance_mm == 14_000
    assert r.visits_in_order == (1, 0)
    assert r.path[0] == r.path[-1] == ONE_AISLE.depot


def test_no_picks_is_standing_still() -> None:
    for method in METHODS:
        r = routed(THREE_AISLES, [], method)
        assert (r.distance_mm, r.path, r.visits_in_order) == (0, (THREE_AISLES.depot,), ())


def test_three_aisles_far_picks_are_a_loop() -> None:
    picks = [at(0, 9_000), at(2, 9_000)]
    exact = routed(THREE_AISLES, picks, "exact")
    assert exact.distance_mm == 40_000  # up aisle 0, across the back, down aisle 2, home
    assert exact.optimal and exact.algorithm == "ratliff_rosenthal"
    assert routed(THREE_AISLES, picks, "s_shape").distance_mm == 40_000


def test_three_aisles_near_picks_are_two_dips() -> None:
    picks = [at(1, 1_000), at(2, 1_000)]
    assert routed(THREE_AISLES, picks, "exact").distance_mm == 24_000
    # Both heuristics traverse the first and last pick aisles: 5 + 10 + 5 + 10 + 10 m.
    assert routed(THREE_AISLES, picks, "s_shape").distance_mm == 40_000
    assert routed(THREE_AISLES, picks, "largest_gap").distance_mm == 40_000


def test_largest_gap_enters_from_both_ends() -> None:
    # The middle aisle has picks near both ends: largest gap takes each from its own end.
    picks = [at(0, 5_000), at(1, 1_000), at(1, 9_000), at(2, 5_000)]
    lg = routed(THREE_AISLES, picks, "largest_gap")
    assert lg.distance_mm == 40_000 + 2 * 1_000 + 2 * 1_000
    assert routed(THREE_AISLES, picks, "exact").distance_mm == 44_000


def test_two_blocks_by_hand() -> None:
    picks = [at(0, 15_000), at(2, 5_000)]
    r = routed(TWO_BLOCKS, picks, "exact")
    assert r.distance_mm == 15_000 + 20_000 + 15_000
    assert r.algorithm == "held_karp" and r.optimal
    for method in BASELINES:
        assert routed(TWO_BLOCKS, picks, method).distance_mm >= r.distance_mm


def test_the_path_holds_every_intersection_and_pick_it_passes() -> None:
    picks = [at(2, 15_000)]
    r = routed(TWO_BLOCKS, picks, "exact")
    assert Point(5_000, 0) in r.path  # passed on the front cross aisle
    assert Point(10_000, 10_000) in r.path  # passed going up aisle 2
    for a, b in itertools.pairwise(r.path):
        assert a != b


def test_duplicate_picks_are_each_visited() -> None:
    picks = [at(1, 4_000), at(1, 4_000), at(0, 2_000)]
    r = routed(THREE_AISLES, picks, "exact")
    assert sorted(r.visits_in_order) == [0, 1, 2]


# -- the checker catches broken routes -----------------------------------------------------------


def test_checker_finds_each_kind_of_problem() -> None:
    picks = [at(0, 9_000), at(2, 9_000)]
    good = route(THREE_AISLES, picks, "exact")
    depot = THREE_AISLES.depot

    def kinds(r: PickRoute) -> set[str]:
        return {m.split(":")[0] for m in check_route(THREE_AISLES, picks, r)}

    assert kinds(replace(good, distance_mm=good.distance_mm + 1)) == {"distance"}
    assert "visits" in kinds(replace(good, visits_in_order=(0,)))
    assert "order" in kinds(replace(good, visits_in_order=good.visits_in_order[::-1]))
    through_racks = (depot, Point(0, 9_000), Point(10_000, 9_000), Point(10_000, 0), depot)
    assert {"segment", "distance"} <= kinds(replace(good, path=through_racks))
    diagonal = (depot, Point(0, 9_000), Point(10_000, 0), depot)
    assert "segment" in kinds(replace(good, path=diagonal, distance_mm=38_000))
    short = (depot, Point(0, 9_000), depot)
    assert "missed" in kinds(replace(good, path=short, distance_mm=18_000))
    assert "depot" in kinds(replace(good, path=good.path[1:]))
    odd_node = (depot, Point(0, 4_000), depot)
    assert "node" in kinds(replace(good, path=odd_node, distance_mm=8_000))


def test_bad_requests_are_value_errors() -> None:
    with pytest.raises(ValueError, match="unknown method"):
        route(THREE_AISLES, [], "fastest")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        route(THREE_AISLES, [at(7, 1_000)])
    with pytest.raises(ValueError):
        route(THREE_AISLES, [at(0, 10_000)])  # on the back cross aisle, not at a bin


# -- the dynamic programme and the exact methods against brute force -----------------------------


def test_ratliff_rosenthal_has_seven_classes() -> None:
    start = (0, 0, 0)
    seen, todo = {start}, [start]
    vertical = [
        (1, 1, True),
        (2, 2, True),
        (0, 2, False),
        (2, 0, False),
        (2, 2, False),
        (0, 0, False),
    ]
    while todo:
        s = todo.pop()
        nxt = [pickroute._through_aisle(s, *v) for v in vertical]
        nxt += [pickroute._across(s, *c) for c in pickroute._CROSSINGS]
        for t in nxt:
            if t is not None and t not in seen:
                seen.add(t)
                todo.append(t)
    odd, even, closed = pickroute._ODD, pickroute._EVEN, pickroute._CLOSED
    assert seen == {
        (odd, odd, 1),
        (even, 0, 1),
        (0, even, 1),
        (even, even, 1),
        (even, even, 2),
        (0, 0, 0),
        (0, 0, closed),
    }


@st.composite
def instances(draw: st.DrawFn, max_blocks: int) -> tuple[Layout, list[Location]]:
    aisles = draw(st.integers(1, 6))
    blocks = draw(st.integers(1, max_blocks))
    gaps = draw(st.lists(st.integers(3_000, 8_000), min_size=aisles, max_size=aisles))
    depths = draw(st.lists(st.integers(4_000, 15_000), min_size=blocks, max_size=blocks))
    xs = list(itertools.accumulate(gaps, initial=0))[:aisles]
    ys = list(itertools.accumulate(depths, initial=0))
    layout = Layout(
        name="random",
        aisles=tuple(Aisle(x, 1_000) for x in xs),
        cross_aisles=tuple(CrossAisle(y, 1_000) for y in ys),
        depot_aisle=draw(st.integers(0, aisles - 1)),
    )
    raw = draw(
        st.lists(
            st.tuples(
                st.integers(0, aisles - 1), st.integers(0, blocks - 1), st.floats(0.05, 0.95)
            ),
            max_size=7,
        )
    )
    picks = [at(a, ys[k] + max(1, min(depths[k] - 1, round(f * depths[k])))) for a, k, f in raw]
    return layout, picks


@settings(FAST)
@given(instances(max_blocks=1))
def test_ratliff_rosenthal_equals_brute_force(case: tuple[Layout, list[Location]]) -> None:
    layout, picks = case
    exact = routed(layout, picks, "exact")
    assert exact.optimal
    assert exact.distance_mm == brute_force(layout, picks)
    for method in BASELINES:
        assert routed(layout, picks, method).distance_mm >= exact.distance_mm


@settings(FAST)
@given(instances(max_blocks=3))
def test_multi_block_exact_equals_brute_force(case: tuple[Layout, list[Location]]) -> None:
    layout, picks = case
    exact = routed(layout, picks, "exact")
    assert exact.distance_mm == brute_force(layout, picks)
    assert routed(layout, picks, "auto").distance_mm == exact.distance_mm
    for method in BASELINES:
        assert routed(layout, picks, method).distance_mm >= exact.distance_mm


@settings(FAST)
@given(instances(max_blocks=2), st.sampled_from(METHODS))
def test_route_distance_is_the_routes_length(
    case: tuple[Layout, list[Location]], method: Method
) -> None:
    layout, picks = case
    assert route_distance(layout, picks, method) == route(layout, picks, method).distance_mm


def test_route_distance_is_the_routes_length_on_many_picks() -> None:
    layout = generate(blocks=1, aisles=14, bins_per_side=20, levels=3)
    for step in (5, 11, 37, 101):
        picks = [layout.location(b.id) for b in layout.bins[::step]]
        assert route_distance(layout, picks) == route(layout, picks).distance_mm


def test_many_picks_on_many_blocks_use_pyvrp_and_stay_valid() -> None:
    layout = generate(blocks=3, aisles=8, bins_per_side=10, levels=1)
    step = len(layout.bins) // 25
    picks = [layout.location(b.id) for b in layout.bins[::step]][:25]
    auto = routed(layout, picks, "auto")
    assert (auto.algorithm, auto.optimal) == ("pyvrp", False)
    assert routed(layout, picks, "auto").path == auto.path  # same seed, same route
    for method in BASELINES:
        assert routed(layout, picks, method).distance_mm >= auto.distance_mm * 0.99
    with pytest.raises(ValueError, match="at most"):
        route(layout, picks, "exact")


def test_ratliff_rosenthal_takes_many_picks() -> None:
    layout = generate(blocks=1, aisles=20, bins_per_side=15, levels=2)
    picks = [layout.location(b.id) for b in layout.bins[::13]]
    exact = routed(layout, picks, "exact")
    for method in BASELINES:
        assert routed(layout, picks, method).distance_mm >= exact.distance_mm
