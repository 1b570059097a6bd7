"""Picker routes: from the depot past every pick location and back, walking only along aisles.

Methods (``route(..., method=...)``):

* ``"exact"``: the shortest route. Single-block layouts use Ratliff & Rosenthal's (1983)
  dynamic programme over the aisles (linear in the number of aisles, any number of picks);
  multi-block layouts solve the travelling-salesman problem over walking distances between the
  distinct pick points with Held-Karp, up to :data:`EXACT_MAX_POINTS` points.
* ``"auto"``: ``"exact"`` where that is fast (always on one block, up to
  :data:`HELD_KARP_MAX_POINTS` points on several), otherwise PyVRP on the same small
  travelling-salesman problem with an iteration budget (near-optimal, a few tens of ms).
* ``"s_shape"`` and ``"largest_gap"``: the classic heuristics (Hall 1993) as baselines. On
  several blocks, S-shape follows Roodbergen & de Koster (2001): up the left-most pick aisle to
  the farthest block, then block by block towards the front, each in S-shape. Largest gap is
  extended the same way: up the left-most pick aisle to the back of the farthest block, then on
  each cross aisle in and out of the sub-aisles on both sides up to their largest gaps, and
  down through the last sub-aisle of the block below.

Every route comes with the walked polyline of graph nodes, so :func:`check_route` can verify it
without trusting the method that made it.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import pyvrp
from pyvrp.stop import MaxIterations

from hubflow.fulfillment.layout import IntMatrix, Layout, Location, Point

__all__ = [
    "EXACT_MAX_POINTS",
    "HELD_KARP_MAX_POINTS",
    "METHODS",
    "Method",
    "PickRoute",
    "check_route",
    "route",
    "route_distance",
]

Method = Literal["auto", "exact", "s_shape", "largest_gap"]
METHODS: tuple[Method, ...] = ("auto", "exact", "s_shape", "largest_gap")
# Held-Karp is O(2^n n^2): about 3 ms at 12 points, about 25 ms at 15.
HELD_KARP_MAX_POINTS = 12
EXACT_MAX_POINTS = 15
# About 0.12 ms per iteration at 30 points: 12 ms a route (p99 15 ms) on the picking benchmark,
# where it matched a 5,000-iteration run on 97 % of lists (mean gap 0.02 %). 150 iterations
# gained nothing measurable and had a p99 near 45 ms.
PYVRP_ITERATIONS = 100


@dataclass(frozen=True, slots=True)
class PickRoute:
    """``visits_in_order`` holds indices into the picks, in the order the walk first reaches
    them; ``path`` is the walk, node by node, from the depot back to it; ``algorithm`` names
    what made it and ``optimal`` says whether it is proven shortest."""

    visits_in_order: tuple[int, ...]
    distance_mm: int
    path: tuple[Point, ...]
    algorithm: str
    optimal: bool

    def __post_init__(self) -> None:
        if self.distance_mm < 0:
            raise ValueError(f"distance_mm must not be negative: {self.distance_mm}")
        if not self.path:
            raise ValueError("a route's path has at least the depot")
        if len(set(self.visits_in_order)) != len(self.visits_in_order):
            raise ValueError("a route visits each pick once")


def route(
    layout: Layout, picks: Sequence[Location], method: Method = "auto", *, seed: int = 0
) -> PickRoute:
    """The picker's route from the depot past every pick and back. ``seed`` only matters where
    PyVRP runs (``"auto"`` on large multi-block pick lists)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    points = [layout.point(p) for p in picks]
    if method == "s_shape":
        return _finish(layout, points, _s_shape(layout, points), "s_shape", False)
    if method == "largest_gap":
        return _finish(layout, points, _largest_gap(layout, points), "largest_gap", False)
    if layout.blocks == 1:
        corners = _ratliff_rosenthal(layout, points)
        return _finish(layout, points, corners, "ratliff_rosenthal", True)
    stops = sorted(set(points))
    limit = EXACT_MAX_POINTS if method == "exact" else HELD_KARP_MAX_POINTS
    if len(stops) > limit and method == "exact":
        raise ValueError(
            f"exact routes on multi-block layouts take at most {limit} distinct pick points, "
            f"not {len(stops)}; use method='auto'"
        )
    nodes = [layout.depot, *stops]
    dist = layout.distance_matrix(nodes)
    if len(stops) <= limit:
        order, algorithm, optimal = _held_karp(dist), "held_karp", True
    else:
        order, algorithm, optimal = _pyvrp_tour(dist, seed), "pyvrp", False
    walk: list[Point] = [layout.depot]
    for a, b in pairwise([0, *order, 0]):
        walk += layout.walk(nodes[a], nodes[b])[1:]
    return _finish(layout, points, walk, algorithm, optimal)


