"""Stock positions and movements (pure domain).

A position is ``on_hand`` units physically at the hub, of which ``reserved`` are
promised to orders or holds. Every change is a movement in an append-only
ledger, and the position is always the sum of its movements.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "AdjustmentReason",
    "Movement",
    "MovementKind",
    "Position",
    "ReservationStatus",
    "StockRequest",
]


class MovementKind(StrEnum):
    RECEIPT = "receipt"
    ADJUSTMENT = "adjustment"
    RESERVE = "reserve"
    RELEASE = "release"
    SHIP = "ship"


class AdjustmentReason(StrEnum):
    CYCLE_COUNT = "cycle_count"
    DAMAGED = "damaged"
    LOST = "lost"
    FOUND = "found"
    EXPIRED = "expired"
    CORRECTION = "correction"


class ReservationStatus(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"
    EXPIRED = "expired"
    SHIPPED = "shipped"


@dataclass(frozen=True, slots=True)
class StockRequest:
    """``quantity`` units of a product wanted from one hub."""

    hub_id: str
    product_id: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Movement:
    kind: MovementKind
    on_hand_delta: int
    reserved_delta: int

    @classmethod
    def of(cls, kind: MovementKind, quantity: int) -> Movement:
        """The deltas each kind of movement applies for ``quantity`` units."""
        if kind is MovementKind.RECEIPT:
            return cls(kind, quantity, 0)
        if kind is MovementKind.ADJUSTMENT:
            return cls(kind, quantity, 0)
        if kind is MovementKind.RESERVE:
            return cls(kind, 0, quantity)
        if kind is MovementKind.RELEASE:
            return cls(kind, 0, -quantity)
        return cls(kind, -quantity, -quantity)  # SHIP: reserved units leave the building


@dataclass(frozen=True, slots=True)
class Position:
    on_hand: int = 0
    reserved: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def is_valid(self) -> bool:
        return 0 <= self.reserved <= self.on_hand

    def apply(self, movement: Movement) -> Position | None:
        """The position after ``movement``, or None when it would break the invariant."""
        after = Position(
            self.on_hand + movement.on_hand_delta, self.reserved + movement.reserved_delta
        )
        return after if after.is_valid() else None
