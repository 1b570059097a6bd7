"""Cartonization: choose cartons from a hub's box catalogue and place the items in 3D.

Items turn to any of the six axis-aligned orientations; placements stay inside the box,
never overlap, and a box holds no more than its weight limit. The objective is the total
box cost when the catalogue has costs, else the fewest boxes and then the least total box
volume (a box's volume stands in for its dimensional-weight price, while every extra
parcel costs a handling fee of its own).

An extreme-point heuristic (Crainic, Perboli and Tadei, 2008) with several item orderings
and orientation rules packs ordinary orders quickly. When it leaves items out of a box
whose volume would suffice, two exact searches take over, within the time limit:

* when the items fill the box exactly, a search glues pairs of blocks face to face until
  one block is the box: the two pieces of the last cut of any guillotine packing share a
  face, so it finds every guillotine packing, and it remembers failed sets of block shapes;
* a depth-first search fills the lowest-back-left empty point of a height map with some
  remaining item in some orientation (or, when there is room to spare, leaves it empty): in
  any perfect packing that point is the origin of an item, so the search is complete for
  snug fits, guillotine or not. It is pruned by volume, by a subset-sum test on the row
  being filled, by treating identical items as one kind, and by a node budget that grows
  over restarts with jittered orders.

Greedy box after box handles what no single box holds, then each box shrinks to the
cheapest that still takes its contents.

An item that fits no box, or weighs more than any box may carry, is reported in
``unpacked`` with the reason; nothing is dropped silently.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_MM",
    "ORIENTATIONS",
    "Box",
    "Item",
    "PackedBox",
    "Packing",
    "Placement",
    "Unpacked",
    "check_packing",
    "oriented",
    "pack",
    "packing_to_json",
    "request_from_json",
]

Dims = tuple[int, int, int]

# Letter k names which of the item's own dimensions (l, w, h) lies along the box's axis k.
ORIENTATIONS: tuple[str, ...] = ("lwh", "lhw", "wlh", "whl", "hlw", "hwl")
_AXIS = {"l": 0, "w": 1, "h": 2}
# Longer than any carton or parcel service takes; it also bounds the search's bit sets.
MAX_MM = 10_000


def oriented(dims: Dims, orientation: str) -> Dims:
    """The extent along the box's x, y and z of an item of ``dims`` turned to ``orientation``."""
    if orientation not in ORIENTATIONS:
        raise ValueError(f"orientation must be one of {', '.join(ORIENTATIONS)}")
    a, b, c = (dims[_AXIS[ch]] for ch in orientation)
    return a, b, c


def _dims(name: str, value: Sequence[int]) -> Dims:
    if len(value) != 3 or any(isinstance(d, bool) or not isinstance(d, int) for d in value):
        raise ValueError(f"{name} must be three whole numbers of millimetres")
    if min(value) <= 0:
        raise ValueError(f"{name} must be positive")
    if max(value) > MAX_MM:
        raise ValueError(f"{name} must be at most {MAX_MM} mm")
    return value[0], value[1], value[2]


def _coords(name: str, value: Sequence[int]) -> Dims:
    if len(value) != 3 or any(isinstance(d, bool) or not isinstance(d, int) for d in value):
        raise ValueError(f"{name} must be three whole numbers of millimetres")
    if min(value) < 0:
        raise ValueError(f"{name} must not be negative")
    return value[0], value[1], value[2]


