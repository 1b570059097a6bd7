"""Boxes, items and packings, their validation, the six orientations, and small helpers
the packers share."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

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
    """A search budget: wall time, or with ``work`` a count of search steps, so the same
    input stops at the same place on any machine (the twin needs identical runs). A share
    for a sub-search draws on its parent's work too."""

    def __init__(
        self, seconds: float, *, work: int | None = None, parent: _Deadline | None = None
    ) -> None:
        self.at = time.monotonic() + seconds
        self.work = work
        self.parent = parent

    def left(self) -> float:
        if self.work is not None:
            return float(self.work)
        return self.at - time.monotonic()

    def over(self, steps: int = 1) -> bool:
        if self.work is None:
            return time.monotonic() >= self.at
        self.work -= steps
        spent = self.parent.over(steps) if self.parent is not None else False
        return spent or self.work < 0

    def share(self, most: float) -> _Deadline:
        """A budget for a sub-search: at most ``most`` of what is left."""
        if self.work is not None:
            return _Deadline(0.0, work=int(min(most, self.work)), parent=self)
        return _Deadline(min(most, self.left()))


def _vol(d: Dims) -> int:
    return d[0] * d[1] * d[2]


def _fits_some_way(item: Dims, box: Dims) -> bool:
    return all(a <= b for a, b in zip(sorted(item), sorted(box), strict=True))
