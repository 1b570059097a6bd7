"""Stock positions and movements (pure)."""

from __future__ import annotations

import pytest

from hubflow.inventory.model import Movement, MovementKind, Position

K = MovementKind


@pytest.mark.parametrize(
    ("kind", "on_hand", "reserved"),
    [
        (K.RECEIPT, 5, 0),
        (K.ADJUSTMENT, 5, 0),
        (K.RESERVE, 0, 5),
        (K.RELEASE, 0, -5),
        (K.SHIP, -5, -5),
    ],
)
def test_movement_deltas(kind: MovementKind, on_hand: int, reserved: int) -> None:
    assert Movement.of(kind, 5) == Movement(kind, on_hand, reserved)


def test_negative_adjustment_lowers_on_hand() -> None:
    assert Movement.of(K.ADJUSTMENT, -3) == Movement(K.ADJUSTMENT, -3, 0)


def test_every_kind_has_deltas() -> None:
    for kind in MovementKind:
        m = Movement.of(kind, 1)
        assert (m.on_hand_delta, m.reserved_delta) != (0, 0)


def test_position_available_and_validity() -> None:
    assert Position().available == 0
    assert Position(10, 3).available == 7
    assert Position(0, 0).is_valid()
    assert Position(3, 3).is_valid()
    assert not Position(2, 3).is_valid()
    assert not Position(-1, 0).is_valid()
    assert not Position(5, -1).is_valid()


def test_apply_follows_the_movement() -> None:
    p = Position()
    p = p.apply(Movement.of(K.RECEIPT, 10)) or pytest.fail("receipt refused")
    p = p.apply(Movement.of(K.RESERVE, 4)) or pytest.fail("reserve refused")
    assert p == Position(10, 4)
    p = p.apply(Movement.of(K.SHIP, 3)) or pytest.fail("ship refused")
    assert p == Position(7, 1)
    p = p.apply(Movement.of(K.RELEASE, 1)) or pytest.fail("release refused")
    assert p == Position(7, 0)


def test_apply_refuses_what_would_break_the_invariant() -> None:
    p = Position(5, 3)
    assert p.apply(Movement.of(K.RESERVE, 3)) is None  # only 2 available
    assert p.apply(Movement.of(K.RESERVE, 2)) == Position(5, 5)
    assert p.apply(Movement.of(K.ADJUSTMENT, -3)) is None  # below reserved
    assert p.apply(Movement.of(K.ADJUSTMENT, -2)) == Position(3, 3)
    assert p.apply(Movement.of(K.RELEASE, 4)) is None
    assert p.apply(Movement.of(K.SHIP, 4)) is None
    assert p == Position(5, 3)  # positions are values; apply never mutates


def test_position_is_the_sum_of_its_movements() -> None:
    moves = [
        Movement.of(K.RECEIPT, 10),
        Movement.of(K.RESERVE, 6),
        Movement.of(K.ADJUSTMENT, -2),
        Movement.of(K.SHIP, 4),
        Movement.of(K.RELEASE, 2),
        Movement.of(K.RECEIPT, 1),
    ]
    p = Position()
    for m in moves:
        nxt = p.apply(m)
        assert nxt is not None
        p = nxt
    assert p == Position(sum(m.on_hand_delta for m in moves), sum(m.reserved_delta for m in moves))
    assert p == Position(5, 0)
