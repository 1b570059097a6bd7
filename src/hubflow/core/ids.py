"""Time-sortable, prefixed identifiers (``ord_01J...``).

The body is a ULID (48-bit milliseconds + 80 random bits, Crockford base32), so
ids sort by creation time, which is what cursor pagination relies on.
"""

from __future__ import annotations

import os
import re
import threading
import time

__all__ = ["ID_PATTERN", "is_valid_id", "new_id"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_PATTERN = r"^[a-z]{2,5}_[0-9A-HJKMNP-TV-Z]{26}$"
_ID_RE = re.compile(ID_PATTERN)

_lock = threading.Lock()
_last_ms = -1
_last_rand = 0


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id(prefix: str, now_ms: int | None = None) -> str:
    """A new id; monotonic within a process even when called twice in one millisecond."""
    global _last_ms, _last_rand
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    with _lock:
        if ms <= _last_ms:
            ms = _last_ms
            rand = _last_rand + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _last_ms, _last_rand = ms, rand
    return f"{prefix}_{_encode(ms, 10)}{_encode(rand % (1 << 80), 16)}"


def is_valid_id(value: str, prefix: str | None = None) -> bool:
    if not _ID_RE.fullmatch(value):  # match() would let a trailing newline through
        return False
    return prefix is None or value.startswith(prefix + "_")
