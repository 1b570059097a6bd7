"""A wave's carts and walks: orders batched onto carts, each cart's picks in the order
of the shortest walk through the hub's layout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hubflow.fulfillment.batching import Cart, Order, batch_orders
from hubflow.fulfillment.layout import Layout

__all__ = ["CART", "plan_on", "plan_wave", "planner_for"]

CART = Cart(totes=8, max_weight_g=80_000)


def plan_wave(
    doc: Callable[[], dict[str, Any]], visits: dict[str, list[dict[str, Any]]]
) -> list[tuple[list[str], list[str], int]]:
    """Batches as (shipment ids, bin ids in walking order, distance in mm); ``doc`` reads
    the hub's layout document."""
    if not visits:
        return []
    return plan_on(Layout.from_json(doc()), visits)


def planner_for(
    layout: Layout,
) -> Callable[
    [Callable[[], dict[str, Any]], dict[str, list[dict[str, Any]]]],
    list[tuple[list[str], list[str], int]],
]:
    """:func:`plan_wave` on a layout already read (the hub's stored one): a caller that
    releases many waves saves reading and decoding the document each time."""
    return lambda _doc, visits: plan_on(layout, visits) if visits else []


def plan_on(
    layout: Layout, visits: dict[str, list[dict[str, Any]]]
) -> list[tuple[list[str], list[str], int]]:
    """:func:`plan_wave`'s batches on ``layout``."""
    ids = sorted(visits)
    orders = [Order(sid, tuple(layout.location(v["bin_code"]) for v in visits[sid])) for sid in ids]
    code_to_id = {v["bin_code"]: v["bin_id"] for vs in visits.values() for v in vs}
    out = []
    for batch in batch_orders(layout, orders, CART).batches:
        picks = [v["bin_code"] for sid in batch.order_ids for v in visits[sid]]
        walk: list[str] = []
        for i in batch.route.visits_in_order:
            bin_id = code_to_id[picks[i]]
            if bin_id not in walk:
                walk.append(bin_id)
        for code in picks:  # picks at the same spot share a visit
            if code_to_id[code] not in walk:
                walk.append(code_to_id[code])
        out.append((list(batch.order_ids), walk, batch.route.distance_mm))
    return out
