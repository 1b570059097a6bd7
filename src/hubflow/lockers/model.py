"""Locker rules as a pure model: compartment sizes and states, pickup codes, and how
many wrong codes a compartment takes before it locks."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from hubflow.core.errors import IllegalTransition

__all__ = [
    "CODE_DIGITS",
    "HOLD",
    "MAX_FAILURES",
    "SIZES",
    "CompartmentStatus",
    "SizeClass",
    "check_compartment",
    "code_hash",
    "codes_match",
    "fits",
    "new_code",
]

HOLD = timedelta(days=3)  # how long a parcel waits before it goes back to the hub
MAX_FAILURES = 5  # wrong codes before the compartment locks
CODE_DIGITS = 6


class SizeClass(StrEnum):
    S = "S"
    M = "M"
    L = "L"
    XL = "XL"


@dataclass(frozen=True)
class Size:
    inner_mm: tuple[int, int, int]
    max_weight_g: int


# Typical parcel-locker compartments (inner dimensions).
SIZES: dict[SizeClass, Size] = {
    SizeClass.S: Size((410, 380, 80), 10_000),
    SizeClass.M: Size((410, 380, 190), 20_000),
    SizeClass.L: Size((410, 380, 410), 25_000),
    SizeClass.XL: Size((600, 500, 500), 30_000),
}


class CompartmentStatus(StrEnum):
    FREE = "free"
    OCCUPIED = "occupied"
    LOCKED = "locked"  # too many wrong codes: staff must open it
    OUT_OF_SERVICE = "out_of_service"


C = CompartmentStatus
TRANSITIONS: dict[CompartmentStatus, frozenset[CompartmentStatus]] = {
    C.FREE: frozenset({C.OCCUPIED, C.OUT_OF_SERVICE}),
    C.OCCUPIED: frozenset({C.FREE, C.LOCKED}),
    C.LOCKED: frozenset({C.OCCUPIED, C.FREE}),
    C.OUT_OF_SERVICE: frozenset({C.FREE}),
}


def check_compartment(current: CompartmentStatus, target: CompartmentStatus) -> None:
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(
            f"a compartment that is {current.value} cannot become {target.value}",
            code="compartment_out_of_order",
        )


def fits(dims_mm: tuple[int, int, int], weight_g: int, size: Size) -> bool:
    """Whether a parcel goes in, turned any way."""
    edges = zip(sorted(dims_mm), sorted(size.inner_mm), strict=True)
    return weight_g <= size.max_weight_g and all(a <= b for a, b in edges)


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(compartment_id: str, code: str) -> str:
    """Stored instead of the code; salted with the compartment so equal codes differ."""
    return hashlib.sha256(f"{compartment_id}:{code}".encode()).hexdigest()


def codes_match(compartment_id: str, code: str, stored: str | None) -> bool:
    return stored is not None and hmac.compare_digest(code_hash(compartment_id, code), stored)
