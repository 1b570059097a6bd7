"""JSON in and out (the ``hubflow pack`` command)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hubflow.fulfillment.cartonize.model import Box, Item, Packing


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
