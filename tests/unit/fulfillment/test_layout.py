"""Layouts: validation, the generator, JSON round trips and walking distances."""

from __future__ import annotations

import heapq
import json
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubflow.fulfillment.layout import (
    Aisle,
    CrossAisle,
    Layout,
    Location,
    Point,
    generate,
)

FAST = settings(deadline=None, max_examples=30, suppress_health_check=[HealthCheck.too_slow])


def grid(aisles: int, blocks: int, depot_aisle: int = 0) -> Layout:
    """Aisles every 5 m, blocks 10 m deep: distances easy to check by eye."""
    return Layout(
        name=f"{aisles}x{blocks}",
        aisles=tuple(Aisle(5_000 * i, 1_000) for i in range(aisles)),
        cross_aisles=tuple(CrossAisle(10_000 * k, 1_000) for k in range(blocks + 1)),
        depot_aisle=depot_aisle,
    )


def dijkstra(graph: dict[Point, dict[Point, int]], start: Point) -> dict[Point, int]:
    best = {start: 0}
    queue = [(0, start)]
    while queue:
        d, u = heapq.heappop(queue)
        if d > best[u]:
            continue
        for v, w in graph[u].items():
            if d + w < best.get(v, d + w + 1):
                best[v] = d + w
                heapq.heappush(queue, (d + w, v))
    return best


def test_generated_layout_has_every_bin_and_round_trips_through_json() -> None:
    layout = generate(blocks=2, aisles=4, bins_per_side=5, levels=3, zones=("ambient", "chilled"))
    assert layout.blocks == 2
    assert len(layout.aisles) == 4
    assert len(layout.racks) == 4 * 2 * 2
    assert len(layout.bins) == 4 * 2 * 2 * 5 * 3
    assert layout.depot == Point(layout.aisles[0].x_mm, 0)
    assert {r.zone for r in layout.racks if r.aisle < 2} == {"z1"}
    assert {r.zone for r in layout.racks if r.aisle >= 2} == {"z2"}
    doc = json.loads(json.dumps(layout.as_json()))
    assert Layout.from_json(doc) == layout
    assert generate(seed=3) == generate(seed=3)


def test_bin_location_and_coordinates() -> None:
    layout = generate(blocks=1, aisles=2, bins_per_side=3, levels=2, seed=1)
    left, right = (next(b for b in layout.bins if b.rack.startswith(f"A01{s}")) for s in "LR")
    aisle_x = layout.aisles[0].x_mm
    assert layout.location(left.id) == Location(0, left.position_mm, "left")
    assert layout.location(right.id).side == "right"
    x_left, y, z = layout.coordinates(left.id)
    x_right, _, _ = layout.coordinates(right.id)
    assert x_left < aisle_x < x_right
    assert (y, z) == (left.position_mm, 0)
    with pytest.raises(ValueError, match="no bin"):
        layout.location("nowhere")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"aisles": ()}, "at least one aisle"),
        ({"cross_aisles": (CrossAisle(0, 1_000),)}, "front and a back"),
        ({"aisles": (Aisle(0, 1_000), Aisle(900, 1_000))}, "overlap"),
        ({"cross_aisles": (CrossAisle(10_000, 1_000), CrossAisle(0, 1_000))}, "out of order"),
        ({"depot_aisle": 5}, "depot_aisle"),
    ],
)
def test_bad_geometry_is_rejected(change: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {
        "name": "bad",
        "aisles": (Aisle(0, 1_000), Aisle(5_000, 1_000)),
        "cross_aisles": (CrossAisle(0, 1_000), CrossAisle(10_000, 1_000)),
    }
    with pytest.raises(ValueError, match=message):
        Layout(**{**base, **change})


def test_bad_documents_are_value_errors() -> None:
    doc = generate(aisles=2, bins_per_side=2, levels=1).as_json()
    for broken in (
        {**doc, "format": 99},
        {k: v for k, v in doc.items() if k != "aisles"},
        {**doc, "aisles": [{"x_mm": True, "width_mm": 1_000}]},
        {**doc, "racks": [{**doc["racks"][0], "side": "middle"}]},
        {**doc, "racks": [{**doc["racks"][0], "zone": "nope"}, *doc["racks"][1:]]},
        {**doc, "bins": [*doc["bins"], doc["bins"][0]]},
        {**doc, "bins": [{**doc["bins"][0], "position_mm": 0}]},
        {**doc, "bins": [{**doc["bins"][0], "max_weight_g": 0}]},
    ):
        with pytest.raises(ValueError):
            Layout.from_json(broken)


def test_locations_must_be_inside_a_block() -> None:
    layout = grid(2, 2)
    assert layout.block_of(Location(1, 15_000, "left")) == 1
    for bad in (Location(0, 10_000, "left"), Location(0, 0, "left"), Location(2, 500, "left")):
        with pytest.raises(ValueError):
            layout.point(bad)
    with pytest.raises(ValueError):
        Location(0, 500, "up")  # type: ignore[arg-type]


def test_distances_on_two_blocks_by_hand() -> None:
    layout = grid(3, 2)
    a, b = Location(0, 15_000, "left"), Location(2, 5_000, "right")
    assert layout.distance(a, a) == 0
    assert layout.distance(layout.depot, a) == 15_000  # straight up aisle 0
    assert layout.distance(a, b) == 5_000 + 10_000 + 5_000  # down to the middle cross aisle
    assert layout.distance(Location(1, 2_000, "left"), Location(2, 3_000, "left")) == 10_000
    corners = [(0, 15_000), (0, 10_000), (10_000, 10_000), (10_000, 5_000)]
    assert layout.walk(a, b) == [Point(x, y) for x, y in corners]


@FAST
@given(
    st.integers(1, 5),
    st.integers(1, 3),
    st.lists(st.tuples(st.integers(0, 4), st.integers(1, 29_999)), min_size=1, max_size=8),
)
def test_distance_is_the_shortest_walk_in_the_graph(
    aisles: int, blocks: int, raw: list[tuple[int, int]]
) -> None:
    layout = grid(aisles, blocks)
    points = [
        Point(5_000 * (a % aisles), y)
        for a, y in raw
        if y < 10_000 * blocks and y % 10_000  # inside a block
    ] + [layout.depot]
    graph = layout.graph(points)
    matrix = layout.distance_matrix(points)
    for i, p in enumerate(points):
        walked = dijkstra(graph, p)
        for j, q in enumerate(points):
            assert layout.distance(p, q) == walked[q] == matrix[i, j]
            steps = list(pairwise(layout.walk(p, q)))
            assert all(u.x_mm == v.x_mm or u.y_mm == v.y_mm for u, v in steps)
            assert sum(abs(u.x_mm - v.x_mm) + abs(u.y_mm - v.y_mm) for u, v in steps) == walked[q]
