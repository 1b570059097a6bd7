"""Accounts and branding rules (pure): roles, password hashes, session tokens, colours."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from enum import StrEnum

from hubflow.core.errors import InvalidInput

__all__ = [
    "WebRole",
    "check_brand_colour",
    "contrast_ratio",
    "hash_password",
    "hash_token",
    "new_token",
    "safe_next",
    "verify_password",
]


class WebRole(StrEnum):
    OPERATOR = "operator"
    MERCHANT = "merchant"
    HUB_STAFF = "hub_staff"
    COURIER = "courier"


# scrypt with n=2**14, r=8, p=1: ~16 MiB and tens of milliseconds per login, the
# parameters the Python docs and OWASP give for interactive logins.
_N, _R, _P = 2**14, 8, 1
MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            f"a password has at least {MIN_PASSWORD} characters", code="password_too_short"
        )
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    got = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return hmac.compare_digest(got.hex(), digest)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Session tokens carry 256 random bits: a fast hash is enough, as for API keys.
    return hashlib.sha256(token.encode()).hexdigest()


_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def _luminance(colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else float(((s + 0.055) / 1.055) ** 2.4)

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def check_brand_colour(colour: str, *, on: str = "#ffffff") -> str:
    """A merchant's colour, refused when text in it on ``on`` (or ``on`` text on it)
    would fail WCAG AA for normal text (4.5:1): the tracking page must stay readable."""
    if not _HEX.fullmatch(colour):
        raise InvalidInput("a colour is written #rrggbb", code="invalid_colour")
    ratio = contrast_ratio(colour, on)
    if ratio < 4.5:
        raise InvalidInput(
            f"{colour} on {on} has contrast {ratio:.2f}:1; at least 4.5:1 is needed",
            code="low_contrast",
            details={"ratio": round(ratio, 2)},
        )
    return colour.lower()


def safe_next(path: str | None) -> str | None:
    """A post-login redirect only to a path on this site (never ``//host`` or a URL)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return None
    if any(ch in path for ch in "\r\n\t"):
        return None
    return path
