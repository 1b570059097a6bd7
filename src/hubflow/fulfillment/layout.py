"""A warehouse layout as a pure model, and walking distances through it.

Geometry (all integers, millimetres): aisles run front to back (``y``) at increasing ``x``,
left to right; cross aisles run left to right at increasing ``y``, front to back. The first
cross aisle is the front one, the last the back one; a layout with more than two has several
*blocks* (the stretches of aisle between two consecutive cross aisles). Racks line both sides of
every aisle in every block; the picker walks along the centre lines only, so a bin's place for
walking is its :class:`Location` (aisle, position along the aisle, side) and the side does not
change the walk. The depot (where carts start and finish) is where the front cross aisle meets
``depot_aisle``.

The walking graph has a node at every aisle/cross-aisle intersection and at every pick location,
and edges along aisles and cross aisles only: nobody walks through a rack.
"""

from __future__ import annotations

import bisect
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "SIDES",
    "Aisle",
    "Bin",
    "CrossAisle",
    "IntMatrix",
    "Layout",
    "Location",
    "Point",
    "Rack",
    "Side",
    "Zone",
    "generate",
]

Side = Literal["left", "right"]
IntMatrix = npt.NDArray[np.int64]
SIDES: tuple[Side, Side] = ("left", "right")
FORMAT = 1


class Point(NamedTuple):
    """A point on the walking graph's centre lines."""

    x_mm: int
    y_mm: int


def _positive(name: str, value: int) -> None:
    if value <= 0:
        raise ValueError(f"{name} must be positive: {value}")


@dataclass(frozen=True, slots=True)
class Location:
    """Where a picker stands to reach a bin: ``position_mm`` is measured along the aisle from
    the front cross aisle's centre line."""

    aisle: int
    position_mm: int
    side: Side

    def __post_init__(self) -> None:
        if self.aisle < 0:
            raise ValueError(f"aisle must not be negative: {self.aisle}")
        if self.side not in SIDES:
            raise ValueError(f"side must be left or right: {self.side!r}")


@dataclass(frozen=True, slots=True)
class Aisle:
    x_mm: int
    width_mm: int

    def __post_init__(self) -> None:
        _positive("aisle width_mm", self.width_mm)


@dataclass(frozen=True, slots=True)
class CrossAisle:
    y_mm: int
    width_mm: int

    def __post_init__(self) -> None:
        _positive("cross aisle width_mm", self.width_mm)


@dataclass(frozen=True, slots=True)
class Zone:
    """A part of the hub with its own conditions (ambient, chilled...) or pickers."""

    id: str
    name: str

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("zone id must not be empty")


@dataclass(frozen=True, slots=True)
class Rack:
    """The shelving on one side of one aisle in one block."""

    id: str
    zone: str
    aisle: int
    side: Side
    block: int
    depth_mm: int

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("rack id must not be empty")
        if self.aisle < 0 or self.block < 0:
            raise ValueError(f"rack {self.id}: aisle and block must not be negative")
        if self.side not in SIDES:
            raise ValueError(f"rack {self.id}: side must be left or right: {self.side!r}")
        _positive(f"rack {self.id} depth_mm", self.depth_mm)


@dataclass(frozen=True, slots=True)
class Bin:
    """One storage slot: ``position_mm`` is its centre along the aisle, ``width_mm`` its extent
    along the aisle, ``elevation_mm`` the height of its floor."""

    id: str
    rack: str
    level: int
    position_mm: int
    elevation_mm: int
    width_mm: int
    depth_mm: int
    height_mm: int
    max_weight_g: int

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("bin id must not be empty")
        if self.level < 0 or self.elevation_mm < 0:
            raise ValueError(f"bin {self.id}: level and elevation must not be negative")
        for name in ("width_mm", "depth_mm", "height_mm", "max_weight_g"):
            _positive(f"bin {self.id} {name}", getattr(self, name))