def route_distance(
    layout: Layout, picks: Sequence[Location], method: Method = "auto", *, seed: int = 0
) -> int:
    """``route(layout, picks, method, seed=seed).distance_mm``, without building the walk
    where the method allows it (the shortest route on one block): batching compares many
    candidate carts by distance alone."""
    if method in ("auto", "exact") and layout.blocks == 1:
        return _rr_distance(layout, [layout.point(p) for p in picks])
    return route(layout, picks, method, seed=seed).distance_mm


# -- turning a walk into a route ------------------------------------------------------------------


def _finish(
    layout: Layout, points: list[Point], corners: list[Point], algorithm: str, optimal: bool
) -> PickRoute:
    path = _polyline(layout, corners, set(points))
    at: dict[Point, list[int]] = defaultdict(list)
    for i, p in enumerate(points):
        at[p].append(i)
    visits: list[int] = []
    for p in path:
        visits += at.pop(p, [])
    distance = sum(abs(a.x_mm - b.x_mm) + abs(a.y_mm - b.y_mm) for a, b in pairwise(path))
    return PickRoute(tuple(visits), distance, tuple(path), algorithm, optimal)


def _polyline(layout: Layout, corners: list[Point], stops: set[Point]) -> list[Point]:
    """The walk through ``corners`` with every intersection and pick point it passes as a node,
    so each step is one edge of the walking graph."""
    cross_ys = [c.y_mm for c in layout.cross_aisles]
    aisle_xs = [a.x_mm for a in layout.aisles]
    on_aisle: dict[int, list[int]] = {x: list(cross_ys) for x in aisle_xs}
    for p in stops:
        on_aisle[p.x_mm].append(p.y_mm)
    for ys in on_aisle.values():
        ys[:] = sorted(set(ys))
    path = [corners[0]]
    for a, b in pairwise(corners):
        if a == b:
            continue
        if a.x_mm == b.x_mm:
            ys = on_aisle[a.x_mm]
            lo, hi = sorted((a.y_mm, b.y_mm))
            mid = ys[bisect.bisect_right(ys, lo) : bisect.bisect_left(ys, hi)]
            path += [Point(a.x_mm, y) for y in (mid if a.y_mm < b.y_mm else reversed(mid))]
        else:
            lo, hi = sorted((a.x_mm, b.x_mm))
            mid = aisle_xs[bisect.bisect_right(aisle_xs, lo) : bisect.bisect_left(aisle_xs, hi)]
            path += [Point(x, a.y_mm) for x in (mid if a.x_mm < b.x_mm else reversed(mid))]
        path.append(b)
    return path


# -- Ratliff & Rosenthal (1983) --------------------------------------------------------------------
#
# A tour is a multigraph on the aisle graph that is connected, has only even degrees and holds
# every pick and the depot. Sweeping the aisles left to right, a partial tour is summarised by
# the degree of the current aisle's front end a and back end b (zero, odd or even and non-zero)
# and how its parts connect: none yet, one part, two parts (one at a, one at b), or one part
# already closed (nothing may follow). Only seven such classes occur; the programme keeps the
# cheapest partial tour per class. Transitions are computed from these semantics rather than
# copied from the paper's tables, and the test suite checks them against Held-Karp.

_ZERO, _ODD, _EVEN = 0, 1, 2
_CLOSED = 3  # connectivity: a finished tour lies to the left
_State = tuple[int, int, int]  # degree of a, degree of b, connectivity (parts or _CLOSED)
# Cross-aisle edges to the next aisle, (front, back) copies: an odd total would cut the tour.
_CROSSINGS = ((0, 0), (1, 1), (2, 0), (0, 2), (2, 2))


