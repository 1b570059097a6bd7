"""Choosing the cartons: ``pack``, greedy box after box, and shrinking each box."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from hubflow.fulfillment.cartonize.heuristic import _heuristic
from hubflow.fulfillment.cartonize.model import (
    Box,
    Dims,
    Item,
    PackedBox,
    Packing,
    Placement,
    Unpacked,
    _Deadline,
    _fits_some_way,
    _Pl,
    _vol,
)
from hubflow.fulfillment.cartonize.search import _exact

_Sol = list[tuple[Box, list[_Pl]]]


def pack(
    boxes: Sequence[Box],
    items: Sequence[Item],
    *,
    time_limit_s: float = 2.0,
    seed: int = 0,
    work_limit: int | None = None,
) -> Packing:
    """Pack ``items`` into boxes from the catalogue ``boxes``; see the module docstring.
    With ``work_limit`` the searches stop after that many steps (about one per search
    node) instead of on ``time_limit_s``: the same request then gets the same cartons on
    any machine and under any load."""
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
    if work_limit is not None and work_limit < 0:
        raise ValueError("work_limit must not be negative")
    deadline, rng = _Deadline(time_limit_s, work=work_limit), random.Random(seed)
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