def _ident(name: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")


@dataclass(frozen=True)
class Box:
    """A carton type: inner dimensions in mm, weight limit in g, optional cost (any unit)."""

    id: str
    dims: Dims
    max_weight: int
    cost: float | None = None

    def __post_init__(self) -> None:
        _ident("box id", self.id)
        object.__setattr__(self, "dims", _dims("box dims", self.dims))
        if isinstance(self.max_weight, bool) or not isinstance(self.max_weight, int):
            raise ValueError("max_weight must be whole grams")
        if self.max_weight <= 0:
            raise ValueError("max_weight must be positive")
        if self.cost is not None and not (math.isfinite(self.cost) and self.cost >= 0):
            raise ValueError("cost must be a finite non-negative number")

    @property
    def volume(self) -> int:
        return self.dims[0] * self.dims[1] * self.dims[2]


@dataclass(frozen=True)
class Item:
    """One physical unit to pack: dimensions in mm, weight in g."""

    id: str
    dims: Dims
    weight: int

    def __post_init__(self) -> None:
        _ident("item id", self.id)
        object.__setattr__(self, "dims", _dims("item dims", self.dims))
        if isinstance(self.weight, bool) or not isinstance(self.weight, int) or self.weight < 0:
            raise ValueError("weight must be whole non-negative grams")

    @property
    def volume(self) -> int:
        return self.dims[0] * self.dims[1] * self.dims[2]


@dataclass(frozen=True)
class Placement:
    """Where an item sits: its lowest corner in mm from the box's corner, and its extent."""

    item_id: str
    position: Dims
    size: Dims
    orientation: str

    def __post_init__(self) -> None:
        _ident("item id", self.item_id)
        object.__setattr__(self, "position", _coords("position", self.position))
        object.__setattr__(self, "size", _dims("size", self.size))
        if self.orientation not in ORIENTATIONS:
            raise ValueError(f"orientation must be one of {', '.join(ORIENTATIONS)}")


@dataclass(frozen=True)
class PackedBox:
    box_id: str
    placements: tuple[Placement, ...]
    weight: int

    def __post_init__(self) -> None:
        _ident("box id", self.box_id)
        object.__setattr__(self, "placements", tuple(self.placements))
        if self.weight < 0:
            raise ValueError("weight must not be negative")


@dataclass(frozen=True)
class Unpacked:
    item_id: str
    reason: str


@dataclass(frozen=True)
class Packing:
    boxes_used: tuple[PackedBox, ...]
    unpacked: tuple[Unpacked, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "boxes_used", tuple(self.boxes_used))
        object.__setattr__(self, "unpacked", tuple(self.unpacked))


# -- the checker ------------------------------------------------------------------------------


def check_packing(boxes: Sequence[Box], items: Sequence[Item], packing: Packing) -> list[str]:
    """Everything wrong with ``packing``; an empty list means it is valid."""
    box_by_id = {b.id: b for b in boxes}
    item_by_id = {i.id: i for i in items}
    seen: dict[str, int] = defaultdict(int)
    errors: list[str] = []
    for n, pb in enumerate(packing.boxes_used):
        box = box_by_id.get(pb.box_id)
        if box is None:
            errors.append(f"box #{n}: unknown box type {pb.box_id!r}")
            continue
        weight = 0
        for p in pb.placements:
            seen[p.item_id] += 1
            item = item_by_id.get(p.item_id)
            if item is None:
                errors.append(f"box #{n}: unknown item {p.item_id!r}")
                continue
            weight += item.weight
            if oriented(item.dims, p.orientation) != p.size:
                errors.append(f"box #{n}: {p.item_id} size does not match its orientation")
            if any(p.position[k] + p.size[k] > box.dims[k] for k in range(3)):
                errors.append(f"box #{n}: {p.item_id} sticks out of the box")
        for i, p in enumerate(pb.placements):
            for q in pb.placements[i + 1 :]:
                if all(
                    p.position[k] < q.position[k] + q.size[k]
                    and q.position[k] < p.position[k] + p.size[k]
                    for k in range(3)
                ):
                    errors.append(f"box #{n}: {p.item_id} overlaps {q.item_id}")
        if weight != pb.weight:
            errors.append(f"box #{n}: weight says {pb.weight} g, contents weigh {weight} g")
        if weight > box.max_weight:
            errors.append(f"box #{n}: {weight} g is over the limit of {box.max_weight} g")
    for u in packing.unpacked:
        seen[u.item_id] += 1
        if u.item_id not in item_by_id:
            errors.append(f"unpacked: unknown item {u.item_id!r}")
    for item_id in item_by_id:
        if seen[item_id] != 1:
            errors.append(f"item {item_id} appears {seen[item_id]} times (want exactly once)")
    return errors


# -- shared internals -------------------------------------------------------------------------

# (item index, x, y, z, size x, size y, size z, orientation)
_Pl = tuple[int, int, int, int, int, int, int, str]


def _turns(dims: Dims) -> list[tuple[str, Dims]]:
    """The distinct orientations of ``dims`` (a cube has one)."""
    out: dict[Dims, str] = {}
    for o in ORIENTATIONS:
        out.setdefault(oriented(dims, o), o)
    return [(o, d) for d, o in out.items()]


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return self.at - time.monotonic()

    def over(self) -> bool:
        return time.monotonic() >= self.at


def _vol(d: Dims) -> int:
    return d[0] * d[1] * d[2]


def _fits_some_way(item: Dims, box: Dims) -> bool:
    return all(a <= b for a, b in zip(sorted(item), sorted(box), strict=True))


# -- extreme-point heuristic ------------------------------------------------------------------

_Merit = Callable[[int, int, int, int, int, int], tuple[int, ...]]
# Each merit starts with z or with z plus the item's height: points are scanned by (z, y, x),
# which lets the scan stop early (the first feasible point wins for the first and last).
_MERITS: tuple[_Merit, ...] = (
    lambda x, y, z, a, b, c: (z, y, x, c, -a),  # lowest point, lying flat
    lambda x, y, z, a, b, c: (z + c, y + b, x + a),  # smallest corner reached
    lambda x, y, z, a, b, c: (z, y, x, -c),  # lowest point, standing tall (columns)
)
_POINT_FIRST = (True, False, True)


def _fill(
    box: Dims,
    cap: int,
    order: Sequence[int],
    dims: Sequence[Dims],
    weights: Sequence[int],
    merit: _Merit,
) -> list[_Pl]:
    """Place items in ``order`` one by one at the best extreme point; skip what does not fit."""
    bx, by, bz = box
    point_first = _POINT_FIRST[_MERITS.index(merit)]
    placed: list[_Pl] = []
    points: list[tuple[int, int, int]] = [(0, 0, 0)]
    load = 0
    for i in order:
        if load + weights[i] > cap:
            continue
        best: tuple[tuple[int, ...], _Pl] | None = None
        lowest, turns = min(dims[i]), _turns(dims[i])
        for x, y, z in points:
            if best is not None and (point_first or z + lowest > best[0][0]):
                break
            for o, (a, b, c) in turns:
                if x + a > bx or y + b > by or z + c > bz:
                    continue
                if any(
                    x < px + pa
                    and px < x + a
                    and y < py + pb
                    and py < y + b
                    and z < pz + pc
                    and pz < z + c
                    for _, px, py, pz, pa, pb, pc, _ in placed
                ):
                    continue
                key = merit(x, y, z, a, b, c)
                if best is None or key < best[0]:
                    best = (key, (i, x, y, z, a, b, c, o))
        if best is None:
            continue
        pl = best[1]
        placed.append(pl)
        load += weights[i]
        points = _new_points(points, pl, placed, box)
    return placed


def _project(p: list[int], axis: int, placed: Sequence[_Pl]) -> tuple[int, int, int]:
    """Slide ``p`` towards 0 along ``axis`` until it meets an item or the wall."""
    o1, o2 = (k for k in range(3) if k != axis)
    stop = 0
    for pl in placed:
        pos, size = (pl[1], pl[2], pl[3]), (pl[4], pl[5], pl[6])
        far = pos[axis] + size[axis]
        if (
            stop < far <= p[axis]
            and pos[o1] <= p[o1] < pos[o1] + size[o1]
            and pos[o2] <= p[o2] < pos[o2] + size[o2]
        ):
            stop = far
    q = list(p)
    q[axis] = stop
    return q[0], q[1], q[2]


def _new_points(
    points: list[tuple[int, int, int]], pl: _Pl, placed: Sequence[_Pl], box: Dims
) -> list[tuple[int, int, int]]:
    """The extreme points after placing ``pl``, sorted by (z, y, x)."""
    _, x, y, z, a, b, c, _ = pl
    fresh: set[tuple[int, int, int]] = set()
    for corner, axes in (([x + a, y, z], (1, 2)), ([x, y + b, z], (0, 2)), ([x, y, z + c], (0, 1))):
        fresh.add((corner[0], corner[1], corner[2]))
        fresh.update(_project(corner, k, placed) for k in axes)
    out = set()
    for p in fresh.union(points):
        if any(p[k] >= box[k] for k in range(3)):
            continue
        if any(
            q[1] <= p[0] < q[1] + q[4] and q[2] <= p[1] < q[2] + q[5] and q[3] <= p[2] < q[3] + q[6]
            for q in placed
        ):
            continue  # inside an item
        out.add(p)
    return sorted(out, key=lambda p: (p[2], p[1], p[0]))


def _orders(idx: Sequence[int], dims: Sequence[Dims]) -> list[list[int]]:
    def s(i: int) -> list[int]:
        return sorted(dims[i], reverse=True)

    keys: list[Callable[[int], tuple[int, ...]]] = [
        lambda i: (-_vol(dims[i]), -s(i)[0]),
        lambda i: (-s(i)[0], -s(i)[1], -s(i)[2]),
        lambda i: (-s(i)[0] * s(i)[1], -s(i)[2]),
        lambda i: (-s(i)[2], -_vol(dims[i])),
    ]
    out: list[list[int]] = []
    for key in keys:
        order = sorted(idx, key=key)
        if order not in out:
            out.append(order)
    return out


def _heuristic(
    box: Box,
    idx: Sequence[int],
    dims: Sequence[Dims],
    weights: Sequence[int],
    deadline: _Deadline,
) -> list[_Pl]:
    """The fullest of several fills (by packed volume); stops early once all of ``idx`` fit."""
    best: list[_Pl] = []
    best_vol = -1
    for order in _orders(idx, dims):
        for merit in _MERITS:
            placed = _fill(box.dims, box.max_weight, order, dims, weights, merit)
            v = sum(pl[4] * pl[5] * pl[6] for pl in placed)
            if v > best_vol:
                best, best_vol = placed, v
            if len(best) == len(idx) or deadline.over():
                return best
    return best


# -- exact search on a height map -------------------------------------------------------------

# A face of the height map: x0, x1, y0, y1, height. The faces tile the box's floor.
_Rect = tuple[int, int, int, int, int]


class _Budget(Exception):
    pass


class _Exact:
    """Depth-first search that fills the lowest-back-left empty point of the height map."""

    def __init__(
        self,
        box: Dims,
        shapes: list[Dims],
        counts: list[int],
        waste: int,
        deadline: _Deadline,
        node_limit: int,
        rng: random.Random | None,
    ) -> None:
        self.box = box
        self.shapes = shapes
        self.turns = [_turns(s) for s in shapes]
        self.counts = counts
        self.waste = waste
        self.deadline = deadline
        self.node_limit = node_limit
        self.nodes = 0
        noise = [rng.random() for _ in shapes] if rng else [0.0] * len(shapes)
        # Big pieces first: they have the fewest places to go. Restarts jitter the order.
        self.rank = {s: (-_vol(shapes[s]) * (1 + 0.5 * noise[s]), s) for s in range(len(shapes))}
        self.path: list[tuple[int, int, int, int, int, int, int, str]] = []

    def run(self) -> list[tuple[int, int, int, int, int, int, int, str]] | None:
        bx, by, _ = self.box
        try:
            ok = self._dfs([(0, bx, 0, by, 0)], self.waste)
        except _Budget:
            return None
        return list(self.path) if ok else None

    def _run_along(self, rects: list[_Rect], x: int, y: int, z: int, axis: int) -> int:
        """How far the level-``z`` floor reaches from (x, y) along x (axis 0) or y (axis 1)."""
        cur = x if axis == 0 else y
        while True:
            px, py = (cur, y) if axis == 0 else (x, cur)
            nxt = next(
                (r for r in rects if r[4] == z and r[0] <= px < r[1] and r[2] <= py < r[3]), None
            )
            if nxt is None:
                return cur - (x if axis == 0 else y)
            cur = nxt[1] if axis == 0 else nxt[3]

    def _row_closes(self, length: int) -> bool:
        """Whether the remaining items can fill a row of ``length`` exactly (any of their
        dimensions, each item at most once)."""
        mask = (1 << (length + 1)) - 1
        reach = 1
        for s, c in enumerate(self.counts):
            a, b, d = self.shapes[s]
            for _ in range(c):
                reach = (reach | reach << a | reach << b | reach << d) & mask
                if reach >> length & 1:
                    return True
        return bool(reach >> length & 1)

    def _dfs(self, rects: list[_Rect], waste: int) -> bool:
        if not any(self.counts):
            return True
        self.nodes += 1
        if self.nodes > self.node_limit or (self.nodes & 255 == 0 and self.deadline.over()):
            raise _Budget
        z = min(r[4] for r in rects)
        corner = min((r for r in rects if r[4] == z), key=lambda r: (r[2], r[0]))
        x, y = corner[0], corner[2]
        xrun = self._run_along(rects, x, y, z, 0)
        yrun = self._run_along(rects, x, y, z, 1)
        zrun = self.box[2] - z
        if zrun <= 0:
            return False
        # With no room to waste, the row from the corner to the next wall or higher floor
        # is cut exactly into items that start in it; at x = 0 the column along y is too.
        if waste == 0 and not (self._row_closes(xrun) and (x > 0 or self._row_closes(yrun))):
            return False
        cands = []
        for s in sorted(range(len(self.shapes)), key=self.rank.__getitem__):
            if not self.counts[s]:
                continue
            for o, (a, b, c) in self.turns[s]:
                if a <= xrun and b <= yrun and c <= zrun:
                    cands.append((a != xrun, b != yrun, self.rank[s], s, o, a, b, c))
        cands.sort()
        for *_, s, o, a, b, c in cands:
            nxt = _place(rects, x, y, z, a, b, c)
            if nxt is None:
                continue
            self.counts[s] -= 1
            self.path.append((s, x, y, z, a, b, c, o))
            if self._dfs(nxt, waste):
                return True
            self.path.pop()
            self.counts[s] += 1
        if waste > 0:
            # Leave the corner empty: raise its face to its lowest higher neighbour.
            up = min((r[4] for r in rects if r[4] > z and _touches(r, corner)), default=self.box[2])
            lost = (corner[1] - corner[0]) * (corner[3] - corner[2]) * (up - z)
            if lost <= waste:
                raised = [r for r in rects if r != corner]
                raised.append((*corner[:4], up))
                return self._dfs(raised, waste - lost)
        return False


def _touches(r: _Rect, s: _Rect) -> bool:
    return r[0] <= s[1] and s[0] <= r[1] and r[2] <= s[3] and s[2] <= r[3]


def _place(
    rects: list[_Rect], x: int, y: int, z: int, a: int, b: int, c: int
) -> list[_Rect] | None:
    """The height map after putting a block of a, b, c at (x, y, z), or None if its footprint is
    not all at level z."""
    x1, y1 = x + a, y + b
    out: list[_Rect] = []
    for r in rects:
        rx0, rx1, ry0, ry1, h = r
        if rx0 >= x1 or x >= rx1 or ry0 >= y1 or y >= ry1:
            out.append(r)
            continue
        if h != z:
            return None
        if rx0 < x:
            out.append((rx0, x, ry0, ry1, h))
        if x1 < rx1:
            out.append((x1, rx1, ry0, ry1, h))
        mx0, mx1 = max(rx0, x), min(rx1, x1)
        if ry0 < y:
            out.append((mx0, mx1, ry0, y, h))
        if y1 < ry1:
            out.append((mx0, mx1, y1, ry1, h))
    out.append((x, x1, y, y1, z + c))
    return out


def _exact(
    box: Box,
    idx: Sequence[int],
    dims: Sequence[Dims],
    deadline: _Deadline,
    rng: random.Random,
    max_seconds: float,
) -> list[_Pl] | None:
    """All of ``idx`` in ``box`` by the exact search, restarting with growing node budgets
    and jittered orders (search times are heavy-tailed), or None within ``max_seconds``."""
    kinds: dict[Dims, list[int]] = defaultdict(list)
    for i in idx:
        kinds[_sorted3(dims[i])].append(i)
    shapes = list(kinds)
    waste = box.volume - sum(_vol(d) for d in shapes for _ in kinds[d])
    if waste < 0 or len(idx) > 300:
        return None
    own = _Deadline(min(max_seconds, deadline.left()))
    # Neither search dominates (gluing is quick on guillotine packings, the height map on
    # the rest), so they take turns with growing budgets.
    glue = _Glue(box, idx, dims) if waste == 0 and len(idx) <= 100 else None
    limit, turn = 1_000, 0
    while not own.over():
        if glue is not None and not glue.exhausted:
            glued = glue.run(own, limit // 10)
            if glued is not None:
                return glued
        search = _Exact(
            box.dims,
            shapes,
            [len(kinds[s]) for s in shapes],
            waste,
            own,
            limit,
            rng if turn else None,
        )
        path = search.run()
        if path is not None:
            queues = {s: list(kinds[s]) for s in shapes}
            out: list[_Pl] = []
            for s, x, y, z, a, b, c, _ in path:
                i = queues[shapes[s]].pop()
                out.append((i, x, y, z, a, b, c, _orientation(dims[i], (a, b, c))))
            return out
        if search.nodes <= limit:  # the whole tree was searched: another order won't help
            return None
        limit, turn = int(limit * 1.5), turn + 1
    return None


def _orientation(dims: Dims, size: Dims) -> str:
    return next(o for o in ORIENTATIONS if oriented(dims, o) == size)


# -- exact search by merging blocks -----------------------------------------------------------

# A block: its extent and what it holds, (item, x, y, z, size x, size y, size z) in its frame.
_Content = tuple[tuple[int, int, int, int, int, int, int], ...]
_Block = tuple[Dims, _Content]
_PERMS: tuple[Dims, ...] = ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))


