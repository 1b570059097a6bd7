"""Opaque cursors for keyset pagination."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Query

from hubflow.core.errors import HubflowError

__all__ = ["Cursor", "Limit", "decode_cursor", "page"]

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=200, description="page size")]
Cursor = Annotated[str | None, Query(max_length=200, description="from next_cursor")]


def encode_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("\x1f".join(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, parts: int = 1) -> list[str] | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        values = raw.split("\x1f")
        if len(values) != parts or any(not v or "\x00" in v for v in values):
            raise ValueError
        return values
    except ValueError as exc:
        raise HubflowError("the cursor is not one this API issued", code="invalid_cursor") from exc


def page(items: list[T], limit: int, key: Callable[[T], tuple[str, ...]]) -> dict[str, Any]:
    """``items`` was fetched with ``limit + 1`` rows; the extra one means there is more."""
    more = len(items) > limit
    items = items[:limit]
    return {
        "data": items,
        "next_cursor": encode_cursor(*key(items[-1])) if more and items else None,
    }
