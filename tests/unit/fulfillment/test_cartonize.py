"""Cartonization: named cases, guillotine instances that must fit whole, and the checker."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hubflow.fulfillment.cartonize import (
    Box,
    Item,
    PackedBox,
    Packing,
    Placement,
    check_packing,
    oriented,
    pack,
    packing_to_json,
    request_from_json,
)

FAST = 1.0  # seconds: the named cases need a fraction of it


def packed(boxes: list[Box], items: list[Item], **kw: float) -> Packing:
    result = pack(boxes, items, time_limit_s=kw.get("time_limit_s", FAST), seed=1)
    assert check_packing(boxes, items, result) == []
    return result


def box_of(result: Packing, item_id: str) -> str:
    return next(
        pb.box_id for pb in result.boxes_used for p in pb.placements if p.item_id == item_id
    )


def test_one_item_one_box() -> None:
    boxes = [Box("S", (100, 100, 100), 1_000)]
    result = packed(boxes, [Item("a", (50, 40, 30), 200)])
    assert [pb.box_id for pb in result.boxes_used] == ["S"]
    assert result.boxes_used[0].weight == 200
    assert result.unpacked == ()


def test_an_item_that_must_turn() -> None:
    boxes = [Box("flat", (400, 300, 50), 5_000)]
    result = packed(boxes, [Item("tube", (40, 30, 350), 100)])
    (p,) = result.boxes_used[0].placements
    assert p.size[2] <= 50 and p.orientation != "lwh"
    assert sorted(p.size) == [30, 40, 350]


def test_the_cheapest_box_that_holds_everything() -> None:
    boxes = [
        Box("L", (600, 400, 400), 20_000, cost=3.0),
        Box("S", (200, 200, 100), 5_000, cost=1.0),
        Box("M", (300, 200, 200), 10_000, cost=2.0),
    ]
    # S holds four, so five cost two S or one M: the same money, and one box beats two.
    items = [Item(f"i{n}", (100, 100, 100), 100) for n in range(5)]
    assert [pb.box_id for pb in packed(boxes, items).boxes_used] == ["M"]


def test_two_boxes_when_one_is_not_enough() -> None:
    boxes = [Box("cube", (100, 100, 100), 10_000)]
    items = [Item(f"half{n}", (100, 100, 50), 100) for n in range(3)]
    result = packed(boxes, items)
    assert [pb.box_id for pb in result.boxes_used] == ["cube", "cube"]
    assert sorted(len(pb.placements) for pb in result.boxes_used) == [1, 2]


def test_an_item_too_big_for_every_box_is_reported() -> None:
    boxes = [Box("S", (200, 150, 100), 5_000), Box("M", (300, 250, 200), 5_000)]
    items = [Item("pole", (900, 30, 30), 600), Item("mug", (120, 90, 95), 350)]
    result = packed(boxes, items)
    assert [(u.item_id, u.reason) for u in result.unpacked] == [("pole", "larger than every box")]
    assert box_of(result, "mug") == "S"


def test_an_item_too_heavy_for_every_box_is_reported() -> None:
    boxes = [Box("S", (200, 200, 200), 5_000)]
    result = packed(boxes, [Item("anvil", (100, 100, 100), 9_000)])
    assert result.boxes_used == ()
    assert result.unpacked[0].reason.startswith("heavier")


def test_the_weight_limit_forces_a_second_box() -> None:
    boxes = [Box("S", (300, 300, 300), 10_000)]
    items = [Item(f"brick{n}", (100, 100, 100), 4_000) for n in range(3)]
    result = packed(boxes, items)
    assert len(result.boxes_used) == 2
    assert all(pb.weight <= 10_000 for pb in result.boxes_used)


def test_a_snug_fit() -> None:
    # A 100 x 60 x 40 box cut into five pieces at odd places, each piece turned.
    pieces = [(20, 30, 60), (60, 20, 30), (40, 70, 40), (40, 50, 20), (40, 20, 20)]
    box = Box("B", (100, 60, 40), 10_000)
    items = [Item(f"p{n}", d, 1) for n, d in enumerate(pieces)]
    assert sum(i.volume for i in items) == box.volume
    result = packed([box], items, time_limit_s=3.0)
    assert len(result.boxes_used) == 1 and not result.unpacked


def test_a_pinwheel_that_no_straight_cut_separates() -> None:
    # Four 30 x 20 slabs turn around a 10 x 10 cube in a 50 x 50 tray. No guillotine cut
    # splits that packing, and the extreme-point heuristic leaves one piece out: only the
    # height-map search finds it.
    box = Box("tray", (50, 50, 10), 1_000)
    dims = [(30, 20, 10), (20, 10, 30), (10, 30, 20), (30, 10, 20), (10, 10, 10)]
    items = [Item(f"p{n}", d, 1) for n, d in enumerate(dims)]
    result = packed([box], items, time_limit_s=3.0)
    assert len(result.boxes_used) == 1 and not result.unpacked


def test_no_items_no_boxes() -> None:
    assert pack([Box("S", (1, 1, 1), 1)], []) == Packing((), ())


@pytest.mark.parametrize(
    "make",
    [
        lambda: Box("", (1, 1, 1), 1),
        lambda: Box("b", (0, 1, 1), 1),
        lambda: Box("b", (1, 1), 1),  # type: ignore[arg-type]
        lambda: Box("b", (1, 1, 1), 0),
        lambda: Box("b", (1, 1, 10_001), 1),
        lambda: Box("b", (1, 1, 1), 1, cost=-1.0),
        lambda: Item("i", (1, 1, 1.5), 1),  # type: ignore[arg-type]
        lambda: Item("i", (1, 1, 1), -1),
        lambda: Placement("i", (0, 0, -1), (1, 1, 1), "lwh"),
        lambda: Placement("i", (0, 0, 0), (1, 1, 1), "xyz"),
    ],
)
def test_bad_values_raise(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


def test_pack_rejects_a_bad_request() -> None:
    with pytest.raises(ValueError, match="empty"):
        pack([], [Item("a", (1, 1, 1), 1)])
    with pytest.raises(ValueError, match="unique"):
        pack([Box("S", (9, 9, 9), 9)], [Item("a", (1, 1, 1), 1), Item("a", (1, 1, 1), 1)])
    with pytest.raises(ValueError, match="every box or for none"):
        pack([Box("S", (9, 9, 9), 9, cost=1.0), Box("T", (9, 9, 9), 9)], [])


# -- guillotine instances: everything fits one box, snugly -----------------------------------


@st.composite
def guillotine(draw: st.DrawFn) -> tuple[Box, list[Item]]:
    dims = tuple(draw(st.integers(20, 300)) for _ in range(3))
    pieces: list[tuple[int, ...]] = [dims]
    for _ in range(draw(st.integers(1, 5))):
        cuttable = [p for p in pieces if max(p) >= 10]
        piece = draw(st.sampled_from(cuttable))
        axis = draw(st.sampled_from([k for k in range(3) if piece[k] >= 10]))
        at = draw(st.integers(5, piece[axis] - 5))
        a, b = list(piece), list(piece)
        a[axis], b[axis] = at, piece[axis] - at
        pieces.remove(piece)
        pieces += [tuple(a), tuple(b)]
    turned = [tuple(draw(st.permutations(list(p)))) for p in draw(st.permutations(pieces))]
    box = Box("B", dims, 100_000)  # type: ignore[arg-type]
    return box, [Item(f"p{n}", d, 10) for n, d in enumerate(turned)]  # type: ignore[arg-type]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(guillotine())
def test_guillotine_pieces_always_go_back_into_their_box(case: tuple[Box, list[Item]]) -> None:
    box, items = case
    result = pack([box], items, time_limit_s=5.0, seed=0)
    assert check_packing([box], items, result) == []
    assert len(result.boxes_used) == 1 and not result.unpacked


# -- the checker -------------------------------------------------------------------------------

BOX = [Box("S", (100, 100, 100), 1_000)]
TWO = [Item("a", (50, 50, 50), 400), Item("b", (50, 50, 50), 400)]


def one_box(*placements: Placement, weight: int = 800) -> Packing:
    return Packing((PackedBox("S", placements, weight),))


def at(
    item_id: str, x: int, y: int, z: int, size: tuple[int, int, int] = (50, 50, 50)
) -> Placement:
    return Placement(item_id, (x, y, z), size, "lwh")


def test_the_checker_accepts_a_good_packing() -> None:
    assert check_packing(BOX, TWO, one_box(at("a", 0, 0, 0), at("b", 50, 0, 0))) == []


def test_the_checker_catches_an_overlap() -> None:
    errors = check_packing(BOX, TWO, one_box(at("a", 0, 0, 0), at("b", 49, 10, 0)))
    assert any("overlaps" in e for e in errors)


def test_the_checker_catches_an_item_out_of_the_box() -> None:
    errors = check_packing(BOX, TWO, one_box(at("a", 0, 0, 0), at("b", 60, 0, 0)))
    assert any("sticks out" in e for e in errors)


def test_the_checker_catches_overweight() -> None:
    heavy = [Item("a", (50, 50, 50), 700), Item("b", (50, 50, 50), 700)]
    errors = check_packing(BOX, heavy, one_box(at("a", 0, 0, 0), at("b", 50, 0, 0), weight=1_400))
    assert any("over the limit" in e for e in errors)


def test_the_checker_catches_missing_twice_and_wrong_sizes() -> None:
    errors = check_packing(BOX, TWO, one_box(at("a", 0, 0, 0), weight=400))
    assert any("b appears 0 times" in e for e in errors)
    errors = check_packing(BOX, TWO, one_box(at("a", 0, 0, 0), at("a", 50, 0, 0), weight=800))
    assert any("a appears 2 times" in e for e in errors)
    errors = check_packing(BOX, TWO, one_box(at("a", 0, 0, 0, (50, 50, 40)), at("b", 50, 0, 0)))
    assert any("orientation" in e for e in errors)


def test_oriented_turns_the_dimensions() -> None:
    assert oriented((1, 2, 3), "lwh") == (1, 2, 3)
    assert oriented((1, 2, 3), "hlw") == (3, 1, 2)


# -- JSON ------------------------------------------------------------------------------------


def test_json_round_trip() -> None:
    boxes, items = request_from_json(
        {
            "boxes": [{"id": "S", "dims": [100, 100, 100], "max_weight": 1000, "cost": 2}],
            "items": [{"id": "a", "dims": [10, 20, 30], "weight": 5}],
        }
    )
    out = packing_to_json(boxes, pack(boxes, items, seed=0))
    assert out["total"] == {"boxes": 1, "cost": 2, "volume_mm3": 1_000_000}
    assert out["boxes"][0]["items"][0]["id"] == "a"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "exactly"),
        ({"boxes": [], "items": []}, "must not be empty"),
        ({"boxes": [{"id": "S", "dims": [1, 1, 1]}], "items": []}, r"boxes\[0\] lacks max_weight"),
        (
            {"boxes": [{"id": "S", "dims": [1, 1, 1], "max_weight": 1, "colour": 1}], "items": []},
            "unknown field colour",
        ),
        (
            {
                "boxes": [{"id": "S", "dims": [1, 1, 1], "max_weight": 1}],
                "items": [{"id": "a", "dims": [1, "x", 1], "weight": 1}],
            },
            r"items\[0\]: item dims",
        ),
    ],
)
def test_bad_json_says_where(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        request_from_json(data)


def test_a_work_budget_stops_at_the_same_place_on_any_machine() -> None:
    # The pinwheel needs the exact search: a generous budget finds it, always the same way;
    # a budget of nothing stops at the greedy boxes, whatever the wall time allows.
    box = Box("tray", (50, 50, 10), 1_000)
    bigger = Box("big", (60, 60, 20), 2_000)
    dims = [(30, 20, 10), (20, 10, 30), (10, 30, 20), (30, 10, 20), (10, 10, 10)]
    items = [Item(f"p{n}", d, 1) for n, d in enumerate(dims)]
    runs = [pack([box, bigger], items, time_limit_s=0.001, work_limit=200_000) for _ in range(2)]
    assert runs[0] == runs[1]
    assert [pb.box_id for pb in runs[0].boxes_used] == ["tray"]
    assert check_packing([box, bigger], items, runs[0]) == []
    none = pack([box, bigger], items, time_limit_s=60.0, work_limit=0)
    assert len(none.boxes_used) == 2 and not none.unpacked
    with pytest.raises(ValueError, match="work_limit"):
        pack([box], items, work_limit=-1)