def _sorted3(d: Dims) -> Dims:
    a, b, c = sorted(d)
    return a, b, c


def _shift(content: _Content, axis: int, by: int) -> _Content:
    return tuple(
        (i, x + by * (axis == 0), y + by * (axis == 1), z + by * (axis == 2), a, b, c)
        for i, x, y, z, a, b, c in content
    )


def _turn_block(block: _Block, p: Dims) -> _Block:
    """``block`` with its axis p[t] along axis t (a rotation or a mirror image: both keep
    every item an axis-aligned box)."""
    d, content = block
    turned = []
    for i, *c in content:
        turned.append((i, c[p[0]], c[p[1]], c[p[2]], c[3 + p[0]], c[3 + p[1]], c[3 + p[2]]))
    return (d[p[0]], d[p[1]], d[p[2]]), tuple(turned)


def _merges(a: Dims, b: Dims) -> list[tuple[Dims, int, Dims]]:
    """Ways to put a block of extent ``b`` against a face of one of extent ``a`` so that the
    two make a box: (merged extent, axis of a, how to turn b), one per merged extent."""
    out: dict[Dims, tuple[Dims, int, Dims]] = {}
    for k in range(3):
        for p in _PERMS:
            t = (b[p[0]], b[p[1]], b[p[2]])
            if all(t[m] == a[m] for m in range(3) if m != k):
                m = list(a)
                m[k] += t[k]
                merged = (m[0], m[1], m[2])
                out.setdefault(_sorted3(merged), (merged, k, p))
    return list(out.values())


