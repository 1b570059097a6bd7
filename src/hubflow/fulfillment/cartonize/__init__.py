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

from hubflow.fulfillment.cartonize.check import check_packing
from hubflow.fulfillment.cartonize.jsonio import packing_to_json, request_from_json
from hubflow.fulfillment.cartonize.model import (
    MAX_MM,
    ORIENTATIONS,
    Box,
    Item,
    PackedBox,
    Packing,
    Placement,
    Unpacked,
    oriented,
)
from hubflow.fulfillment.cartonize.solve import pack

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
