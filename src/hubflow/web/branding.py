"""Merchants' branding for the customer-facing pages (white-label)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from hubflow.catalog.store import merchants_table
from hubflow.core.errors import InvalidInput, NotFound
from hubflow.core.upsert import insert_on_conflict
from hubflow.web.model import check_brand_colour
from hubflow.web.store import branding_table

__all__ = ["DEFAULT_PRIMARY", "brand_css", "get_branding", "set_branding"]

DEFAULT_PRIMARY, DEFAULT_ACCENT = "#0b5cad", "#8a3b00"
_LOGO = re.compile(
    r"^(/(?!/)[A-Za-z0-9._~/-]{0,500}|data:image/(png|jpeg|webp|svg\+xml);base64,[A-Za-z0-9+/=]+)$"
)


def get_branding(conn: Connection, merchant_id: str) -> dict[str, Any]:
    """The merchant's name, logo and colours; the network's own when none are set."""
    m = conn.execute(
        select(merchants_table.c.name).where(merchants_table.c.id == merchant_id)
    ).first()
    if m is None:
        raise NotFound(f"merchant {merchant_id} not found", code="merchant_not_found")
    b = conn.execute(
        select(branding_table).where(branding_table.c.merchant_id == merchant_id)
    ).first()
    if b is None:
        return {"merchant_id": merchant_id, "display_name": m.name, "logo_url": None,
                "primary_colour": DEFAULT_PRIMARY, "accent_colour": DEFAULT_ACCENT}  # fmt: skip
    return {
        "merchant_id": merchant_id,
        "display_name": b.display_name,
        "logo_url": b.logo_url,
        "primary_colour": b.primary_colour,
        "accent_colour": b.accent_colour,
    }


def set_branding(
    conn: Connection,
    merchant_id: str,
    *,
    display_name: str,
    logo_url: str | None,
    primary_colour: str,
    accent_colour: str,
    now: datetime,
) -> dict[str, Any]:
    name = display_name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput("a display name has 1 to 100 characters", code="invalid_name")
    logo = (logo_url or "").strip() or None
    if logo is not None and (len(logo) > 2000 or not _LOGO.fullmatch(logo)):
        raise InvalidInput(
            "a logo is a path on this site or a data:image URL (no other sites: the page "
            "loads nothing from elsewhere)",
            code="invalid_logo",
        )
    values = {
        "display_name": name,
        "logo_url": logo,
        # The primary colour is the header's background under white text; the accent is
        # text on white. Both must stay readable.
        "primary_colour": check_brand_colour(primary_colour),
        "accent_colour": check_brand_colour(accent_colour),
        "updated_at": now,
    }
    stmt = insert_on_conflict(conn, branding_table).values(merchant_id=merchant_id, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["merchant_id"], set_=values))
    return get_branding(conn, merchant_id)


def brand_css(brand: dict[str, Any]) -> str:
    # Colours were validated as #rrggbb on the way in, so they are safe in CSS.
    return (
        f":root {{ --brand: {brand['primary_colour']}; --brand-ink: #ffffff; "
        f"--accent: {brand['accent_colour']}; }}\n"
    )