class _Glue:
    """A perfect packing built by gluing pairs of blocks face to face until one block is the
    box. In a guillotine packing the two pieces of the last cut always share a face, so this
    finds every guillotine packing. Multisets of block shapes that failed stay remembered
    across runs (a run that hits its budget records nothing it did not finish)."""

    def __init__(self, box: Box, idx: Sequence[int], dims: Sequence[Dims]) -> None:
        self.box, self.dims = box, dims
        self.target = _sorted3(box.dims)
        self.start: list[_Block] = [(dims[i], ((i, 0, 0, 0, *dims[i]),)) for i in idx]
        self.failed: set[tuple[Dims, ...]] = set()
        self.exhausted = False
        self.nodes = 0

    def run(self, deadline: _Deadline, node_limit: int) -> list[_Pl] | None:
        self.nodes, self.limit, self.deadline = 0, node_limit, deadline
        try:
            whole = self._search(self.start)
        except _Budget:
            return None
        if whole is None:
            self.exhausted = True
            return None
        p = next(p for p in _PERMS if tuple(whole[0][m] for m in p) == self.box.dims)
        _, content = _turn_block(whole, p)
        return [
            (i, x, y, z, a, b, c, _orientation(self.dims[i], (a, b, c)))
            for i, x, y, z, a, b, c in content
        ]

    def _search(self, blocks: list[_Block]) -> _Block | None:
        if len(blocks) == 1:
            return blocks[0]
        shape = tuple(sorted(_sorted3(b[0]) for b in blocks))
        if shape in self.failed:
            return None
        self.nodes += 1
        if self.nodes > self.limit or self.deadline.over():
            raise _Budget
        seen: set[tuple[Dims, Dims, Dims]] = set()
        moves = []
        for i, j in itertools.combinations(range(len(blocks)), 2):
            a, b = blocks[i], blocks[j]
            for merged, k, p in _merges(a[0], b[0]):
                sig = (_sorted3(a[0]), _sorted3(b[0]), _sorted3(merged))
                if sig in seen or not all(
                    x <= y for x, y in zip(_sorted3(merged), self.target, strict=True)
                ):
                    continue
                seen.add(sig)
                # Blocks that reach across the box are what the last cuts were made from.
                moves.append((-sum(d in self.target for d in merged), i, j, merged, k, p))
        moves.sort(key=lambda m: m[:3])
        for _, i, j, merged, k, p in moves:
            a, b = blocks[i], blocks[j]
            glued = (merged, a[1] + _shift(_turn_block(b, p)[1], k, a[0][k]))
            rest = [x for n, x in enumerate(blocks) if n not in (i, j)]
            found = self._search([*rest, glued])
            if found is not None:
                return found
        self.failed.add(shape)
        return None