def _add(degree: int, copies: int) -> int:
    if copies == 0:
        return degree
    return _ODD if (degree % 2 + copies) % 2 else _EVEN


def _parts(state: _State) -> dict[str, int]:
    da, db, conn = state
    out = {}
    if da:
        out["a"] = 0
    if db:
        out["b"] = 0 if conn == 1 else 1
    return out


@cache
def _through_aisle(state: _State, add_a: int, add_b: int, join: bool) -> _State | None:
    da, db, conn = state
    if conn == _CLOSED:
        return state if add_a == add_b == 0 else None
    parts = _parts(state)
    if add_a and "a" not in parts:
        parts["a"] = 2
    if add_b and "b" not in parts:
        parts["b"] = 3
    if join:
        parts["b"] = parts["a"]
    return _add(da, add_a), _add(db, add_b), len(set(parts.values()))


@cache
def _across(state: _State, front: int, back: int) -> _State | None:
    da, db, conn = state
    if conn == _CLOSED:
        return state if front == back == 0 else None
    # a and b get no more edges after these: their degrees are final and must be even.
    if _add(da, front) == _ODD or _add(db, back) == _ODD:
        return None
    parts = _parts(state)
    if front and "a" not in parts:
        parts["a"] = 2
    if back and "b" not in parts:
        parts["b"] = 3
    going = {parts[v] for v, k in (("a", front), ("b", back)) if k}
    left_behind = set(parts.values()) - going
    if left_behind:
        # A part that reaches no further is finished: fine only if it is the whole tour.
        return (_ZERO, _ZERO, _CLOSED) if len(left_behind) == 1 and not going else None
    return _add(_ZERO, front), _add(_ZERO, back), len(going)


# One way to walk an aisle: degree added at a and at b, whether it links a and b, its length,
# and its stretches (from, to, copies) as offsets from the front end.
_AisleOption = tuple[int, int, bool, int, tuple[tuple[int, int, int], ...]]


def _aisle_options(offsets: list[int], length: int) -> list[_AisleOption]:
    options: list[_AisleOption] = [
        (1, 1, True, length, ((0, length, 1),)),  # through, once
        (2, 2, True, 2 * length, ((0, length, 2),)),  # through, twice
    ]
    if not offsets:
        options.append((0, 0, False, 0, ()))
        return options
    lo, hi = offsets[0], offsets[-1]
    options.append((0, 2, False, 2 * (length - lo), ((lo, length, 2),)))  # in and out at the back
    options.append((2, 0, False, 2 * hi, ((0, hi, 2),)))  # in and out at the front
    if len(offsets) > 1:  # both ends, leaving out the largest gap between two picks
        gap, i = max((b - a, i) for i, (a, b) in enumerate(pairwise(offsets)))
        stretches = ((0, offsets[i], 2), (offsets[i + 1], length, 2))
        options.append((2, 2, False, 2 * (length - gap), stretches))
    return options


_Steps = list[tuple[list[_AisleOption], dict[_State, Any], dict[_State, Any]]]
_DONE: _State = (_ZERO, _ZERO, _CLOSED)


def _aisle_offsets(layout: Layout, points: list[Point]) -> list[list[int]]:
    """Per aisle, the pick positions as offsets from the front cross aisle, sorted."""
    y0 = layout.cross_aisles[0].y_mm
    by_x: dict[int, set[int]] = defaultdict(set)
    for p in points:
        by_x[p.x_mm].add(p.y_mm - y0)
    by_x[layout.depot.x_mm].add(0)  # the depot is a pick at the front end of its aisle
    return [sorted(by_x.get(a.x_mm, ())) for a in layout.aisles]


