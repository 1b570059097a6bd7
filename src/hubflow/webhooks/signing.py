"""HMAC-SHA256 signatures over ``"{timestamp}.{body}"``.

Header: ``Hubflow-Signature: t=1700000000,v1=<hex>``. Receivers recompute the
HMAC with their endpoint secret, compare in constant time, and reject
timestamps outside a tolerance to stop replays.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_HEADER", "SignatureError", "sign", "verify"]

SIGNATURE_HEADER = "Hubflow-Signature"


class SignatureError(ValueError):
    pass


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    msg = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now_ts: int, *, tolerance_s: int = 300) -> None:
    """Raise SignatureError unless ``header`` signs ``body`` with ``secret``."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        k, sep, v = item.strip().partition("=")
        if sep:
            parts.setdefault(k, []).append(v)
    try:
        ts = int(parts["t"][0])
    except (KeyError, ValueError) as exc:
        raise SignatureError("no timestamp in signature header") from exc
    if abs(now_ts - ts) > tolerance_s:
        raise SignatureError("timestamp outside tolerance")
    expected = _mac(secret, ts, body)
    if not any(hmac.compare_digest(expected, v) for v in parts.get("v1", [])):
        raise SignatureError("signature mismatch")
