"""The extreme-point heuristic: several item orderings and orientation rules, the fullest
fill wins."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from hubflow.fulfillment.cartonize.model import Box, Dims, _Deadline, _Pl, _turns, _vol

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