# -- choosing the cartons ---------------------------------------------------------------------

_Sol = list[tuple[Box, list[_Pl]]]


def pack(
    boxes: Sequence[Box], items: Sequence[Item], *, time_limit_s: float = 2.0, seed: int = 0
) -> Packing:
    """Pack ``items`` into boxes from the catalogue ``boxes``; see the module docstring."""
    if not boxes:
        raise ValueError("the box catalogue is empty")
    for kind, ids in (("box", [b.id for b in boxes]), ("item", [i.id for i in items])):
        if len(set(ids)) != len(ids):
            raise ValueError(f"{kind} ids must be unique")
    if not (math.isfinite(time_limit_s) and time_limit_s > 0):
        raise ValueError("time_limit_s must be positive")
    costed = {b.cost is not None for b in boxes}
    if len(costed) > 1:
        raise ValueError("give a cost for every box or for none")
    deadline, rng = _Deadline(time_limit_s), random.Random(seed)
    ranked = sorted(boxes, key=lambda b: (b.cost or 0.0, b.volume, b.id))
    dims, weights = [i.dims for i in items], [i.weight for i in items]

    unpacked: list[Unpacked] = []
    idx: list[int] = []
    for n, it in enumerate(items):
        room = [b for b in boxes if _fits_some_way(it.dims, b.dims)]
        if not room:
            unpacked.append(Unpacked(it.id, "larger than every box"))
        elif all(it.weight > b.max_weight for b in room):
            unpacked.append(Unpacked(it.id, "heavier than any box it fits in may carry"))
        else:
            idx.append(n)
    sol = _solve(ranked, idx, dims, weights, deadline, rng, costed == {True}) if idx else []
    used = tuple(
        PackedBox(
            box.id,
            tuple(
                Placement(items[i].id, (x, y, z), (a, b, c), o)
                for i, x, y, z, a, b, c, o in sorted(placed, key=lambda p: (p[3], p[2], p[1]))
            ),
            sum(weights[p[0]] for p in placed),
        )
        for box, placed in sol
    )
    return Packing(used, tuple(unpacked))


