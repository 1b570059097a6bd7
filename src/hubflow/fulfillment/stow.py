"""Random stow: any bin with room takes the goods; a named policy picks which.

Amazon-style random stow keeps no fixed home per product: the system remembers where
everything went. ``nearest_dock`` saves the stower's walk; ``spread`` first looks for a
zone that does not hold the product yet, so one blocked aisle never hides all of it and
pickers find it near wherever their route already goes."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = [
    "POLICIES",
    "BinRoom",
    "Goods",
    "choose_bin",
    "choose_in_walk_order",
    "units_that_fit",
    "walk_order",
]


@dataclass(frozen=True)
class BinRoom:
    """A bin and what is left in it."""

    id: str
    zone: str
    x_mm: int
    y_mm: int
    free_volume_cm3: int
    free_weight_g: int
    inner_mm: tuple[int, int, int]
    holds_product: bool = False


@dataclass(frozen=True)
class Goods:
    """Units of one product to stow."""

    dims_mm: tuple[int, int, int]
    weight_g: int
    quantity: int

    def __post_init__(self) -> None:
        if self.quantity <= 0 or self.weight_g < 0 or min(self.dims_mm) <= 0:
            raise ValueError("goods need a positive quantity and size")

    @property
    def unit_volume_cm3(self) -> int:
        return max(1, math.ceil(math.prod(self.dims_mm) / 1000))


def units_that_fit(room: BinRoom, goods: Goods) -> int:
    """How many units the bin can take: the unit must pass the opening in some
    orientation, and volume and weight must last (volume with some slack lost to
    packing, hence 85 %)."""
    if any(a > b for a, b in zip(sorted(goods.dims_mm), sorted(room.inner_mm), strict=True)):
        return 0
    by_volume = int(room.free_volume_cm3 * 0.85) // goods.unit_volume_cm3
    by_weight = room.free_weight_g // goods.weight_g if goods.weight_g else by_volume
    return max(0, min(by_volume, by_weight))


def _distance(dock: tuple[int, int], room: BinRoom) -> int:
    return abs(room.x_mm - dock[0]) + abs(room.y_mm - dock[1])


def walk_order(rooms: Sequence[BinRoom], dock: tuple[int, int]) -> list[BinRoom]:
    """Bins nearest the dock first (ties by id): the order every policy searches in."""
    return sorted(rooms, key=lambda r: (_distance(dock, r), r.id))


def _first_fit(ordered: Sequence[BinRoom], goods: Goods) -> BinRoom | None:
    """The first bin where ``units_that_fit(r, goods) >= goods.quantity``, with the goods'
    side of that test worked out once and the cheap comparisons first (a floor being set
    up tests many full bins for each product)."""
    need, unit, weight = goods.quantity, goods.unit_volume_cm3, goods.weight_g
    dims = sorted(goods.dims_mm)
    for r in ordered:
        if int(r.free_volume_cm3 * 0.85) // unit < need:
            continue
        if weight and r.free_weight_g // weight < need:
            continue
        inner = sorted(r.inner_mm)
        if dims[0] <= inner[0] and dims[1] <= inner[1] and dims[2] <= inner[2]:
            return r
    return None


def _nearest_dock(ordered: Sequence[BinRoom], goods: Goods) -> BinRoom | None:
    return _first_fit(ordered, goods)


def _spread(ordered: Sequence[BinRoom], goods: Goods) -> BinRoom | None:
    held = {r.zone for r in ordered if r.holds_product}
    fresh = [r for r in ordered if r.zone not in held]
    return _first_fit(fresh, goods) or _first_fit(ordered, goods)


# Each policy searches bins given in walk order (nearest the dock first).
POLICIES: dict[str, Callable[[Sequence[BinRoom], Goods], BinRoom | None]] = {
    "nearest_dock": _nearest_dock,
    "spread": _spread,
}


def choose_bin(
    rooms: Sequence[BinRoom], goods: Goods, dock: tuple[int, int], policy: str = "spread"
) -> BinRoom | None:
    """The bin the policy picks for all of ``goods``, or ``None`` when no bin has room."""
    return choose_in_walk_order(walk_order(rooms, dock), goods, policy)


def choose_in_walk_order(
    ordered: Sequence[BinRoom], goods: Goods, policy: str = "spread"
) -> BinRoom | None:
    """:func:`choose_bin` on bins already in :func:`walk_order` (a caller stowing many
    products sorts once)."""
    try:
        pick = POLICIES[policy]
    except KeyError:
        raise ValueError(f"unknown stow policy {policy!r}; known: {sorted(POLICIES)}") from None
    return pick(ordered, goods)