def _rr_distance(layout: Layout, points: list[Point]) -> int:
    """The length of :func:`_ratliff_rosenthal`'s tour, without walking it: the same
    programme on numbered classes with the transitions looked up in tables (batching asks
    for thousands of lengths per wave)."""
    if not points:
        return 0
    through, across, done = _rr_tables()
    n = len(through)
    xs = [a.x_mm for a in layout.aisles]
    length = layout.cross_aisles[1].y_mm - layout.cross_aisles[0].y_mm
    inf = 1 << 62
    best = [inf] * n
    best[0] = 0  # the start class is numbered first
    for j, offsets in enumerate(_aisle_offsets(layout, points)):
        options = [(_KINDS.index(o[:3]), o[3]) for o in _aisle_options(offsets, length)]
        after = [inf] * n
        for s, cost in enumerate(best):
            if cost == inf:
                continue
            row = through[s]
            for k, walk in options:
                t = row[k]
                if t >= 0 and cost + walk < after[t]:
                    after[t] = cost + walk
        last = j + 1 == len(xs)
        width = 0 if last else xs[j + 1] - xs[j]
        best = [inf] * n
        for s, cost in enumerate(after):
            if cost == inf:
                continue
            row = across[s]
            for c, (front, back) in enumerate(_CROSSINGS[:1] if last else _CROSSINGS):
                t = row[c]
                if t >= 0 and cost + (front + back) * width < best[t]:
                    best[t] = cost + (front + back) * width
    return best[done]


# The ways to walk an aisle, by what they add at its ends and whether they link them.
_KINDS = ((1, 1, True), (2, 2, True), (0, 0, False), (0, 2, False), (2, 0, False), (2, 2, False))


@cache
def _rr_tables() -> tuple[list[list[int]], list[list[int]], int]:
    """Every class a partial tour can reach, numbered from the start class: the class after
    each kind of aisle walk and after each crossing (-1 where not allowed), and the finished
    tour's number."""
    states: list[_State] = [(_ZERO, _ZERO, 0)]
    number = {states[0]: 0}
    through: list[list[int]] = []
    across: list[list[int]] = []

    def num(t: _State | None) -> int:
        if t is None:
            return -1
        if t not in number:
            number[t] = len(states)
            states.append(t)
        return number[t]

    i = 0
    while i < len(states):
        s = states[i]
        through.append([num(_through_aisle(s, a, b, join)) for a, b, join in _KINDS])
        across.append([num(_across(s, front, back)) for front, back in _CROSSINGS])
        i += 1
    return through, across, num(_DONE)


def _ratliff_rosenthal(layout: Layout, points: list[Point]) -> list[Point]:
    xs = [a.x_mm for a in layout.aisles]
    y0, y1 = layout.cross_aisles[0].y_mm, layout.cross_aisles[1].y_mm
    if not points:
        return [layout.depot]
    offsets = _aisle_offsets(layout, points)
    steps = _rr_programme(layout, offsets)

    edges: list[tuple[Point, Point]] = []
    state: _State = _DONE
    for j in range(len(xs) - 1, -1, -1):
        options, after, nxt = steps[j]
        _, state, (front, back) = nxt[state]
        if j + 1 < len(xs):
            edges += [(Point(xs[j], y0), Point(xs[j + 1], y0))] * front
            edges += [(Point(xs[j], y1), Point(xs[j + 1], y1))] * back
        _, state, o = after[state]
        for lo, hi, copies in options[o][4]:
            stops = sorted({lo, hi, *(v for v in offsets[j] if lo <= v <= hi)})
            for a, b in pairwise(stops):
                edges += [(Point(xs[j], y0 + a), Point(xs[j], y0 + b))] * copies
    return _euler(edges, layout.depot)


def _rr_programme(layout: Layout, offsets: list[list[int]]) -> _Steps:
    """The dynamic programme's table, aisle by aisle: the options, the cheapest partial tour
    per class after walking the aisle and after crossing to the next, each with how it was
    reached. The last step's ``_DONE`` entry holds the shortest tour's length."""
    xs = [a.x_mm for a in layout.aisles]
    length = layout.cross_aisles[1].y_mm - layout.cross_aisles[0].y_mm
    start: _State = (_ZERO, _ZERO, 0)
    best: dict[_State, int] = {start: 0}
    steps: _Steps = []
    for j, x in enumerate(xs):
        options = _aisle_options(offsets[j], length)
        after: dict[_State, tuple[int, _State, int]] = {}
        for s, cost in best.items():
            for o, (add_a, add_b, join, walk, _) in enumerate(options):
                t = _through_aisle(s, add_a, add_b, join)
                if t is not None and (t not in after or cost + walk < after[t][0]):
                    after[t] = (cost + walk, s, o)
        width = xs[j + 1] - x if j + 1 < len(xs) else 0
        crossings = _CROSSINGS if j + 1 < len(xs) else ((0, 0),)
        nxt: dict[_State, tuple[int, _State, tuple[int, int]]] = {}
        for s, (cost, _, _) in after.items():
            for front, back in crossings:
                t = _across(s, front, back)
                c = cost + (front + back) * width
                if t is not None and (t not in nxt or c < nxt[t][0]):
                    nxt[t] = (c, s, (front, back))
        steps.append((options, after, nxt))
        best = {t: v[0] for t, v in nxt.items()}
    return steps


