"""Points rules (pure): earn rules per order value, category and bonus; what points are
worth at checkout; which lots a debit takes (soonest to expire first); how credits repay
a debt first and debits beyond the balance become one; partner conversion; and the
reconciliation of a partner's statement against our transfers.

Integer points throughout: per-unit earnings are rounded down once, so a returned unit
takes back exactly what it earned."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "Bonus",
    "CategoryRule",
    "Earned",
    "Kind",
    "Line",
    "Lot",
    "Program",
    "Shortfall",
    "TransferRecord",
    "consume",
    "reconcile",
    "settle_credit",
    "split_debit",
]


class Kind(StrEnum):
    EARN = "earn"
    BURN = "burn"
    EARN_REVERSED = "earn_reversed"  # an order cancelled or returned takes its points back
    BURN_REVERSED = "burn_reversed"  # a cancelled order gives back what it burned
    EXPIRE = "expire"
    GRANT = "grant"  # goodwill or a promotion, by the merchant
    TRANSFER_IN = "transfer_in"
    TRANSFER_OUT = "transfer_out"


REVERSES: dict[Kind, Kind] = {Kind.EARN_REVERSED: Kind.EARN, Kind.BURN_REVERSED: Kind.BURN}


class Shortfall(ValueError):
    """A debit asked for more points than the lots hold."""


@dataclass(frozen=True)
class CategoryRule:
    sku_prefix: str  # the catalog has no categories: a SKU prefix stands for one
    multiplier_pct: int


@dataclass(frozen=True)
class Bonus:
    order_over: int  # paid value (minor units) from which the bonus is earned
    points: int


@dataclass(frozen=True)
class Line:
    product_id: str
    sku: str
    unit_value: int
    quantity: int


@dataclass(frozen=True)
class Earned:
    per_unit: Mapping[str, int]  # product id -> points per unit
    quantities: Mapping[str, int]
    bonus: int

    @property
    def total(self) -> int:
        return self.bonus + sum(p * self.quantities[k] for k, p in self.per_unit.items())


@dataclass(frozen=True)
class Program:
    """A merchant's points programme."""

    currency: str = "USD"
    points_per_unit: int = 1  # points earned ...
    unit: int = 100  # ... per this many minor units paid
    categories: tuple[CategoryRule, ...] = ()
    bonuses: tuple[Bonus, ...] = ()
    point_value: int = 1  # minor units a point is worth at checkout
    max_burn_pct: int = 100  # of the cart value
    expiry_days: int | None = 365

    def multiplier(self, sku: str) -> int:
        best = [c.multiplier_pct for c in self.categories if sku.startswith(c.sku_prefix)]
        return max(best) if best else 100

    def earn(self, lines: Sequence[Line], discount: int, member_pct: int = 100) -> Earned:
        """Points for an order: on what was paid (the points discount spread over the
        lines by value), times the category and membership multipliers."""
        total = sum(x.unit_value * x.quantity for x in lines)
        paid = max(0, total - discount)
        per_unit: dict[str, int] = {}
        qty: dict[str, int] = {}
        for x in lines:
            if total == 0:
                per_unit[x.product_id] = 0
            else:
                num = x.unit_value * paid * self.points_per_unit * self.multiplier(x.sku)
                per_unit[x.product_id] = num * member_pct // (total * self.unit * 100 * 100)
            qty[x.product_id] = qty.get(x.product_id, 0) + x.quantity
        bonus = sum(b.points for b in self.bonuses if paid >= b.order_over)
        return Earned(per_unit, qty, bonus)

    def max_burn(self, cart_value: int) -> int:
        """The most points a cart of this value may burn."""
        return cart_value * self.max_burn_pct // (100 * self.point_value)

    def to_json(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "points_per_unit": self.points_per_unit,
            "unit": self.unit,
            "categories": [
                {"sku_prefix": c.sku_prefix, "multiplier_pct": c.multiplier_pct}
                for c in self.categories
            ],
            "bonuses": [{"order_over": b.order_over, "points": b.points} for b in self.bonuses],
            "point_value": self.point_value,
            "max_burn_pct": self.max_burn_pct,
            "expiry_days": self.expiry_days,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Program:
        if not data:
            return cls()
        return cls(
            currency=data["currency"],
            points_per_unit=int(data["points_per_unit"]),
            unit=int(data["unit"]),
            categories=tuple(
                CategoryRule(c["sku_prefix"], int(c["multiplier_pct"])) for c in data["categories"]
            ),
            bonuses=tuple(Bonus(int(b["order_over"]), int(b["points"])) for b in data["bonuses"]),
            point_value=int(data["point_value"]),
            max_burn_pct=int(data["max_burn_pct"]),
            expiry_days=data.get("expiry_days"),
        )


@dataclass(frozen=True)
class Lot:
    """Points credited together, with what is left of them and when they expire."""

    id: str
    remaining: int
    expires_at: datetime | None


def consume(lots: Iterable[Lot], n: int, first: str | None = None) -> list[tuple[str, int]]:
    """Which lots a debit of ``n`` takes and how much of each: ``first`` (the lot a
    reversal undoes), then the soonest to expire (never-expiring last)."""

    def order(lot: Lot) -> tuple[bool, bool, datetime | None, str]:
        return (lot.id != first, lot.expires_at is None, lot.expires_at, lot.id)

    taken: list[tuple[str, int]] = []
    left = n
    for lot in sorted((x for x in lots if x.remaining > 0), key=order):
        if left == 0:
            break
        take = min(lot.remaining, left)
        taken.append((lot.id, take))
        left -= take
    if left > 0:
        raise Shortfall(f"{left} points short")
    return taken


def settle_credit(points: int, debt: int) -> tuple[int, int]:
    """A credit repays a debt first: (points to the balance, debt repaid)."""
    repaid = min(points, debt)
    return points - repaid, repaid


def split_debit(points: int, balance: int) -> tuple[int, int]:
    """A reversal beyond the balance: (points from the balance, points recorded as debt)."""
    taken = min(points, balance)
    return taken, points - taken


@dataclass(frozen=True)
class TransferRecord:
    transfer_id: str
    direction: str
    customer_id: str
    partner_points: int


@dataclass
class Reconciliation:
    matched: int = 0
    only_theirs: list[TransferRecord] = field(default_factory=list)
    only_ours: list[TransferRecord] = field(default_factory=list)
    mismatched: list[tuple[TransferRecord, TransferRecord]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def one(t: TransferRecord) -> dict[str, Any]:
            return {
                "transfer_id": t.transfer_id,
                "direction": t.direction,
                "customer_id": t.customer_id,
                "partner_points": t.partner_points,
            }

        return {
            "matched": self.matched,
            "unmatched": len(self.only_theirs) + len(self.only_ours) + len(self.mismatched),
            "only_in_partner_statement": [one(t) for t in self.only_theirs],
            "only_in_our_ledger": [one(t) for t in self.only_ours],
            "mismatched": [{"ours": one(o), "theirs": one(t)} for o, t in self.mismatched],
        }


def reconcile(ours: Iterable[TransferRecord], theirs: Iterable[TransferRecord]) -> Reconciliation:
    """Match a partner's statement with our transfers by their transfer id."""
    mine = {t.transfer_id: t for t in ours}
    out = Reconciliation()
    for t in theirs:
        o = mine.pop(t.transfer_id, None)
        if o is None:
            out.only_theirs.append(t)
        elif o == t:
            out.matched += 1
        else:
            out.mismatched.append((o, t))
    out.only_ours.extend(sorted(mine.values(), key=lambda t: t.transfer_id))
    return out