@dataclass(frozen=True)
class Layout:
    """Aisles left to right, cross aisles front to back, and what stands between them."""

    name: str
    aisles: tuple[Aisle, ...]
    cross_aisles: tuple[CrossAisle, ...]
    depot_aisle: int = 0
    zones: tuple[Zone, ...] = ()
    racks: tuple[Rack, ...] = ()
    bins: tuple[Bin, ...] = ()
    _xs: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _ys: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _aisle_at: dict[int, int] = field(init=False, repr=False, compare=False)
    _racks: dict[str, Rack] = field(init=False, repr=False, compare=False)
    _bins: dict[str, Bin] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.aisles:
            raise ValueError("a layout needs at least one aisle")
        if len(self.cross_aisles) < 2:
            raise ValueError("a layout needs a front and a back cross aisle")
        # Twice the coordinates, so half widths stay integers.
        for kind, items in (
            ("aisles", [(a.x_mm, a.width_mm) for a in self.aisles]),
            ("cross aisles", [(c.y_mm, c.width_mm) for c in self.cross_aisles]),
        ):
            for (p, w), (q, v) in pairwise(items):
                if 2 * (q - p) <= w + v:
                    raise ValueError(f"{kind} at {p} and {q} mm overlap or are out of order")
        if not 0 <= self.depot_aisle < len(self.aisles):
            raise ValueError(f"depot_aisle {self.depot_aisle} is not an aisle")
        xs = tuple(a.x_mm for a in self.aisles)
        ys = tuple(c.y_mm for c in self.cross_aisles)
        object.__setattr__(self, "_xs", xs)
        object.__setattr__(self, "_ys", ys)
        object.__setattr__(self, "_aisle_at", {x: i for i, x in enumerate(xs)})
        object.__setattr__(self, "_racks", _unique("rack", self.racks))
        object.__setattr__(self, "_bins", _unique("bin", self.bins))
        zones = _unique("zone", self.zones)
        for r in self.racks:
            if r.zone not in zones:
                raise ValueError(f"rack {r.id}: unknown zone {r.zone!r}")
            if r.aisle >= len(xs) or r.block >= self.blocks:
                raise ValueError(f"rack {r.id}: no aisle {r.aisle} in block {r.block}")
        self._check_bins()

    def _check_bins(self) -> None:
        spans: dict[tuple[str, int], list[tuple[int, int, str]]] = defaultdict(list)
        for b in self.bins:
            rack = self._racks.get(b.rack)
            if rack is None:
                raise ValueError(f"bin {b.id}: unknown rack {b.rack!r}")
            lo, hi = self.cross_aisles[rack.block], self.cross_aisles[rack.block + 1]
            start, end = 2 * b.position_mm - b.width_mm, 2 * b.position_mm + b.width_mm
            if start < 2 * lo.y_mm + lo.width_mm or end > 2 * hi.y_mm - hi.width_mm:
                raise ValueError(f"bin {b.id} sticks out of block {rack.block}")
            if b.depth_mm > rack.depth_mm:
                raise ValueError(f"bin {b.id} is deeper than rack {rack.id}")
            spans[b.rack, b.level].append((start, end, b.id))
        for items in spans.values():
            items.sort()
            for (_, end, first), (start, _, second) in pairwise(items):
                if start < end:
                    raise ValueError(f"bins {first} and {second} overlap")

    # -- geometry ---------------------------------------------------------------------------

    @property
    def blocks(self) -> int:
        return len(self.cross_aisles) - 1

    @property
    def depot(self) -> Point:
        return Point(self._xs[self.depot_aisle], self._ys[0])

    def intersections(self) -> list[Point]:
        return [Point(x, y) for y in self._ys for x in self._xs]

    def block_of(self, location: Location) -> int:
        """The block a location is in; ``ValueError`` if it is not strictly inside one."""
        if location.aisle >= len(self._xs):
            raise ValueError(f"no aisle {location.aisle} in layout {self.name}")
        k = bisect.bisect_left(self._ys, location.position_mm) - 1
        if k < 0 or k >= self.blocks or location.position_mm == self._ys[k + 1]:
            raise ValueError(f"{location} is not inside a block of layout {self.name}")
        return k

    def point(self, location: Location) -> Point:
        """The pick location on the walking graph (it must lie inside a block)."""
        self.block_of(location)
        return Point(self._xs[location.aisle], location.position_mm)

    def location(self, bin_id: str) -> Location:
        b = self._bin(bin_id)
        rack = self._racks[b.rack]
        return Location(rack.aisle, b.position_mm, rack.side)

    def coordinates(self, bin_id: str) -> tuple[int, int, int]:
        """``(x, y, z)`` in mm: the centre of the bin's footprint and the height of its floor."""
        b = self._bin(bin_id)
        rack = self._racks[b.rack]
        aisle = self.aisles[rack.aisle]
        off = aisle.width_mm // 2 + rack.depth_mm // 2
        x = aisle.x_mm - off if rack.side == "left" else aisle.x_mm + off
        return x, b.position_mm, b.elevation_mm

    def _bin(self, bin_id: str) -> Bin:
        try:
            return self._bins[bin_id]
        except KeyError:
            raise ValueError(f"no bin {bin_id!r} in layout {self.name}") from None

    def _node(self, p: Point | Location) -> Point:
        if isinstance(p, Location):
            return self.point(p)
        if p.x_mm not in self._aisle_at or not self._ys[0] <= p.y_mm <= self._ys[-1]:
            raise ValueError(f"{p} is not on an aisle of layout {self.name}")
        return p

    def _exits(self, p: Point) -> list[tuple[Point, int]]:
        """Where a walk from ``p`` reaches a cross aisle, and how far that is."""
        k = bisect.bisect_left(self._ys, p.y_mm)
        if k < len(self._ys) and self._ys[k] == p.y_mm:
            return [(p, 0)]
        lo, hi = self._ys[k - 1], self._ys[k]
        return [(Point(p.x_mm, lo), p.y_mm - lo), (Point(p.x_mm, hi), hi - p.y_mm)]

    def _best_exits(self, a: Point, b: Point) -> tuple[int, Point, Point]:
        # Between two cross-aisle points at aisle x positions the grid is complete, so the walk
        # between them is as short as the Manhattan distance.
        return min(
            (da + abs(ea.x_mm - eb.x_mm) + abs(ea.y_mm - eb.y_mm) + db, ea, eb)
            for ea, da in self._exits(a)
            for eb, db in self._exits(b)
        )

    def distance(self, a: Point | Location, b: Point | Location) -> int:
        """Shortest walk in mm between two points on the aisles' centre lines."""
        pa, pb = self._node(a), self._node(b)
        if pa.x_mm == pb.x_mm:
            return abs(pa.y_mm - pb.y_mm)
        return self._best_exits(pa, pb)[0]

    def distance_matrix(self, points: Sequence[Point | Location]) -> IntMatrix:
        """:meth:`distance` between every pair of ``points``, ``[from, to]``."""
        nodes = [self._node(p) for p in points]
        x = np.array([p.x_mm for p in nodes], dtype=np.int64)
        y = np.array([p.y_mm for p in nodes], dtype=np.int64)
        # Each point's two ways out to a cross aisle (the same one twice if it is on one).
        ys = np.array(self._ys, dtype=np.int64)
        hi = np.clip(np.searchsorted(ys, y, side="left"), 1, len(ys) - 1)
        on_cross = ys[hi] == y
        lo = np.where(on_cross, hi, hi - 1)
        exits = [ys[lo], ys[hi]]
        cost = [y - ys[lo], ys[hi] - y]
        dx = np.abs(x[:, None] - x[None, :])
        best = np.full(dx.shape, np.iinfo(np.int64).max, dtype=np.int64)
        for ea, ca in zip(exits, cost, strict=True):
            for eb, cb in zip(exits, cost, strict=True):
                walk = ca[:, None] + dx + np.abs(ea[:, None] - eb[None, :]) + cb[None, :]
                np.minimum(best, walk, out=best)
        same_aisle = dx == 0
        best[same_aisle] = np.abs(y[:, None] - y[None, :])[same_aisle]
        return best

    def walk(self, a: Point | Location, b: Point | Location) -> list[Point]:
        """The corners of one shortest walk from ``a`` to ``b`` (both included)."""
        pa, pb = self._node(a), self._node(b)
        if pa.x_mm == pb.x_mm:
            corners = [pa, pb]
        else:
            _, ea, eb = self._best_exits(pa, pb)
            corners = [pa, ea, Point(eb.x_mm, ea.y_mm), eb, pb]
        return [p for i, p in enumerate(corners) if i == 0 or p != corners[i - 1]]

    def graph(self, points: Iterable[Point | Location] = ()) -> dict[Point, dict[Point, int]]:
        """The walking graph over the intersections and ``points``: neighbours and edge lengths
        in mm, edges only between consecutive nodes along an aisle or a cross aisle."""
        nodes = set(self.intersections()) | {self._node(p) for p in points}
        adj: dict[Point, dict[Point, int]] = {p: {} for p in nodes}
        along: dict[int, list[int]] = defaultdict(list)
        for p in nodes:
            along[p.x_mm].append(p.y_mm)
        for x, ys in along.items():
            ys.sort()
            for y0, y1 in pairwise(ys):
                adj[Point(x, y0)][Point(x, y1)] = adj[Point(x, y1)][Point(x, y0)] = y1 - y0
        for y in self._ys:
            for x0, x1 in pairwise(self._xs):
                adj[Point(x0, y)][Point(x1, y)] = adj[Point(x1, y)][Point(x0, y)] = x1 - x0
        return adj

    # -- JSON -------------------------------------------------------------------------------

    def as_json(self) -> dict[str, Any]:
        """A plain JSON document; :meth:`from_json` reads it back to an equal layout."""
        return {
            "format": FORMAT,
            "name": self.name,
            "depot_aisle": self.depot_aisle,
            "aisles": [{"x_mm": a.x_mm, "width_mm": a.width_mm} for a in self.aisles],
            "cross_aisles": [{"y_mm": c.y_mm, "width_mm": c.width_mm} for c in self.cross_aisles],
            "zones": [{"id": z.id, "name": z.name} for z in self.zones],
            "racks": [
                {f: getattr(r, f) for f in ("id", "zone", "aisle", "side", "block", "depth_mm")}
                for r in self.racks
            ],
            "bins": [{f: getattr(b, f) for f in _BIN_FIELDS} for b in self.bins],
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Layout:
        """Read :meth:`as_json`'s document; ``ValueError`` on anything malformed."""
        try:
            if doc.get("format", FORMAT) != FORMAT:
                raise ValueError(f"unknown layout format {doc.get('format')!r}")
            return cls(
                name=str(doc["name"]),
                depot_aisle=_int(doc.get("depot_aisle", 0)),
                aisles=tuple(Aisle(_int(a["x_mm"]), _int(a["width_mm"])) for a in doc["aisles"]),
                cross_aisles=tuple(
                    CrossAisle(_int(c["y_mm"]), _int(c["width_mm"])) for c in doc["cross_aisles"]
                ),
                zones=tuple(Zone(str(z["id"]), str(z["name"])) for z in doc.get("zones", ())),
                racks=tuple(
                    Rack(
                        id=str(r["id"]),
                        zone=str(r["zone"]),
                        aisle=_int(r["aisle"]),
                        side=r["side"],
                        block=_int(r["block"]),
                        depth_mm=_int(r["depth_mm"]),
                    )
                    for r in doc.get("racks", ())
                ),
                bins=tuple(
                    Bin(str(b["id"]), str(b["rack"]), *(_int(b[f]) for f in _BIN_FIELDS[2:]))
                    for b in doc.get("bins", ())
                ),
            )
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError(f"malformed layout document: {e!r}") from None


_BIN_FIELDS = (
    "id",
    "rack",
    "level",
    "position_mm",
    "elevation_mm",
    "width_mm",
    "depth_mm",
    "height_mm",
    "max_weight_g",
)


def _int(value: object) -> int:
    # bool is an int to Python but never a coordinate.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


_T = TypeVar("_T", Zone, Rack, Bin)


def _unique(kind: str, items: Sequence[_T]) -> dict[str, _T]:
    out: dict[str, _T] = {}
    for item in items:
        if item.id in out:
            raise ValueError(f"duplicate {kind} id {item.id!r}")
        out[item.id] = item
    return out


def generate(
    blocks: int = 1,
    aisles: int = 10,
    bins_per_side: int = 20,
    levels: int = 4,
    *,
    bin_width_mm: int = 1_000,
    rack_depth_mm: int = 600,
    aisle_width_mm: int = 1_500,
    cross_aisle_width_mm: int = 2_000,
    zones: Sequence[str] = ("ambient",),
    depot_aisle: int = 0,
    seed: int = 0,
) -> Layout:
    """A regular layout for demos and benchmarks: ``aisles`` parallel aisles cut into
    ``blocks`` blocks, ``bins_per_side`` bins per rack and level, zones as contiguous groups of
    aisles. ``seed`` picks each rack's shelving (light shelves or pallet racking), which sets
    bin heights and weight limits but never the geometry."""
    for name, value in (
        ("blocks", blocks),
        ("aisles", aisles),
        ("bins_per_side", bins_per_side),
        ("levels", levels),
        ("bin_width_mm", bin_width_mm),
        ("rack_depth_mm", rack_depth_mm),
        ("aisle_width_mm", aisle_width_mm),
        ("cross_aisle_width_mm", cross_aisle_width_mm),
    ):
        _positive(name, value)
    if not zones or len(zones) > aisles:
        raise ValueError("need between one zone and one zone per aisle")
    rng = random.Random(seed)
    # Even widths keep every centre line on a whole millimetre.
    aw, cw, bw = (2 * (v // 2 or 1) for v in (aisle_width_mm, cross_aisle_width_mm, bin_width_mm))
    pitch = aw + 2 * rack_depth_mm
    block_len = bins_per_side * bw
    xs = [rack_depth_mm + aw // 2 + i * pitch for i in range(aisles)]
    ys = [i * (cw + block_len) for i in range(blocks + 1)]
    zone_list = tuple(Zone(f"z{i + 1}", name) for i, name in enumerate(zones))
    racks: list[Rack] = []
    bins: list[Bin] = []
    for i in range(aisles):
        zone = zone_list[i * len(zone_list) // aisles].id
        for k in range(blocks):
            for side in SIDES:
                rack = Rack(
                    f"A{i + 1:02d}{side[0].upper()}-B{k + 1}", zone, i, side, k, rack_depth_mm
                )
                racks.append(rack)
                height, weight = rng.choice([(400, 30_000), (1_200, 500_000)])
                for s in range(bins_per_side):
                    for lv in range(levels):
                        bins.append(
                            Bin(
                                id=f"{rack.id}-{s + 1:02d}-{lv + 1}",
                                rack=rack.id,
                                level=lv,
                                position_mm=ys[k] + cw // 2 + s * bw + bw // 2,
                                elevation_mm=lv * height,
                                width_mm=bw,
                                depth_mm=rack_depth_mm,
                                height_mm=height,
                                max_weight_g=weight,
                            )
                        )
    return Layout(
        name=f"{blocks}x{aisles}x{bins_per_side}",
        aisles=tuple(Aisle(x, aw) for x in xs),
        cross_aisles=tuple(CrossAisle(y, cw) for y in ys),
        depot_aisle=depot_aisle,
        zones=zone_list,
        racks=tuple(racks),
        bins=tuple(bins),
    )
