"""The two exact searches: a depth-first search on a height map, and gluing blocks face to
face until one block is the box; ``_exact`` lets them take turns."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Sequence

from hubflow.fulfillment.cartonize.model import (
    ORIENTATIONS,
    Box,
    Dims,
    _Deadline,
    _Pl,
    _turns,
    _vol,
    oriented,
)

# -- exact search on a height map -------------------------------------------------------------

# A face of the height map: x0, x1, y0, y1, height. The faces tile the box's floor.
_Rect = tuple[int, int, int, int, int]


class _Budget(Exception):
    """The search ran out of its node or time budget."""


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
        if self.nodes > self.node_limit or (self.nodes & 255 == 0 and self.deadline.over(256)):
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
    own = deadline.share(max_seconds)
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