def _solve(
    ranked: list[Box],
    idx: list[int],
    dims: list[Dims],
    weights: list[int],
    deadline: _Deadline,
    rng: random.Random,
    by_cost: bool,
) -> _Sol:
    def key(sol: _Sol) -> tuple[float, ...]:
        n, vol = len(sol), sum(b.volume for b, _ in sol)
        return (sum(b.cost or 0.0 for b, _ in sol), n, vol) if by_cost else (n, vol)

    volume, weight = sum(_vol(dims[i]) for i in idx), sum(weights[i] for i in idx)
    singles = [
        b
        for b in ranked
        if b.volume >= volume
        and b.max_weight >= weight
        and all(_fits_some_way(dims[i], b.dims) for i in idx)
    ]
    best: _Sol | None = None
    tried: list[Box] = []
    for b in singles:
        placed = _heuristic(b, idx, dims, weights, deadline)
        if len(placed) == len(idx):
            best = [(b, placed)]
            break
        tried.append(b)
        if deadline.over():
            break
    if best is None or by_cost:
        multi = _greedy(ranked, idx, dims, weights, deadline)
        if best is None or key(multi) < key(best):
            best = multi
    # The heuristic left items out of cheaper boxes that hold their volume: search those.
    hopeful = [b for b in tried if key([(b, [])]) < key(best)]
    for n, b in enumerate(hopeful):
        if key([(b, [])]) >= key(best) or deadline.left() <= 0:
            continue
        found = _exact(b, idx, dims, deadline, rng, deadline.left() / (len(hopeful) - n))
        if found is not None:
            best = [(b, found)]
    if len(best) > 1:
        best = [_downsize(ranked, b, p, dims, weights, deadline, rng) for b, p in best]
    return best


