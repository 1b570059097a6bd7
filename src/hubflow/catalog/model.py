"""Merchants, API keys and products (pure domain)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from hubflow.core.errors import InvalidInput
from hubflow.core.money import Money

__all__ = [
    "KEY_PREFIX_LEN",
    "NewKey",
    "Product",
    "Role",
    "Temperature",
    "bundle_dims",
    "generate_key",
    "hash_key",
    "line_quantities",
]

KEY_PREFIX_LEN = 12


class Role(StrEnum):
    OPERATOR = "operator"
    MERCHANT = "merchant"
    COURIER = "courier"


class Temperature(StrEnum):
    AMBIENT = "ambient"
    CHILLED = "chilled"
    FROZEN = "frozen"


@dataclass(frozen=True)
class NewKey:
    secret: str  # shown once, never stored
    prefix: str
    hash: str


def hash_key(secret: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_key(role: Role) -> NewKey:
    tag = {Role.OPERATOR: "hfo", Role.MERCHANT: "hfk", Role.COURIER: "hfc"}[role]
    secret = f"{tag}_{secrets.token_urlsafe(32)}"
    return NewKey(secret=secret, prefix=secret[:KEY_PREFIX_LEN], hash=hash_key(secret))


@dataclass(frozen=True)
class Product:
    id: str
    merchant_id: str
    sku: str
    name: str
    dims_mm: tuple[int, int, int]
    weight_g: int
    value: Money
    temperature: Temperature
    hazmat: bool

    @property
    def volume_cm3(self) -> float:
        length, width, height = self.dims_mm
        return length * width * height / 1000.0


def bundle_dims(products: Mapping[str, Product], lines: Mapping[str, int]) -> tuple[int, int, int]:
    """The outside of a bag holding ``lines``: as long as the longest item, as wide as the
    widest, the items' smallest sides stacked."""
    items = [sorted(products[p].dims_mm, reverse=True) for p, q in lines.items() for _ in range(q)]
    if len(items) == 1:
        return items[0][0], items[0][1], items[0][2]
    return max(d[0] for d in items), max(d[1] for d in items), sum(d[2] for d in items)


def line_quantities(lines: list[tuple[str, int]]) -> dict[str, int]:
    """Units wanted per product; a cart names each product once and is never empty."""
    if not lines:
        raise InvalidInput("the cart is empty", code="empty_cart")
    seen: dict[str, int] = {}
    for product_id, qty in lines:
        if product_id in seen:
            raise InvalidInput(
                f"product {product_id} appears on more than one line",
                code="duplicate_line",
                details={"product_id": product_id},
            )
        seen[product_id] = qty
    return seen
