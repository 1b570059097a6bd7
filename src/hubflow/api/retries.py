"""Retry-safe POSTs for devices (scanners, courier apps): one transaction per call, and
with an ``Idempotency-Key`` a retried call replays the first answer instead of acting
twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header, Response

from hubflow.api.deps import AppState
from hubflow.core import idempotency
from hubflow.core.db import UnitOfWork

__all__ = ["OptionalIdempotencyKey", "run_once"]

OptionalIdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="a retried call with the same key replays the first answer",
    ),
]


def run_once(
    state: AppState,
    scope: str,
    key: str | None,
    path: str,
    body: Any,
    act: Callable[[UnitOfWork], dict[str, Any]],
    response: Response,
) -> dict[str, Any]:
    """Run ``act`` in one transaction; with a key, claim it first (in the same
    transaction) and store the answer, so a crash leaves neither half."""
    now = state.clock.now()
    with UnitOfWork(state.engine) as uow:
        if key is not None:
            fp = idempotency.body_fingerprint("POST", path, body)
            stored = idempotency.claim(uow.conn, scope, key, fp, now)
            if stored is not None:
                response.headers["Idempotent-Replayed"] = "true"
                replay: dict[str, Any] = stored.response
                return replay
        out = act(uow)
        if key is not None:
            idempotency.complete(uow.conn, scope, key, 200, out)
    state.poke_relay()
    return out
