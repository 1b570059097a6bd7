"""The checker: everything wrong with a packing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from hubflow.fulfillment.cartonize.model import Box, Item, Packing, oriented


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
