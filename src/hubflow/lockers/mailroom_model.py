"""Apartment mailroom rules as a pure model: units, standing resident codes and the
per-resident lock. A mailroom parcel has no code of its own: the resident of its unit
opens every compartment held for the unit with one standing code."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Any

__all__ = [
    "MAILROOM_HOLD",
    "RESIDENT_CODE_DIGITS",
    "ResidentStatus",
    "new_resident_code",
    "normalize_unit",
    "unit_from_address",
]

# Residents travel: a mailroom keeps parcels longer than a public locker (3 days).
MAILROOM_HOLD = timedelta(days=7)
# A standing code lives for months, so it is longer than a single-use one: 10^8 codes
# against at most 5 tries per resident and 20 per bank and 10 minutes.
RESIDENT_CODE_DIGITS = 8


class ResidentStatus(StrEnum):
    ACTIVE = "active"
    LOCKED = "locked"  # too many wrong codes: the operator unlocks (or rotates)
    REVOKED = "revoked"  # moved out; the unit can be registered again


_PREFIX = re.compile(r"^(?:APARTMENT|APT|UNIT|SUITE|STE|FLAT|NO|#)\.?\s*", re.IGNORECASE)
_UNIT = re.compile(r"^[A-Z0-9]{1,10}$")
# "400 Pine St Apt 4B", "12 Main St #7", "5 Elm Rd, Unit 12-C"
_IN_LINE = re.compile(
    r"(?:\bAPARTMENT|\bAPT|\bUNIT|\bSUITE|\bSTE|\bFLAT|#)\.?\s*([A-Z0-9][A-Z0-9-]{0,11})\s*$",
    re.IGNORECASE,
)


def normalize_unit(raw: str) -> str | None:
    """The canonical unit ("Apt. 4b", "#4-B" and "4B" are all "4B"), or None if it is
    not a plausible unit number."""
    s = _PREFIX.sub("", raw.strip()).upper()
    s = re.sub(r"[\s\-]", "", s)
    return s if _UNIT.match(s) else None


def unit_from_address(address: Mapping[str, Any]) -> str | None:
    """The unit an address names: line2 ("Apt 4B" or just "4B"), else a unit at the end
    of line1 ("400 Pine St #4B")."""
    line2 = address.get("line2")
    if isinstance(line2, str) and line2.strip():
        unit = normalize_unit(line2)
        if unit is not None:
            return unit
    line1 = address.get("line1")
    if isinstance(line1, str):
        m = _IN_LINE.search(line1.strip())
        if m:
            return normalize_unit(m.group(1))
    return None


def new_resident_code() -> str:
    return f"{secrets.randbelow(10**RESIDENT_CODE_DIGITS):0{RESIDENT_CODE_DIGITS}d}"
