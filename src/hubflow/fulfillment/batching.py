"""Order batching: which orders share a cart, so pickers walk less.

Clarke & Wright savings with recalculation (de Koster, van der Poort & Wolters 1999 found it
among the best simple batching heuristics): every order starts on a cart of its own; the two
carts whose merged route saves the most walking, and whose orders fit one cart (totes and
weight), are merged; the savings of the new cart against every other are recomputed; repeat
until no merge saves anything. Every saving is a real :func:`pickroute.route` distance, not an
estimate (:func:`pickroute.route_distance`: the same length, without building the walk).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hubflow.fulfillment.layout import Layout, Location
from hubflow.fulfillment.pickroute import Method, PickRoute, route, route_distance

__all__ = ["Batch", "Batching", "Cart", "Order", "batch_orders"]


@dataclass(frozen=True, slots=True)
class Order:
    """What one order needs picked: each of its ``totes`` takes one slot on a cart."""

    id: str
    picks: tuple[Location, ...]
    totes: int = 1
    weight_g: int = 0

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("order id must not be empty")
        if not self.picks:
            raise ValueError(f"order {self.id} has no picks")
        if self.totes < 1:
            raise ValueError(f"order {self.id}: totes must be at least 1: {self.totes}")
        if self.weight_g < 0:
            raise ValueError(f"order {self.id}: weight_g must not be negative: {self.weight_g}")


@dataclass(frozen=True, slots=True)
class Cart:
    totes: int
    max_weight_g: int

    def __post_init__(self) -> None:
        if self.totes < 1:
            raise ValueError(f"a cart holds at least one tote: {self.totes}")
        if self.max_weight_g <= 0:
            raise ValueError(f"max_weight_g must be positive: {self.max_weight_g}")


@dataclass(frozen=True, slots=True)
class Batch:
    """Orders on one cart; ``route`` visits the picks of ``order_ids`` concatenated in order
    (its ``visits_in_order`` index that concatenation)."""

    order_ids: tuple[str, ...]
    totes: int
    weight_g: int
    route: PickRoute


@dataclass(frozen=True, slots=True)
class Batching:
    """The carts, what they walk, and what picking each order alone would have walked."""

    batches: tuple[Batch, ...]
    distance_mm: int
    alone_mm: int

    @property
    def saved_mm(self) -> int:
        return self.alone_mm - self.distance_mm

    @property
    def saved_share(self) -> float:
        return self.saved_mm / self.alone_mm if self.alone_mm else 0.0


def batch_orders(
    layout: Layout,
    orders: Sequence[Order],
    cart: Cart,
    *,
    method: Method = "auto",
    seed: int = 0,
) -> Batching:
    """Batches of ``orders`` that each fit on ``cart``, routed with ``method``."""
    ids = [o.id for o in orders]
    if len(set(ids)) != len(ids):
        raise ValueError("order ids must be unique")
    for o in orders:
        if o.totes > cart.totes or o.weight_g > cart.max_weight_g:
            raise ValueError(f"order {o.id} does not fit on one cart")

    distances: dict[tuple[int, ...], int] = {}

    def walked(members: tuple[int, ...]) -> int:
        # Savings compare lengths only: the walk itself is built for the chosen carts.
        if members not in distances:
            picks = [p for m in members for p in orders[m].picks]
            distances[members] = route_distance(layout, picks, method, seed=seed)
        return distances[members]

    def routed(members: tuple[int, ...]) -> PickRoute:
        picks = [p for m in members for p in orders[m].picks]
        return route(layout, picks, method, seed=seed)

    def fits(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
        both = a + b
        return (
            sum(orders[m].totes for m in both) <= cart.totes
            and sum(orders[m].weight_g for m in both) <= cart.max_weight_g
        )

    def saving(a: tuple[int, ...], b: tuple[int, ...]) -> int:
        merged = tuple(sorted(a + b))
        return walked(a) + walked(b) - walked(merged)

    batches: list[tuple[int, ...]] = [(i,) for i in range(len(orders))]
    alone = sum(walked(b) for b in batches)
    savings = {
        (a, b): saving(a, b) for n, a in enumerate(batches) for b in batches[n + 1 :] if fits(a, b)
    }
    while savings:
        # Largest saving first; ties go to the earliest orders so runs repeat exactly.
        (a, b), best = min(savings.items(), key=lambda kv: (-kv[1], kv[0]))
        if best <= 0:
            break
        merged = tuple(sorted(a + b))
        batches = [c for c in batches if c not in (a, b)]
        savings = {pair: s for pair, s in savings.items() if a not in pair and b not in pair}
        for c in batches:
            if fits(merged, c):
                savings[min(merged, c), max(merged, c)] = saving(merged, c)
        batches.append(merged)

    out = tuple(
        Batch(
            order_ids=tuple(orders[m].id for m in members),
            totes=sum(orders[m].totes for m in members),
            weight_g=sum(orders[m].weight_g for m in members),
            route=routed(members),
        )
        for members in sorted(batches)
    )
    return Batching(out, sum(b.route.distance_mm for b in out), alone)