def _greedy(
    ranked: list[Box],
    idx: list[int],
    dims: list[Dims],
    weights: list[int],
    deadline: _Deadline,
) -> _Sol:
    """Box after box: the cheapest box that takes everything left, else the box that takes
    the most volume per unit of cost (per box when there are no costs)."""
    remaining: list[int] = list(idx)
    out: _Sol = []
    while remaining:
        chosen: tuple[float, Box, list[_Pl]] | None = None
        # Out of time: the box chosen last comes first, and the first box that takes anything.
        late = deadline.over() and bool(out)
        for b in [out[-1][0], *ranked] if late else ranked:
            if chosen is not None and deadline.over():
                break
            if not any(_fits_some_way(dims[i], b.dims) for i in remaining):
                continue
            placed = _heuristic(b, remaining, dims, weights, deadline)
            if len(placed) == len(remaining):
                chosen = (math.inf, b, placed)
                break
            v = sum(pl[4] * pl[5] * pl[6] for pl in placed)
            score = v / b.cost if b.cost else float(v)
            if placed and (chosen is None or score > chosen[0]):
                chosen = (score, b, placed)
        if chosen is None:  # cannot happen: every item left fits some box on its own
            raise AssertionError("no box takes any item")
        out.append((chosen[1], chosen[2]))
        done = {pl[0] for pl in chosen[2]}
        remaining = [i for i in remaining if i not in done]
    return out