def _euler(edges: list[tuple[Point, Point]], start: Point) -> list[Point]:
    """Hierholzer's closed walk over every edge of a connected even multigraph."""
    adj: dict[Point, list[tuple[Point, int]]] = defaultdict(list)
    for i, (u, v) in enumerate(edges):
        adj[u].append((v, i))
        adj[v].append((u, i))
    used = [False] * len(edges)
    stack, walk = [start], []
    while stack:
        u = stack[-1]
        while adj[u] and used[adj[u][-1][1]]:
            adj[u].pop()
        if adj[u]:
            v, i = adj[u].pop()
            used[i] = True
            stack.append(v)
        else:
            walk.append(stack.pop())
    return walk[::-1]


# -- travelling salesman over the distinct pick points -------------------------------------------


def _held_karp(dist: IntMatrix) -> list[int]:
    """Shortest tour from node 0 through all others; returns the others in tour order.

    Vectorised by subset size: for each size and each last node, one array operation over all
    subsets of that size."""
    n = dist.shape[0] - 1
    if n <= 1:
        return list(range(1, n + 1))
    full = 1 << n
    inf = np.int64(1) << 60
    cost = np.full((full, n), inf, dtype=np.int64)
    parent = np.full((full, n), -1, dtype=np.int8)
    for j in range(n):
        cost[1 << j, j] = dist[0, j + 1]
    masks = np.arange(full, dtype=np.int64)
    size = np.zeros(full, dtype=np.int64)
    for j in range(n):
        size += (masks >> j) & 1
    into = dist[1:, 1:]  # into[k, j]: from pick k to pick j
    for s in range(2, n + 1):
        level = masks[size == s]
        for j in range(n):
            ends = level[(level >> j) & 1 == 1]
            prev = cost[ends ^ (1 << j)] + into[:, j][None, :]
            k = prev.argmin(axis=1)
            cost[ends, j] = prev[np.arange(len(ends)), k]
            parent[ends, j] = k
    last = int((cost[full - 1] + dist[1:, 0]).argmin())
    order, mask = [], full - 1
    while last >= 0:
        order.append(last + 1)
        mask, last = mask ^ (1 << last), int(parent[mask, last])
    return order[::-1]


def _pyvrp_tour(dist: IntMatrix, seed: int) -> list[int]:
    n = dist.shape[0]
    # PyVRP's stubs type matrices as ``ndarray[int]``, which no real array satisfies.
    matrix: Any = dist
    zeros: Any = np.zeros_like(dist)
    data = pyvrp.ProblemData(
        locations=[pyvrp.Location(0.0, 0.0) for _ in range(n)],
        clients=[pyvrp.Client(location=i) for i in range(1, n)],
        depots=[pyvrp.Depot(location=0)],
        vehicle_types=[pyvrp.VehicleType(1)],
        distance_matrices=[matrix],
        duration_matrices=[zeros],
    )
    result = pyvrp.solve(
        data, MaxIterations(PYVRP_ITERATIONS), seed=seed, collect_stats=False, display=False
    )
    (tour,) = result.best.routes()
    # Client k of the problem is node k + 1 of the matrix.
    return [a.idx + 1 for a in tour.schedule() if a.type == pyvrp.ActivityType.CLIENT]


# -- heuristics -----------------------------------------------------------------------------------


