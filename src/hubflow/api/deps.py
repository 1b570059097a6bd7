"""Request dependencies: the app's state and who is calling."""

from __future__ import annotations

import hmac
import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool

from hubflow.catalog.model import Role, hash_key
from hubflow.catalog.service import KEY_STILL_VALID, Principal, authenticate, get_merchant
from hubflow.core.clock import Clock
from hubflow.core.db import UnitOfWork
from hubflow.core.errors import Forbidden, NotFound, Unauthorized
from hubflow.core.idempotency import BoundGuard
from hubflow.core.ids import is_valid_id
from hubflow.core.settings import Settings
from hubflow.web.accounts import SESSION_COOKIE, session_user

__all__ = [
    "AnyCaller",
    "AppState",
    "Authorized",
    "MerchantCaller",
    "MerchantRechecked",
    "OperatorCaller",
    "State",
    "get_state",
    "known_merchant_key",
    "secret_of",
]


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    clock: Clock
    wake_relay: list[threading.Event] = field(default_factory=list)
    # Merchant keys this process has seen valid (key hash -> principal), for endpoints
    # that check the key again inside their own transaction (MerchantRechecked).
    seen_keys: dict[str, Principal] = field(default_factory=dict)

    def poke_relay(self) -> None:
        for ev in self.wake_relay:
            ev.set()


# Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def``
# dependency in the thread pool, and each such hop costs more CPU than the work.


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.hubflow
    return state


State = Annotated[AppState, Depends(get_state)]

_bearer = HTTPBearer(auto_error=False, description="an operator or merchant API key")


def _secret(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or not credentials.credentials:
        raise Unauthorized(
            "send an API key as 'Authorization: Bearer <key>'", code="missing_api_key"
        )
    secret = secret_of(credentials.credentials)
    if secret is None:
        raise Unauthorized("unknown API key", code="invalid_api_key")
    return secret


def secret_of(credentials: str) -> str | None:
    """The bearer credentials as a key to look up, or None if they cannot be one."""
    return None if len(credentials) > 200 or not credentials.isascii() else credentials


def _authenticate(state: AppState, secret: str) -> Principal:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return authenticate(uow.conn, secret, state.clock.now())


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _session_principal(state: AppState, request: Request, token: str) -> Principal:
    """The person logged in to the browser pages, for the JSON calls those pages make.
    A call that changes anything must carry the session's CSRF token in a header, which
    another site's form or script cannot read or send."""
    with UnitOfWork(state.engine, readonly=True) as uow:
        user = session_user(uow.conn, token, state.clock.now())
    if user is None:
        raise Unauthorized("the session has expired; log in again", code="session_expired")
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get("x-csrf-token", "")
        if not hmac.compare_digest(sent.encode(), user.csrf_token.encode()):
            raise Forbidden("send the page's CSRF token in X-CSRF-Token", code="csrf_failed")
    principal = user.principal()
    if principal is None:
        raise Forbidden("this account works on the hub screens only", code="role_forbidden")
    return principal


def _caller(
    state: State,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    # An API key always wins; the session cookie counts only when no key is sent.
    token = request.cookies.get(SESSION_COOKIE) if credentials is None else None
    if token:
        return _session_principal(state, request, token)
    return _authenticate(state, _secret(credentials))


OnBehalfOf = Annotated[
    str | None,
    Header(
        alias="Hubflow-Merchant",
        max_length=32,
        description="operator keys only: act for this merchant",
    ),
]


async def _operator(caller: Annotated[Principal, Depends(_caller)]) -> Principal:
    if caller.role is not Role.OPERATOR:
        raise Forbidden("this call needs the network operator's key", code="operator_only")
    return caller


async def _merchant(
    state: State,
    caller: Annotated[Principal, Depends(_caller)],
    on_behalf_of: OnBehalfOf = None,
) -> Principal:
    if caller.role is Role.MERCHANT:
        return caller
    if caller.role is not Role.OPERATOR:
        raise Forbidden("this call needs a merchant's or the operator's key", code="merchant_only")
    if on_behalf_of is None:
        raise Forbidden(
            "this call acts for a merchant: use a merchant key, or send Hubflow-Merchant",
            code="merchant_required",
        )
    if not is_valid_id(on_behalf_of, "mer"):
        raise NotFound(f"merchant {on_behalf_of} not found", code="merchant_not_found")
    if not await run_in_threadpool(_merchant_exists, state, on_behalf_of):
        raise NotFound(f"merchant {on_behalf_of} not found", code="merchant_not_found")
    return Principal(Role.MERCHANT, caller.key_id, on_behalf_of)


def _merchant_exists(state: AppState, merchant_id: str) -> bool:
    with UnitOfWork(state.engine, readonly=True) as uow:
        return get_merchant(uow.conn, merchant_id) is not None


@dataclass(frozen=True)
class Authorized:
    """A merchant principal; ``guard``, when set, must go into the claim of the
    endpoint's Idempotency-Key (its transaction's first statement) to confirm that the
    key is still valid."""

    principal: Principal
    guard: BoundGuard | None = None


async def _merchant_rechecked(
    state: State,
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    on_behalf_of: OnBehalfOf = None,
) -> Authorized:
    """``_merchant`` for hot endpoints: a merchant key this process has seen valid costs
    no thread hop and no connection here; the endpoint checks the key again in its own
    transaction, so a revocation (by any process) still takes effect at once."""
    token = request.cookies.get(SESSION_COOKIE) if credentials is None else None
    if token:
        by_session = await run_in_threadpool(_session_principal, state, request, token)
        return Authorized(await _merchant(state, by_session, on_behalf_of))
    secret = _secret(credentials)
    seen = known_merchant_key(state, secret)
    if seen is not None:
        return seen
    caller = await run_in_threadpool(_authenticate, state, secret)
    principal = await _merchant(state, caller, on_behalf_of)
    if caller.role is Role.MERCHANT:
        if len(state.seen_keys) >= 10_000:  # bounded: a key not seen again is dropped
            state.seen_keys.clear()
        state.seen_keys[hash_key(secret)] = principal
    return Authorized(principal)


def known_merchant_key(state: AppState, secret: str) -> Authorized | None:
    """A merchant key this process has seen valid, with the guard that checks it again
    in the endpoint's transaction; None for a key not seen (authenticate it first)."""
    key_hash = hash_key(secret)
    seen = state.seen_keys.get(key_hash)
    if seen is None:
        return None

    def recheck(conn: Connection) -> None:
        try:
            authenticate(conn, secret, state.clock.now())
        except Unauthorized:
            state.seen_keys.pop(key_hash, None)
            raise

    params = {"g_key_hash": key_hash, "g_now": state.clock.now()}
    return Authorized(seen, KEY_STILL_VALID.bind(params, recheck))


async def _courier(caller: Annotated[Principal, Depends(_caller)]) -> Principal:
    """A courier acting for themselves, or the operator acting for any courier (the
    dispatch desk, the digital twin)."""
    if caller.role not in (Role.COURIER, Role.OPERATOR):
        raise Forbidden("this call needs a courier's or the operator's key", code="courier_only")
    return caller


AnyCaller = Annotated[Principal, Depends(_caller)]
CourierCaller = Annotated[Principal, Depends(_courier)]
OperatorCaller = Annotated[Principal, Depends(_operator)]
MerchantCaller = Annotated[Principal, Depends(_merchant)]
MerchantRechecked = Annotated[Authorized, Depends(_merchant_rechecked)]