def _downsize(
    ranked: list[Box],
    box: Box,
    placed: list[_Pl],
    dims: list[Dims],
    weights: list[int],
    deadline: _Deadline,
    rng: random.Random,
) -> tuple[Box, list[_Pl]]:
    """The cheapest box that still holds one box's contents."""
    idx = [pl[0] for pl in placed]
    volume, weight = sum(_vol(dims[i]) for i in idx), sum(weights[i] for i in idx)
    for b in ranked:
        if b is box:
            break
        if b.volume < volume or b.max_weight < weight:
            continue
        if not all(_fits_some_way(dims[i], b.dims) for i in idx):
            continue
        again = _heuristic(b, idx, dims, weights, deadline)
        if len(again) < len(idx):
            again = _exact(b, idx, dims, deadline, rng, deadline.left() / 4) or again
        if len(again) == len(idx):
            return b, again
    return box, placed


# -- JSON in and out (the ``hubflow pack`` command) ---------------------------------------------


def request_from_json(data: Any) -> tuple[list[Box], list[Item]]:
    """``{"boxes": [{"id", "dims", "max_weight", "cost"?}], "items": [{"id", "dims",
    "weight"}]}`` (mm, g) as boxes and items; ValueError says what is wrong and where."""
    if not isinstance(data, dict) or set(data) != {"boxes", "items"}:
        raise ValueError('want an object with exactly "boxes" and "items"')
    boxes: list[Box] = []
    items: list[Item] = []
    for kind, keys, extra in (
        ("boxes", ("id", "dims", "max_weight"), ("cost",)),
        ("items", ("id", "dims", "weight"), ()),
    ):
        rows = data[kind]
        if not isinstance(rows, list):
            raise ValueError(f"{kind} must be a list")
        for n, row in enumerate(rows):
            where = f"{kind}[{n}]"
            if not isinstance(row, dict):
                raise ValueError(f"{where} must be an object")
            if missing := [k for k in keys if k not in row]:
                raise ValueError(f"{where} lacks {', '.join(missing)}")
            if unknown := sorted(set(row) - set(keys) - set(extra)):
                raise ValueError(f"{where} has unknown field {', '.join(unknown)}")
            if not isinstance(row["dims"], list):
                raise ValueError(f"{where}.dims must be a list of three numbers")
            cost = row.get("cost")
            if cost is not None and (isinstance(cost, bool) or not isinstance(cost, int | float)):
                raise ValueError(f"{where}.cost must be a number")
            try:
                if kind == "boxes":
                    boxes.append(Box(row["id"], tuple(row["dims"]), row["max_weight"], cost))
                else:
                    items.append(Item(row["id"], tuple(row["dims"]), row["weight"]))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{where}: {exc}") from None
    if not boxes:
        raise ValueError("boxes must not be empty")
    for kind, ids in (("box", [b.id for b in boxes]), ("item", [i.id for i in items])):
        if dup := sorted({x for x in ids if ids.count(x) > 1}):
            raise ValueError(f"{kind} ids must be unique: {', '.join(dup)}")
    return boxes, items


def packing_to_json(boxes: Sequence[Box], packing: Packing) -> dict[str, Any]:
    """The packing as plain JSON types, with totals."""
    by_id = {b.id: b for b in boxes}
    used = [by_id[pb.box_id] for pb in packing.boxes_used]
    costs = [b.cost for b in used]
    return {
        "boxes": [
            {
                "box_id": pb.box_id,
                "weight": pb.weight,
                "items": [
                    {
                        "id": p.item_id,
                        "position": list(p.position),
                        "size": list(p.size),
                        "orientation": p.orientation,
                    }
                    for p in pb.placements
                ],
            }
            for pb in packing.boxes_used
        ],
        "unpacked": [{"id": u.item_id, "reason": u.reason} for u in packing.unpacked],
        "total": {
            "boxes": len(used),
            "cost": None if None in costs else sum(c or 0.0 for c in costs),
            "volume_mm3": sum(b.volume for b in used),
        },
    }