class _Walk:
    """Corners of a walk under construction: moves along the current aisle or cross aisle."""

    def __init__(self, start: Point) -> None:
        self.corners = [start]

    @property
    def x(self) -> int:
        return self.corners[-1].x_mm

    @property
    def y(self) -> int:
        return self.corners[-1].y_mm

    def to_y(self, y: int) -> None:
        self.corners.append(Point(self.x, y))

    def to_x(self, x: int) -> None:
        self.corners.append(Point(x, self.y))


def _subaisles(layout: Layout, points: list[Point]) -> dict[tuple[int, int], list[int]]:
    """Pick positions per (block, aisle), sorted front to back."""
    ys = [c.y_mm for c in layout.cross_aisles]
    aisle = {a.x_mm: i for i, a in enumerate(layout.aisles)}
    sub: dict[tuple[int, int], set[int]] = defaultdict(set)
    for p in points:
        sub[bisect.bisect_left(ys, p.y_mm) - 1, aisle[p.x_mm]].add(p.y_mm)
    return {key: sorted(v) for key, v in sub.items()}


def _toward_nearer_end(x: int, aisles: list[int], xs: list[int]) -> list[int]:
    """``aisles`` (sorted) in the order a sweep starting at the nearer end visits them."""
    if aisles and abs(x - xs[aisles[-1]]) < abs(x - xs[aisles[0]]):
        return aisles[::-1]
    return aisles


def _s_shape(layout: Layout, points: list[Point]) -> list[Point]:
    xs = [a.x_mm for a in layout.aisles]
    ys = [c.y_mm for c in layout.cross_aisles]
    depot = layout.depot
    walk = _Walk(depot)
    sub = _subaisles(layout, points)
    if not sub:
        return walk.corners
    left = min(i for _, i in sub)
    far = max(k for k, _ in sub)
    walk.to_x(xs[left])
    # Up the left pick aisle to the farthest block, picking on the way.
    done = {(k, left) for k in range(far)}
    if [i for k, i in sub if k == far] == [left]:
        walk.to_y(sub[far, left][-1])
        done.add((far, left))
    walk.to_y(ys[far])
    for k in range(far, -1, -1):
        aisles = sorted(i for kk, i in sub if kk == k and (k, i) not in done)
        if not aisles:
            continue
        walk.to_y(min(walk.y, ys[k + 1]))
        aisles = _toward_nearer_end(walk.x, aisles, xs)
        for n, i in enumerate(aisles):
            walk.to_x(xs[i])
            at_front = walk.y == ys[k]
            if n < len(aisles) - 1 or not at_front:
                walk.to_y(ys[k + 1] if at_front else ys[k])
            else:  # the last one from the front: in to the farthest pick and back
                walk.to_y(sub[k, i][-1])
                walk.to_y(ys[k])
    walk.to_y(ys[0])
    walk.to_x(depot.x_mm)
    return walk.corners


def _split_at_largest_gap(picks: list[int], lo: int, hi: int) -> int:
    """Index of the first pick reached from the back end when the largest gap is skipped."""
    ends = [lo, *picks, hi]
    return max((b - a, i) for i, (a, b) in enumerate(pairwise(ends)))[1]


def _largest_gap(layout: Layout, points: list[Point]) -> list[Point]:
    xs = [a.x_mm for a in layout.aisles]
    ys = [c.y_mm for c in layout.cross_aisles]
    depot = layout.depot
    walk = _Walk(depot)
    sub = _subaisles(layout, points)
    if not sub:
        return walk.corners
    left = min(i for _, i in sub)
    far = max(k for k, _ in sub)
    walk.to_x(xs[left])
    done = {(k, left) for k in range(far + 1)}
    split = {key: _split_at_largest_gap(v, ys[key[0]], ys[key[0] + 1]) for key, v in sub.items()}
    if any(k == far and i != left for k, i in sub):
        walk.to_y(ys[far + 1])  # through the left pick aisle to the back of the farthest block
        c = far + 1
    else:
        walk.to_y(sub[far, left][-1])
        walk.to_y(ys[far])
        c = far
    while True:
        # On cross aisle c: in and out of block c from its front (picks before the gap) and of
        # block c - 1 from its back (picks after the gap); then down through one aisle of c - 1.
        ups = {
            i: v[split[k, i] - 1]
            for (k, i), v in sub.items()
            if k == c and (k, i) not in done and split[k, i] > 0
        }
        lower = {i: v for (k, i), v in sub.items() if k == c - 1 and (k, i) not in done}
        targets = _toward_nearer_end(walk.x, sorted(set(ups) | set(lower)), xs)
        down_at = [i for i in targets if i in lower][-1] if lower else None
        for i in targets:
            walk.to_x(xs[i])
            if i in ups:
                walk.to_y(ups[i])
                walk.to_y(ys[c])
            if i in lower and i != down_at and split[c - 1, i] < len(lower[i]):
                walk.to_y(lower[i][split[c - 1, i]])
                walk.to_y(ys[c])
        if c == 0:
            break
        if down_at is not None:
            walk.to_x(xs[down_at])
            done.add((c - 1, down_at))
        walk.to_y(ys[c - 1])
        c -= 1
    walk.to_x(depot.x_mm)
    return walk.corners


