"""The lean path for ``POST /v1/orders``: order intake without FastAPI's per-request work.

For a plain order, FastAPI's routing (a match against every route before it),
dependency solving (five dependencies, each with its own parameters) and request
set-up cost more CPU than placing the order. This ASGI layer sits just inside
the request middleware (request id, metrics, body limit) and answers the common
case itself: a merchant key this process has already seen valid, a well-formed
``Idempotency-Key``, a JSON body that ``OrderIn`` accepts. It then does what the
route does, through the same functions (``orders.api.place``, ``order_response``):
the same validation, service call, key re-check, metrics and response bytes.

Anything else goes to the route itself, with the body replayed: a key not seen
yet, a session cookie, an operator acting for a merchant, a body that does not
parse or validate, a header out of the common shape. So every error answer
(400, 401, 403, 413, 422) is FastAPI's own, and the schema stays the route's.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from typing import Any

import orjson
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hubflow.api.deps import AppState, known_merchant_key, secret_of
from hubflow.core.errors import HubflowError
from hubflow.orders.api import OrderIn, order_response, place, router

__all__ = ["OrderIntakePath", "error_response"]

PATH = "/v1/orders"
_ROUTE = next(
    r
    for r in router.routes
    if isinstance(r, APIRoute) and r.path == PATH and "POST" in (r.methods or ())
)
# The route's own header rules, or stricter: what fails here goes to the route.
_IDEMPOTENCY_KEY = re.compile(rb"[\x21-\x7e]{1,255}")


def error_response(exc: HubflowError) -> JSONResponse:
    """A HubflowError as the API answers it (the app's exception handler too)."""
    return JSONResponse(exc.to_json(), status_code=exc.status_code)


class OrderIntakePath:
    """Pure ASGI (see the module's docstring)."""

    def __init__(self, app: ASGIApp, concurrency: int = 0) -> None:
        self.app = app
        self.concurrency = concurrency
        # One gate per event loop (a semaphore belongs to the loop it first waits on).
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._gates = weakref.WeakKeyDictionary()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        body, rest = await _read_body(receive)
        request = None if rest is not None else _common_case(scope, headers, body)
        if request is None:
            await self.app(scope, _replay(body, rest, receive), send)
            return
        state, authorized, order, key = request
        scope["route"] = _ROUTE  # what the router would set: the request metrics' label
        try:
            if self.concurrency:
                loop = asyncio.get_running_loop()
                if (gate := self._gates.get(loop)) is None:
                    gate = self._gates[loop] = asyncio.Semaphore(self.concurrency)
                async with gate:  # first come, first served
                    placed = await run_in_threadpool(place, state, authorized, order, key)
            else:
                placed = await run_in_threadpool(place, state, authorized, order, key)
            response: Response = order_response(placed)
        except HubflowError as exc:
            response = error_response(exc)
        await response(scope, receive, send)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    """The first value of each header, as Starlette's ``Headers.get`` reads them."""
    out: dict[bytes, bytes] = {}
    for k, v in scope["headers"]:
        out.setdefault(k, v)
    return out


def _common_case(
    scope: Scope, headers: dict[bytes, bytes], body: bytes
) -> tuple[AppState, Any, OrderIn, str] | None:
    """What the route would take from the request, if it is the common case."""
    if b"hubflow-merchant" in headers or not body:
        return None
    content_type = headers.get(b"content-type", b"").lower()
    if content_type != b"application/json" and not content_type.startswith(b"application/json;"):
        return None
    key = headers.get(b"idempotency-key", b"")
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        return None
    scheme, _, credentials = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    secret = secret_of(credentials.strip())
    if scheme.lower() != "bearer" or not secret:
        return None
    state: AppState = scope["app"].state.hubflow
    authorized = known_merchant_key(state, secret)
    if authorized is None:
        return None
    try:
        order = OrderIn.model_validate(orjson.loads(body))
    except (orjson.JSONDecodeError, ValidationError):
        return None
    return state, authorized, order, key.decode("ascii")


async def _read_body(receive: Receive) -> tuple[bytes, Message | None]:
    """The request body; with the first message that is not a body chunk (a client
    that went away), which then goes to the route as it came."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None


def _replay(body: bytes, rest: Message | None, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": rest is not None}
        if rest is not None:
            return rest
        return await receive()

    return replay
