"""Membership rules (pure): plans and their benefits, billing periods on calendar months,
pro-rata refunds in integer minor units, and the household address rule."""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from hubflow.promise.model import MemberTerms, OptionCode

__all__ = [
    "NETWORK",
    "Benefits",
    "Billing",
    "Plan",
    "SubStatus",
    "add_months",
    "address_key",
    "period_end",
    "prorata_refund",
]

NETWORK = "network"  # the scope of plans the network operator sells (valid at every merchant)


class Billing(StrEnum):
    MONTHLY = "monthly"
    ANNUAL = "annual"

    @property
    def months(self) -> int:
        return 1 if self is Billing.MONTHLY else 12


class SubStatus(StrEnum):
    TRIALING = "trialing"
    ACTIVE = "active"
    LAPSED = "lapsed"  # not renewed (turned off, or the payment failed)
    CANCELLED = "cancelled"  # ended early by the customer, with a pro-rata refund

    @property
    def live(self) -> bool:
        return self in (SubStatus.TRIALING, SubStatus.ACTIVE)


@dataclass(frozen=True)
class Benefits:
    """What a plan gives: free delivery from a cart value per option, which members-only
    options it opens (``None``: all of them), extra return days, and an earn multiplier."""

    free_delivery_over: Mapping[OptionCode, int]
    member_options: frozenset[OptionCode] | None = None
    extra_return_days: int = 0
    points_multiplier_pct: int = 100

    def terms(self, plan_id: str, subscription_id: str) -> MemberTerms:
        return MemberTerms(
            plan_id, subscription_id, dict(self.free_delivery_over), self.member_options
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "free_delivery_over": {o.value: v for o, v in self.free_delivery_over.items()},
            "member_options": None
            if self.member_options is None
            else [o.value for o in OptionCode if o in self.member_options],
            "extra_return_days": self.extra_return_days,
            "points_multiplier_pct": self.points_multiplier_pct,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Benefits:
        options = data.get("member_options")
        return cls(
            free_delivery_over={
                OptionCode(k): int(v) for k, v in (data.get("free_delivery_over") or {}).items()
            },
            member_options=None if options is None else frozenset(OptionCode(o) for o in options),
            extra_return_days=int(data.get("extra_return_days") or 0),
            points_multiplier_pct=int(data.get("points_multiplier_pct") or 100),
        )


@dataclass(frozen=True)
class Plan:
    id: str
    scope: str  # a merchant id, or NETWORK
    code: str
    name: str
    currency: str
    monthly_price: int
    annual_price: int | None
    trial_days: int
    household_max: int  # members besides the primary
    benefits: Benefits

    def price(self, billing: Billing) -> int | None:
        return self.monthly_price if billing is Billing.MONTHLY else self.annual_price


def add_months(anchor: datetime, months: int) -> datetime:
    """``anchor`` plus calendar months, the day clamped to the month's last day, so a
    plan started on 31 January renews on 28/29 February and again on 31 March."""
    total = anchor.month - 1 + months
    year, month = anchor.year + total // 12, total % 12 + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def period_end(anchor: datetime, billing: Billing, cycle: int) -> datetime:
    """The end of paid period ``cycle`` (1, 2, ...) of a subscription billed from ``anchor``;
    always computed from the anchor, so short months do not drift the renewal day."""
    return add_months(anchor, billing.months * cycle)


def prorata_refund(price: int, start: datetime, end: datetime, now: datetime) -> int:
    """The unused part of a period's price, rounded down to the minor unit (never more
    than was paid, never negative)."""
    total = (end - start).total_seconds()
    left = (end - max(now, start)).total_seconds()
    if total <= 0 or left <= 0:
        return 0
    # Integer microseconds: no float rounding on money.
    return price * round(min(left, total) * 1_000_000) // round(total * 1_000_000)


_SPACES = re.compile(r"[^a-z0-9]+")


def address_key(address: Mapping[str, Any]) -> str:
    """One household address, whatever the spelling: line1, line2, postcode and country,
    lower-cased, punctuation and spaces folded."""
    parts = [str(address.get(k) or "") for k in ("line1", "line2", "postcode", "country")]
    return "|".join(_SPACES.sub(" ", p.lower()).strip() for p in parts)