# -- the checker ----------------------------------------------------------------------------------


def check_route(layout: Layout, picks: Sequence[Location], route: PickRoute) -> list[str]:
    """Everything wrong with ``route`` for ``picks``; empty when it is a valid route.

    Independent of how routes are made: it reads the layout's aisles and cross aisles and walks
    the path itself. Each problem starts with its kind: ``depot:``, ``segment:``, ``node:``,
    ``visits:``, ``missed:``, ``order:`` or ``distance:``."""
    out: list[str] = []
    xs = {a.x_mm for a in layout.aisles}
    ys = {c.y_mm for c in layout.cross_aisles}
    x_lo, x_hi = min(xs), max(xs)
    y_lo, y_hi = min(ys), max(ys)
    depot = (layout.aisles[layout.depot_aisle].x_mm, y_lo)
    spots = [(layout.aisles[p.aisle].x_mm, p.position_mm) for p in picks]
    path = [(p.x_mm, p.y_mm) for p in route.path]
    if not path or path[0] != depot or path[-1] != depot:
        out.append(f"depot: the path must start and end at the depot {depot}")
    allowed = {depot, *spots, *((x, y) for x in xs for y in ys)}
    out += [f"node: {p} is neither an intersection nor a pick" for p in path if p not in allowed]
    length = 0
    for (ax, ay), (bx, by) in pairwise(path):
        length += abs(ax - bx) + abs(ay - by)
        along_aisle = ax == bx and ax in xs and y_lo <= min(ay, by) and max(ay, by) <= y_hi
        along_cross = ay == by and ay in ys and x_lo <= min(ax, bx) and max(ax, bx) <= x_hi
        if not (along_aisle or along_cross):
            out.append(f"segment: ({ax}, {ay}) to ({bx}, {by}) leaves the aisles")
    if length != route.distance_mm:
        out.append(f"distance: the path is {length} mm, the route says {route.distance_mm} mm")
    if sorted(route.visits_in_order) != list(range(len(picks))):
        out.append(f"visits: {list(route.visits_in_order)} is not each of {len(picks)} picks once")
        return out
    # Each visit must come at or after the previous one along the path.
    seg, t = 0, 0
    for i in route.visits_in_order:
        found = _reach(path, spots[i], seg, t)
        if found is None:
            on_path = _reach(path, spots[i], 0, 0) is not None
            kind = "order" if on_path else "missed"
            out.append(f"{kind}: pick {i} at {spots[i]} is not on the path after the previous")
            continue
        seg, t = found
    return out


def _reach(
    path: list[tuple[int, int]], spot: tuple[int, int], seg: int, t: int
) -> tuple[int, int] | None:
    """The first place, at or after segment ``seg`` and distance ``t`` into it, where the path
    passes ``spot``."""
    if len(path) == 1:
        return (0, 0) if path[0] == spot and seg == 0 else None
    for s in range(seg, len(path) - 1):
        (ax, ay), (bx, by) = path[s], path[s + 1]
        on = min(ax, bx) <= spot[0] <= max(ax, bx) and min(ay, by) <= spot[1] <= max(ay, by)
        if on and (ax == bx == spot[0] or ay == by == spot[1]):
            into = abs(spot[0] - ax) + abs(spot[1] - ay)
            if s > seg or into >= t:
                return s, into
    return None
